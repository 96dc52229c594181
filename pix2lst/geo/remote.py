"""Remote scenes: an MTL URL in, a :class:`~pix2lst.geo.scene.Scene` of GDAL paths out.

A remote scene is given by the URL of its MTL file (``https://``, ``http://``,
``s3://`` or a ``/vsicurl/`` path). The MTL names every band file
(``FILE_NAME_BAND_4`` ...); each band's location is the GDAL path of the file next
to the MTL, which the readers open like a local file: GDAL fetches the header and
then only the blocks of the windows read (HTTP range requests), never the whole
file. Band locations stay strings: ``pathlib`` would collapse ``https://`` to
``https:/``.

Faults become :class:`~pix2lst.errors.RemoteError` (an ``OSError``) with the URL and
what to do; ``transient`` says whether a retry may help (an unreachable host, a
timeout) or not (HTTP 404, a server without range support).
"""

from __future__ import annotations

import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from pix2lst.errors import RemoteError
from pix2lst.geo.mtl import parse_mtl
from pix2lst.geo.scene import Scene, is_remote, scene_from_files

__all__ = [
    "check_ranges",
    "gdal_path",
    "is_remote",
    "raster_error",
    "read_error",
    "read_text",
    "remote_scene",
    "url_join",
]

log = logging.getLogger(__name__)

HTTP_TIMEOUT = 30
"""Seconds to wait for a server (connect and each read) before giving up."""


def _plain_url(location: str) -> str:
    """``https://...`` / ``s3://...`` for a ``/vsicurl/`` / ``/vsis3/`` path; others unchanged."""
    if location.startswith("/vsicurl/"):
        return location.removeprefix("/vsicurl/")
    if location.startswith("/vsis3/"):
        return "s3://" + location.removeprefix("/vsis3/")
    if location.startswith("/vsigs/"):
        return "gs://" + location.removeprefix("/vsigs/")
    return location


def gdal_path(location: str) -> str:
    """The GDAL path that reads ``location`` window by window.

    ``https://h/f.TIF`` -> ``/vsicurl/https://h/f.TIF``; ``s3://b/k`` -> ``/vsis3/b/k``
    (credentials from the usual AWS settings); ``gs://b/k`` -> ``/vsigs/b/k``; GDAL
    paths are kept.
    """
    if location.startswith("/vsi"):
        return location
    if location.startswith(("http://", "https://")):
        return "/vsicurl/" + location
    if location.startswith("s3://"):
        return "/vsis3/" + location.removeprefix("s3://")
    if location.startswith("gs://"):
        return "/vsigs/" + location.removeprefix("gs://")
    return location


def url_join(base: str, name: str) -> str:
    """The location of file ``name`` next to ``base`` (same scheme, same folder)."""
    if re.match(r"^[a-z][a-z0-9+.-]*://", name) or name.startswith("/vsi"):
        return name
    return base.rsplit("/", 1)[0] + "/" + name


def read_text(location: str, *, timeout: float = HTTP_TIMEOUT) -> str:
    """The text of a small remote file (an MTL, a STAC item): one HTTP GET.

    Raises :class:`RemoteError` naming the URL and the fault.
    """
    url = _plain_url(location)
    if url.startswith(("s3://", "gs://")):
        raise RemoteError(
            f"cannot fetch {location}: pix2lst reads metadata files over HTTP(S) only; give "
            "the https:// URL of the file (e.g. https://<bucket>.s3.amazonaws.com/<key>)",
        )
    if not url.startswith(("http://", "https://")):
        raise RemoteError(f"{location} is not an http(s):// or s3:// URL")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data: bytes = response.read()
    except urllib.error.HTTPError as exc:
        raise _http_error(url, exc.code) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RemoteError(
            f"cannot reach {url} ({reason}); check the URL and the network, then retry"
        ) from exc
    return data.decode("utf-8", errors="replace")


def _http_error(url: str, code: int, what: str = "file") -> RemoteError:
    transient = code >= 500 or code in (408, 429)
    hint = (
        "the server is busy or failing; retry later"
        if transient
        else "check the URL (is the file there?) and that it is public"
    )
    return RemoteError(f"HTTP {code} for {what} {url}: {hint}", transient=transient)


def raster_error(location: Any, exc: Exception, what: str = "raster") -> RemoteError | None:
    """A clear :class:`RemoteError` for GDAL's failure to open/read a remote ``location``.

    None when ``location`` is local (the caller raises its own error).
    """
    if not is_remote(str(location)):
        return None
    url = _plain_url(str(location))
    text = str(exc)
    match = re.search(r"HTTP response code: (\d+)", text)
    if match:
        return _http_error(url, int(match.group(1)), what)
    if "Range downloading not supported" in text:
        return RemoteError(
            f"the server of {url} does not support HTTP range requests, which reading a "
            f"{what} window by window needs; serve it from a server that does, or download "
            "the scene and give the local folder",
            transient=False,
        )
    return RemoteError(f"cannot read {what} {url}: {text}; check the URL and the network")


def check_ranges(location: str, *, timeout: float = HTTP_TIMEOUT) -> None:
    """Raise :class:`RemoteError` if the HTTP server of ``location`` ignores range requests.

    One GET of byte 0 (a server that answers 200 instead of 206 would send whole
    files to every window read; GDAL then fails mid-read with a decoding error).
    Non-HTTP locations and a missing file (reported when the band is opened) pass.
    """
    url = _plain_url(location)
    if not url.startswith(("http://", "https://")):
        return
    request = urllib.request.Request(url, headers={"Range": "bytes=0-0"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, OSError) as exc:
        raise RemoteError(f"cannot reach {url} ({getattr(exc, 'reason', exc)}); retry") from exc
    if status != 206:
        raise raster_error(url, OSError("Range downloading not supported"))  # type: ignore[misc]


def read_error(locations: Any, exc: Exception) -> Exception:
    """The error for a read that failed midway: a (transient) :class:`RemoteError` when any
    of ``locations`` is remote (the connection may have dropped), else ``exc`` itself."""
    remote = [str(loc) for loc in locations if is_remote(str(loc))]
    if not remote:
        return exc
    return RemoteError(
        f"reading {', '.join(_plain_url(r) for r in remote)} failed midway ({exc}); the "
        "connection may have dropped: retry"
    )


def remote_scene(url: str) -> Scene:
    """The scene whose MTL (``.txt``, ``.json`` or ``.xml``) is at ``url``.

    Bands are the files the MTL names (``FILE_NAME_BAND_*``, ``FILE_NAME_QUALITY_*``),
    found next to the MTL; nothing but the MTL is fetched here.
    """
    plain = _plain_url(url)
    mtl = parse_mtl(read_text(plain), plain)
    files = [(name, gdal_path(url_join(plain, name))) for name in mtl.file_names.values()]
    name = plain.rsplit("/", 1)[-1]
    prefix = re.sub(r"MTL\.(txt|json|xml)$", "", name, flags=re.IGNORECASE)
    scene = scene_from_files(plain.rsplit("/", 1)[0], mtl, files, prefix)
    check_ranges(str(next(iter(scene.bands.values()))))
    log.debug("remote scene %s: %d band files", mtl.scene_id, len(scene.bands))
    return scene
