/* pix2lst offline viewer: synchronised Leaflet panes over one raster grid.
 * Coordinates: L.CRS.Simple with lat = -row, lng = col of the display grid, so
 * zoom 0 shows one display pixel per screen pixel and the pixel under the
 * cursor is (floor(-lat), floor(lng)). Readout values arrive as zlib-deflated
 * uint16 (0 = nodata, else offset + scale * q, kelvin), inflated here with the
 * browser's own DecompressionStream; map x/y come from the affine transform and
 * latitude/longitude from a lattice of exact nodes (bilinear in between). */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("pix2lst-data").textContent);
  var H = cfg.height, W = cfg.width, K0 = 273.15;
  var bounds = L.latLngBounds([[-H, 0], [0, W]]);

  function inflate(b64) {
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Response(stream).arrayBuffer();
  }
  function decode(enc) { // high-byte plane, low-byte plane; each row delta-coded from the left
    return inflate(enc.data).then(function (buf) {
      var b = new Uint8Array(buf), n = W * H, out = new Float32Array(n);
      for (var r = 0; r < H; r++) {
        var q = 0;
        for (var c = 0; c < W; c++) {
          var k = r * W + c;
          q = (q + ((b[k] << 8) | b[n + k])) & 0xffff;
          out[k] = q === 0 ? NaN : enc.offset + enc.scale * q;
        }
      }
      return out;
    });
  }
  function colourise(values, layer) { // the layer's 255-colour table over vmin..vmax; NaN transparent
    var lut = layer.lut.map(function (h) {
      return [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];
    });
    var canvas = document.createElement("canvas"); canvas.width = W; canvas.height = H;
    var ctx = canvas.getContext("2d"), img = ctx.createImageData(W, H), px = img.data;
    var lo = layer.vmin, span = layer.vmax - layer.vmin;
    for (var k = 0; k < values.length; k++) {
      var v = values[k];
      if (isNaN(v)) { px[4 * k + 3] = 0; continue; }
      var f = Math.min(Math.max((v - lo) / span, 0), 1), c = lut[Math.round(f * 254)];
      px[4 * k] = c[0]; px[4 * k + 1] = c[1]; px[4 * k + 2] = c[2]; px[4 * k + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    return canvas.toDataURL("image/png");
  }
  function celsius(v) { return isNaN(v) ? "nodata" : (v - K0).toFixed(2) + " \u00b0C"; }
  function kelvinDiff(v) { return isNaN(v) ? "nodata" : (v >= 0 ? "+" : "") + v.toFixed(2) + " K"; }

  // Colour bars: the shared LST scale, and the difference scale when there is a difference pane.
  var bars = document.getElementById("colorbars");
  cfg.colorbars.forEach(function (cb) {
    var box = document.createElement("div"); box.className = "colorbar";
    var label = document.createElement("div"); label.className = "colorbar-label";
    label.textContent = cb.label;
    var ramp = document.createElement("div"); ramp.className = "colorbar-ramp";
    ramp.style.background = "linear-gradient(to right, " + cb.stops.join(", ") + ")";
    // an end of the scale that clips data is an arrow in that end's colour (matplotlib's extend)
    Object.keys(cb.arrows || {}).forEach(function (end) {
      var arrow = document.createElement("div");
      arrow.className = "colorbar-arrow colorbar-arrow-" + end;
      arrow.style.setProperty(end === "min" ? "border-right-color" : "border-left-color", cb.arrows[end]);
      ramp.appendChild(arrow);
    });
    var ticks = document.createElement("div"); ticks.className = "colorbar-ticks";
    cb.ticks.forEach(function (tk) {
      var s = document.createElement("span");
      s.style.left = (100 * tk[0]).toFixed(2) + "%"; s.textContent = tk[1];
      ticks.appendChild(s);
    });
    box.appendChild(label); box.appendChild(ramp); box.appendChild(ticks);
    bars.appendChild(box);
  });
  document.getElementById("note").textContent = cfg.note;

  // A scale bar that follows the zoom: a round length (1, 2, 5 x 10^k m) of at most 120 px.
  var ScaleBar = L.Control.extend({
    options: { position: "bottomleft" },
    onAdd: function (map) {
      var div = L.DomUtil.create("div", "pix2lst-scale");
      var bar = L.DomUtil.create("div", "pix2lst-scale-bar", div);
      var text = L.DomUtil.create("span", "pix2lst-scale-text", div);
      function update() {
        var mpp = cfg.pixel_size_m / Math.pow(2, map.getZoom());
        var max = 120 * mpp, p = Math.pow(10, Math.floor(Math.log10(max)));
        var len = [5, 2, 1].map(function (m) { return m * p; }).filter(function (v) { return v <= max; })[0] || p;
        bar.style.width = (len / mpp).toFixed(1) + "px";
        text.textContent = len >= 1000 ? len / 1000 + " km" : len + " m";
      }
      map.on("zoom", update); update();
      return div;
    }
  });

  var panesEl = document.getElementById("panes");
  var panes = cfg.layers.map(function (layer, i) {
    var pane = document.createElement("section");
    pane.className = "pane pane-" + layer.kind; pane.id = "pane-" + i;
    var label = document.createElement("div");
    label.className = "pane-label"; label.id = "label-" + i;
    var name = document.createElement("div"); name.className = "pane-name";
    name.textContent = layer.label; label.appendChild(name);
    if (layer.title && layer.title !== layer.label) {
      var t = document.createElement("div"); t.className = "pane-title";
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
      crs: L.CRS.Simple, minZoom: -6, maxZoom: 8, zoomSnap: 0, zoomDelta: 0.5,
      wheelPxPerZoomLevel: 120, zoomAnimation: false, fadeAnimation: false,
      attributionControl: false
    });
    if (cfg.pixel_size_m) new ScaleBar().addTo(map);
    var blank = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";
    var image = L.imageOverlay(layer.image || blank, bounds, { className: "pix2lst-image" }).addTo(map);
    var marker = L.circleMarker([0, 0], {
      radius: 5, color: layer.kind === "rgb" ? "#fff" : "#000", weight: 2, fill: false,
      interactive: false, opacity: 0
    }).addTo(map);
    return { el: pane, label: label, mapEl: mapEl, map: map, image: image, marker: marker, readout: readout,
             values: null, layer: layer };
  });

  // Lay the panes out so that the image is as large as it can be, and size each map to the
  // image's aspect: no empty band beside or below the picture.
  var fitted = false;
  function layout() {
    var n = panes.length, gap = 6;
    var availW = panesEl.clientWidth - 2 * gap, availH = panesEl.clientHeight - 2 * gap;
    var overhead = 0;
    for (var pass = 0; pass < 2; pass++) {
      var best = null;
      for (var cols = 1; cols <= n; cols++) {
        var rows = Math.ceil(n / cols);
        var cellW = (availW - gap * (cols - 1)) / cols - 2;
        var mapH = (availH - gap * (rows - 1)) / rows - overhead - 2;
        var s = Math.min(cellW / W, mapH / H);
        if (!best || s > best.s) best = { s: s, cols: cols };
      }
      var mw = Math.max(120, Math.floor(W * best.s)), mh = Math.max(120, Math.floor(H * best.s));
      panes.forEach(function (p) {
        p.el.style.width = mw + "px"; p.mapEl.style.height = mh + "px"; p.label.style.height = "auto";
      });
      var lh = Math.max.apply(null, panes.map(function (p) { return p.label.offsetHeight; }));
      panes.forEach(function (p) { p.label.style.height = lh + "px"; }); // equal labels: maps line up
      panesEl.style.gridTemplateColumns = "repeat(" + best.cols + ", " + mw + "px)";
      overhead = Math.max.apply(null, panes.map(function (p) { return p.el.offsetHeight - p.mapEl.offsetHeight; }));
    }
    panes.forEach(function (p) { p.map.invalidateSize({ pan: false }); });
    if (!fitted) { panes[0].map.fitBounds(bounds, { padding: [0, 0] }); fitted = true; }
  }

  // Synchronise centre and zoom: whichever pane moves, the others follow.
  var syncing = false;
  panes.forEach(function (p) {
    p.map.on("move zoom moveend zoomend", function () {
      if (syncing) return;
      syncing = true;
      var c = p.map.getCenter(), z = p.map.getZoom();
      panes.forEach(function (o) { if (o !== p) o.map.setView(c, z, { animate: false }); });
      syncing = false;
    });
  });
  window.addEventListener("resize", layout);
  layout();

  var t = cfg.transform; // display grid: x = a*col + b*row + c, y = d*col + e*row + f
  function lonlat(col, row) { // bilinear in the lattice of exact nodes (pixel-corner coordinates)
    var ll = cfg.lonlat; if (!ll) return null;
    var n = ll.n, u = col / W * (n - 1), v = row / H * (n - 1);
    var i = Math.min(Math.max(Math.floor(v), 0), n - 2), j = Math.min(Math.max(Math.floor(u), 0), n - 2);
    var fu = u - j, fv = v - i;
    function at(arr) {
      var a = arr[i * n + j], b = arr[i * n + j + 1], c = arr[(i + 1) * n + j], d = arr[(i + 1) * n + j + 1];
      return (a * (1 - fu) + b * fu) * (1 - fv) + (c * (1 - fu) + d * fu) * fv;
    }
    return [at(ll.lon), at(ll.lat)];
  }
  function fmtLonLat(p) {
    return Math.abs(p[1]).toFixed(5) + "\u00b0" + (p[1] >= 0 ? "N" : "S") + ", " +
      Math.abs(p[0]).toFixed(5) + "\u00b0" + (p[0] >= 0 ? "E" : "W");
  }

  var lst = [];
  var status = document.getElementById("status");
  function update(row, col) {
    var inside = row >= 0 && row < H && col >= 0 && col < W;
    var k = row * W + col;
    panes.forEach(function (p) {
      if (!inside) { p.readout.textContent = "\u00a0"; p.marker.setStyle({ opacity: 0 }); return; }
      p.marker.setLatLng([-(row + 0.5), col + 0.5]).setStyle({ opacity: 0.9 });
      if (p.layer.kind === "diff") {
        p.readout.textContent = p.values ? kelvinDiff(p.values[k]) : "\u2026";
      } else if (p.layer.kind === "lst") {
        p.readout.textContent = p.values ? celsius(p.values[k]) : "\u2026";
      } else {
        p.readout.textContent = lst.map(function (l) { return l.label + ": " + celsius(l.values[k]); }).join("  \u00b7  ");
      }
    });
    if (inside) {
      var cx = col + 0.5, cy = row + 0.5;
      var x = t[0] * cx + t[1] * cy + t[2], y = t[3] * cx + t[4] * cy + t[5];
      var geo = lonlat(cx, cy);
      status.textContent = (geo ? fmtLonLat(geo) + "  \u00b7  " : "") + "x " + x.toFixed(1) +
        ", y " + y.toFixed(1) + (cfg.crs ? " (" + cfg.crs + ")" : "") + "  \u00b7  row " + row +
        ", col " + col + " (display grid; source row " + Math.floor(cy * cfg.source_height / H) +
        ", col " + Math.floor(cx * cfg.source_width / W) + ")";
    }
  }
  panes.forEach(function (p) {
    p.map.on("mousemove", function (e) { update(Math.floor(-e.latlng.lat), Math.floor(e.latlng.lng)); });
    p.map.on("mouseout", function () { update(-1, -1); });
  });

  Promise.all(panes.map(function (p) {
    if (!p.layer.values) return null;
    return decode(p.layer.values).then(function (v) {
      p.values = v;
      return new Promise(function (resolve) {
        p.image.once("load", resolve);
        p.image.setUrl(colourise(v, p.layer));
      });
    });
  })).then(function () {
    panes.forEach(function (p) { if (p.layer.kind === "lst") lst.push({ label: p.layer.label, values: p.values }); });
    window.pix2lst = { maps: panes.map(function (p) { return p.map; }), config: cfg, lst: lst,
                       update: update, layout: layout, lonlat: lonlat };
  }, function (err) {
    status.textContent = "could not decode the readout values: " + err;
  });
})();
