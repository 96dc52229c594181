/* pix2lst offline viewer: synchronised Leaflet panes over one raster grid.
 * Coordinates: L.CRS.Simple with lat = -row, lng = col of the display grid, so
 * zoom 0 shows one display pixel per screen pixel and the pixel under the
 * cursor is (floor(-lat), floor(lng)). Temperatures are float32 kelvin, NaN = nodata. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("pix2lst-data").textContent);
  var H = cfg.height, W = cfg.width, K0 = 273.15;
  var bounds = L.latLngBounds([[-H, 0], [0, W]]);

  function decode(b64) {
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Float32Array(bytes.buffer);
  }
  function celsius(v) { return isNaN(v) ? "nodata" : (v - K0).toFixed(2) + " \u00b0C"; }

  // Colour bar (shared by every temperature pane).
  var cb = cfg.colorbar;
  document.getElementById("colorbar-label").textContent = cb.label;
  document.getElementById("colorbar-ramp").style.background =
    "linear-gradient(to right, " + cb.stops.join(", ") + ")";
  var ticks = document.getElementById("colorbar-ticks");
  cb.ticks.forEach(function (tk) {
    var s = document.createElement("span");
    s.style.left = (100 * tk[0]).toFixed(2) + "%"; s.textContent = tk[1];
    ticks.appendChild(s);
  });
  document.getElementById("note").textContent = cfg.note;

  var lst = [];
  var panesEl = document.getElementById("panes");
  var panes = cfg.layers.map(function (layer, i) {
    var pane = document.createElement("section");
    pane.className = "pane"; pane.id = "pane-" + i;
    var label = document.createElement("div");
    label.className = "pane-label"; label.textContent = layer.label;
    if (layer.title && layer.title !== layer.label) {
      var t = document.createElement("span"); t.className = "pane-title";
      t.textContent = layer.title; label.appendChild(t);
    }
    var mapEl = document.createElement("div");
    mapEl.className = "pane-map"; mapEl.id = "map-" + i;
    var readout = document.createElement("div");
    readout.className = "pane-readout"; readout.id = "readout-" + i;
    readout.textContent = "\u00a0";
    pane.appendChild(label); pane.appendChild(mapEl); pane.appendChild(readout);
    panesEl.appendChild(pane);
    var map = L.map(mapEl, {
      crs: L.CRS.Simple, minZoom: -6, maxZoom: 8, zoomSnap: 0.25, zoomDelta: 0.5,
      wheelPxPerZoomLevel: 120, zoomAnimation: false, fadeAnimation: false,
      attributionControl: false
    });
    var image = L.imageOverlay(layer.png, bounds, { className: "pix2lst-image" }).addTo(map);
    var marker = L.circleMarker([0, 0], {
      radius: 5, color: layer.values ? "#000" : "#fff", weight: 2, fill: false,
      interactive: false, opacity: 0
    }).addTo(map);
    var values = layer.values ? decode(layer.values) : null;
    if (values) lst.push({ label: layer.label, values: values });
    return { map: map, image: image, marker: marker, readout: readout, values: values, layer: layer };
  });

  // Synchronise centre and zoom: whichever pane moves, the others follow.
  var syncing = false;
  panes.forEach(function (p) {
    p.map.on("move zoom", function () {
      if (syncing) return;
      syncing = true;
      var c = p.map.getCenter(), z = p.map.getZoom();
      panes.forEach(function (o) { if (o !== p) o.map.setView(c, z, { animate: false }); });
      syncing = false;
    });
  });
  // Leaflet caches its container size: refresh it whenever the layout changes.
  function resize() {
    panes.forEach(function (p) { p.map.invalidateSize({ pan: false }); });
  }
  window.addEventListener("resize", resize);
  if (window.ResizeObserver) new ResizeObserver(resize).observe(panesEl);
  resize();
  panes[0].map.fitBounds(bounds);

  var t = cfg.transform; // display grid: x = a*col + b*row + c, y = d*col + e*row + f
  var status = document.getElementById("status");
  function update(row, col, latlng) {
    var inside = row >= 0 && row < H && col >= 0 && col < W;
    var k = row * W + col;
    panes.forEach(function (p) {
      if (!inside) { p.readout.textContent = "\u00a0"; p.marker.setStyle({ opacity: 0 }); return; }
      p.marker.setLatLng([-(row + 0.5), col + 0.5]).setStyle({ opacity: 0.9 });
      if (p.values) {
        p.readout.textContent = celsius(p.values[k]);
      } else {
        p.readout.textContent = lst.map(function (l) { return l.label + ": " + celsius(l.values[k]); }).join("  \u00b7  ");
      }
    });
    if (inside) {
      var x = t[0] * (col + 0.5) + t[1] * (row + 0.5) + t[2];
      var y = t[3] * (col + 0.5) + t[4] * (row + 0.5) + t[5];
      status.textContent = "row " + row + ", col " + col + " (display grid; source row " +
        Math.floor((row + 0.5) * cfg.source_height / H) + ", col " +
        Math.floor((col + 0.5) * cfg.source_width / W) + ")  \u00b7  x " + x.toFixed(1) +
        ", y " + y.toFixed(1) + (cfg.crs ? " (" + cfg.crs + ")" : "");
    }
  }
  panes.forEach(function (p) {
    p.map.on("mousemove", function (e) {
      update(Math.floor(-e.latlng.lat), Math.floor(e.latlng.lng), e.latlng);
    });
    p.map.on("mouseout", function () { update(-1, -1, null); });
  });

  window.pix2lst = { maps: panes.map(function (p) { return p.map; }), config: cfg, lst: lst, update: update };
})();
