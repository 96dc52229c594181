"""Remote scenes: an MTL URL in, a :class:`~pix2lst.geo.scene.Scene` of GDAL paths out.

A remote scene is given by the URL of its MTL file (``https://``, ``http://``,
``s3://`` or a ``/vsicurl/`` / ``/vsis3/`` path). The MTL names every band file
(``FILE_NAME_BAND_4`` ...); each band's location is the GDAL path of the file next
to the MTL (with the MTL URL's query string, so that a signed or tokenised URL
keeps working), which the readers open like a local file: GDAL fetches the header
and then only the blocks of the windows read (HTTP range requests), never the
whole file. Band locations stay strings: ``pathlib`` would collapse ``https://``
to ``https:/``.

No remote read waits forever: :func:`use_remote_settings` gives GDAL's HTTP reads
a connect timeout, a stall timeout (a transfer slower than one byte a second for
that long is abandoned), an overall timeout and bounded retries, and the metadata
fetch of :func:`read_text` keeps the same limits (:class:`HttpLimits`). Settings
the user gave in the environment always win.

``s3://`` locations are read by GDAL's ``/vsis3/`` (rasters) and boto3 (the MTL and
STAC text; the ``s3`` extra), both configured from the standard AWS settings:
credentials and profile, ``AWS_REGION``, ``AWS_ENDPOINT_URL_S3`` /
``AWS_ENDPOINT_URL`` (an S3-compatible server; GDAL's own ``AWS_S3_ENDPOINT`` and
``AWS_HTTPS`` are derived from it) and ``AWS_NO_SIGN_REQUEST=YES`` for public buckets.

Faults become :class:`~pix2lst.errors.RemoteError` (an ``OSError``) with the URL and
what to do; ``transient`` says whether a retry may help (an unreachable host, a
timeout, a stalled transfer) or not (HTTP 404, a server without range support).
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pix2lst.errors import RemoteError
from pix2lst.geo.mtl import parse_mtl
from pix2lst.geo.scene import Scene, is_remote, scene_from_files, url_name

__all__ = [
    "HttpLimits",
    "check_ranges",
    "gdal_path",
    "http_limits",
    "is_remote",
    "plain_url",
    "raster_error",
    "read_error",
    "read_text",
    "remote_scene",
    "url_join",
    "use_remote_settings",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HttpLimits:
    """How long a remote read may wait and how often it is retried.

    ``connect_timeout``: seconds to open a connection; ``stall_time``: seconds a
    transfer may stay below one byte a second before it is abandoned (a server that
    stops answering mid-read); ``timeout``: seconds one request may take in all
    (generous: a strip of a full-size band is many megabytes); ``retries`` and
    ``retry_delay``: how often a request that failed for a reason a retry may help
    (HTTP 429/5xx, a timeout) is repeated, the delay doubling each time.
    """

    connect_timeout: float = 30.0
    stall_time: float = 30.0
    timeout: float = 600.0
    retries: int = 3
    retry_delay: float = 1.0

    def gdal_options(self) -> dict[str, str]:
        """The GDAL configuration options that apply these limits to ``/vsicurl/`` and
        ``/vsis3/`` reads."""
        return {
            "GDAL_HTTP_CONNECTTIMEOUT": f"{self.connect_timeout:g}",
            "GDAL_HTTP_LOW_SPEED_TIME": f"{self.stall_time:g}",
            "GDAL_HTTP_LOW_SPEED_LIMIT": "1",
            "GDAL_HTTP_TIMEOUT": f"{self.timeout:g}",
            "GDAL_HTTP_MAX_RETRY": str(self.retries),
            "GDAL_HTTP_RETRY_DELAY": f"{self.retry_delay:g}",
        }


_LIMIT_ENV = {
    "connect_timeout": "GDAL_HTTP_CONNECTTIMEOUT",
    "stall_time": "GDAL_HTTP_LOW_SPEED_TIME",
    "timeout": "GDAL_HTTP_TIMEOUT",
    "retries": "GDAL_HTTP_MAX_RETRY",
    "retry_delay": "GDAL_HTTP_RETRY_DELAY",
}


def http_limits() -> HttpLimits:
    """The limits in force now: the ``GDAL_HTTP_*`` environment variables where set (read
    at each call, not at import), :class:`HttpLimits`' defaults otherwise."""
    values: dict[str, Any] = {}
    for name, key in _LIMIT_ENV.items():
        text = os.environ.get(key, "").strip()
        if not text:
            continue
        try:
            values[name] = int(text) if name == "retries" else float(text)
        except ValueError:
            raise RemoteError(
                f"{key}={text!r} in the environment is not a number; set it to seconds "
                "(a count for GDAL_HTTP_MAX_RETRY) or unset it",
                transient=False,
            ) from None
    return HttpLimits(**values)


_set_by_us: dict[str, str] = {}
_settings_lock = threading.Lock()


def _s3_gdal_options() -> dict[str, str]:
    """GDAL's ``/vsis3/`` endpoint options from the standard ``AWS_ENDPOINT_URL[_S3]``."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        return {}
    parts = urllib.parse.urlsplit(endpoint)
    if not parts.netloc:
        raise RemoteError(
            f"AWS_ENDPOINT_URL {endpoint!r} is not a URL; give e.g. http://127.0.0.1:9000",
            transient=False,
        )
    return {
        "AWS_S3_ENDPOINT": parts.netloc + parts.path.rstrip("/"),
        "AWS_HTTPS": "NO" if parts.scheme == "http" else "YES",
        "AWS_VIRTUAL_HOSTING": "FALSE",  # custom endpoints serve bucket/key paths
    }


def use_remote_settings() -> HttpLimits:
    """Give every GDAL remote read of this process its limits and S3 endpoint; the limits.

    Set as process environment defaults (GDAL reads its configuration from the
    environment in every thread, the pipeline's reader threads and Dask's included),
    and only where the user has not set the variable: a value set outside pix2lst
    always wins. Called whenever a remote input is resolved.
    """
    limits = http_limits()
    wanted = {**limits.gdal_options(), **_s3_gdal_options()}
    with _settings_lock:
        for key, value in wanted.items():
            current = os.environ.get(key)
            if current is None or current == _set_by_us.get(key):
                os.environ[key] = value
                _set_by_us[key] = value
        for key in [k for k in _set_by_us if k not in wanted]:  # e.g. an endpoint unset since
            if os.environ.get(key) == _set_by_us.pop(key):
                del os.environ[key]
    return limits


def plain_url(location: str) -> str:
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

    ``https://h/f.TIF`` -> ``/vsicurl/https://h/f.TIF`` (a query string kept);
    ``s3://b/k`` -> ``/vsis3/b/k`` (credentials from the usual AWS settings);
    ``gs://b/k`` -> ``/vsigs/b/k``; GDAL paths are kept.
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
    """The location of file ``name`` next to ``base`` (same scheme, folder and query string).

    ``https://h/a/x_MTL.txt?sig=1`` + ``x_B4.TIF`` -> ``https://h/a/x_B4.TIF?sig=1``: the
    query of a signed or tokenised folder URL is what authorises its other files.
    """
    if re.match(r"^[a-z][a-z0-9+.-]*://", name) or name.startswith("/vsi"):
        return name
    parts = urllib.parse.urlsplit(base)
    if not parts.scheme or len(parts.scheme) == 1:  # a GDAL or local path: no query part
        return posixpath.normpath(base.rsplit("/", 1)[0] + "/" + name)
    path = posixpath.normpath(parts.path.rsplit("/", 1)[0] + "/" + name)  # ./ and ../
    return urllib.parse.urlunsplit(parts._replace(path=path, fragment=""))


def _html(data: bytes, content_type: str) -> bool:
    head = data[:512].lstrip().lower()
    return "html" in content_type.lower() or head.startswith((b"<!doctype html", b"<html"))


def _not_html(url: str, data: bytes, content_type: str) -> None:
    if _html(data, content_type):
        raise RemoteError(
            f"{url} returned an HTML page (a folder listing or a login page), not a metadata "
            "file; give the URL of the MTL file (..._MTL.txt) or of the STAC item (.json)",
            transient=False,
        )


def read_text(location: str, *, limits: HttpLimits | None = None) -> str:
    """The text of a small remote file (an MTL, a STAC item): HTTP(S) or S3.

    ``limits`` (default :func:`http_limits`): a connection or a transfer that stalls
    fails after the stall time, the whole fetch after the timeout; HTTP 429/5xx and
    stalls are retried (an unreachable host is reported at once). Raises :class:`RemoteError` naming the URL and the fault,
    also when the server answers with an HTML page instead of the file.
    """
    url = plain_url(location)
    limits = limits or use_remote_settings()
    if url.startswith("s3://"):
        return _read_s3(url, limits)
    if not url.startswith(("http://", "https://")):
        raise RemoteError(f"{location} is not an http(s):// or s3:// URL", transient=False)
    attempt = 0
    while True:
        try:
            data, content_type = _get(url, limits)
        except _Retry as retry:
            if attempt >= limits.retries:
                raise retry.error from None
            delay = limits.retry_delay * 2**attempt
            log.info("%s; retrying in %g s", retry.error, delay)
            time.sleep(delay)
            attempt += 1
            continue
        _not_html(url, data, content_type)
        return data.decode("utf-8", errors="replace")


class _Retry(Exception):
    """A fetch that failed for a reason a retry may help (HTTP 429/5xx, a stall)."""

    def __init__(self, error: RemoteError) -> None:
        super().__init__(str(error))
        self.error = error


def _get(url: str, limits: HttpLimits) -> tuple[bytes, str]:
    """One GET of ``url``: body and content type, under ``limits``.

    Raises :class:`_Retry` where a retry may help, :class:`RemoteError` otherwise (a
    refused connection or an unknown host is reported at once).
    """
    deadline = time.monotonic() + limits.timeout
    chunks: list[bytes] = []
    try:
        # the socket timeout bounds the connection and each wait for more bytes
        wait = min(limits.connect_timeout, limits.stall_time)
        with urllib.request.urlopen(url, timeout=max(wait, 0.1)) as response:
            content_type = response.headers.get("Content-Type", "")
            while chunk := response.read(1 << 16):
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"not finished after {limits.timeout:g} s")
    except urllib.error.HTTPError as exc:
        error = _http_error(url, exc.code)
        if error.transient:
            raise _Retry(error) from None
        raise error from None
    except TimeoutError as exc:
        raise _Retry(
            RemoteError(
                f"{url} stalled ({exc or 'timed out'}); the server stopped answering: retry "
                "later, or raise GDAL_HTTP_LOW_SPEED_TIME / GDAL_HTTP_TIMEOUT"
            )
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RemoteError(
            f"cannot reach {url} ({reason}); check the URL and the network, then retry"
        ) from None
    return b"".join(chunks), content_type


def _s3_client(limits: HttpLimits) -> Any:
    """A boto3 S3 client from the standard AWS settings, under ``limits``."""
    try:
        import boto3
        import botocore
        from botocore.config import Config
    except ImportError:
        raise RemoteError(
            "reading s3:// metadata needs boto3: pip install 'pix2lst[s3]'", transient=False
        ) from None
    options: dict[str, Any] = {
        "connect_timeout": limits.connect_timeout,
        "read_timeout": limits.stall_time,
        "retries": {"max_attempts": limits.retries + 1, "mode": "standard"},
    }
    if os.environ.get("AWS_NO_SIGN_REQUEST", "").upper() in ("YES", "TRUE", "ON", "1"):
        options["signature_version"] = botocore.UNSIGNED
    endpoint = None
    if not (os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")):
        gdal_endpoint = os.environ.get("AWS_S3_ENDPOINT")  # GDAL's own spelling, if given
        if gdal_endpoint and gdal_endpoint != _set_by_us.get("AWS_S3_ENDPOINT"):
            https = os.environ.get("AWS_HTTPS", "YES").upper() not in ("NO", "FALSE", "OFF")
            endpoint = ("https://" if https else "http://") + gdal_endpoint
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint, config=Config(**options))


def _read_s3(url: str, limits: HttpLimits) -> str:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise RemoteError(f"{url} names no object; give s3://bucket/key", transient=False)
    client = _s3_client(limits)
    try:
        import botocore.exceptions as bex

        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        data: bytes = body.read()
    except bex.ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in ("NoSuchKey", "NoSuchBucket", "404") or status == 404:
            hint = (
                "give the URL of the MTL file (..._MTL.txt) or of the STAC item (.json)"
                if key.endswith("/")
                else "check the bucket and key"
            )
            raise RemoteError(
                f"{url} does not exist ({code or status}); {hint}", transient=False
            ) from None
        if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"):
            raise RemoteError(
                f"access to {url} was denied ({code}); set AWS credentials (or "
                "AWS_NO_SIGN_REQUEST=YES for a public bucket)",
                transient=False,
            ) from None
        raise RemoteError(f"cannot read {url} ({code or exc}); retry") from None
    except bex.NoCredentialsError:
        raise RemoteError(
            f"no AWS credentials to read {url}; set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
            "or AWS_PROFILE, or AWS_NO_SIGN_REQUEST=YES for a public bucket",
            transient=False,
        ) from None
    except (bex.BotoCoreError, OSError) as exc:
        raise RemoteError(f"cannot reach {url} ({exc}); check the endpoint and retry") from None
    _not_html(url, data, "")
    return data.decode("utf-8", errors="replace")


def _http_error(url: str, code: int, what: str = "file") -> RemoteError:
    transient = code >= 500 or code in (408, 429)
    hint = (
        "the server is busy or failing; retry later"
        if transient
        else "check the URL (is the file there?) and that it is public"
    )
    return RemoteError(f"HTTP {code} for {what} {url}: {hint}", transient=transient)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def raster_error(location: Any, exc: Exception, what: str = "raster") -> RemoteError | None:
    """A clear :class:`RemoteError` for GDAL's failure to open/read a remote ``location``.

    None when ``location`` is local (the caller raises its own error).
    """
    if not is_remote(str(location)):
        return None
    url = plain_url(str(location))
    text = _one_line(str(exc))
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
    if re.search(r"timed out|timeout", text, re.IGNORECASE):
        return RemoteError(
            f"{what} {url} stalled ({text}); the server stopped answering: retry later, or "
            "raise GDAL_HTTP_LOW_SPEED_TIME / GDAL_HTTP_TIMEOUT"
        )
    return RemoteError(f"cannot read {what} {url}: {text}; check the URL and the network")


def check_ranges(location: str, *, limits: HttpLimits | None = None) -> None:
    """Raise :class:`RemoteError` if the HTTP server of ``location`` ignores range requests.

    One GET of byte 0 (a server that answers 200 instead of 206 would send whole
    files to every window read; GDAL then fails mid-read with a decoding error).
    Non-HTTP locations and a missing file (reported when the band is opened) pass.
    """
    url = plain_url(location)
    if not url.startswith(("http://", "https://")):
        return
    limits = limits or http_limits()
    request = urllib.request.Request(url, headers={"Range": "bytes=0-0"})
    try:
        with urllib.request.urlopen(request, timeout=limits.connect_timeout) as response:
            status = response.status
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, OSError) as exc:
        raise RemoteError(f"cannot reach {url} ({getattr(exc, 'reason', exc)}); retry") from None
    if status != 206:
        raise raster_error(url, OSError("Range downloading not supported"))  # type: ignore[misc]


def read_error(locations: str | Iterable[Any], exc: BaseException) -> BaseException:
    """The error for a read that failed midway: a (transient) :class:`RemoteError` naming
    the remote file when ``locations`` (the file whose read failed, or the files of the
    read) holds one, else ``exc`` itself.

    GDAL reports a transfer abandoned by its timeouts as a short or undecodable block,
    so any failed read of a remote file is reported as the server stalling or the
    connection dropping, with the limits that applied.
    """
    items = [locations] if isinstance(locations, str) else [str(x) for x in locations]
    remote = [plain_url(r) for r in items if is_remote(r)]
    if not remote:
        return exc
    why = _one_line(str(exc.__cause__ or exc))
    limits = http_limits()
    return RemoteError(
        f"reading {', '.join(remote)} failed midway ({why}): the server stalled or the "
        f"connection dropped (stall limit {limits.stall_time:g} s, {limits.retries} "
        "retries); retry, or raise GDAL_HTTP_LOW_SPEED_TIME / GDAL_HTTP_MAX_RETRY"
    )


_MTL_NAME = re.compile(r"MTL\.(txt|json|xml)$", re.IGNORECASE)


def remote_scene(url: str) -> Scene:
    """The scene whose MTL (``.txt``, ``.json`` or ``.xml``) is at ``url``.

    Bands are the files the MTL names (``FILE_NAME_BAND_*``, ``FILE_NAME_QUALITY_*``),
    found next to the MTL (with its query string); nothing but the MTL is fetched here.
    """
    use_remote_settings()
    plain = plain_url(url)
    name = url_name(plain)
    match = _MTL_NAME.search(name)
    mtl = parse_mtl(read_text(plain), plain, match.group(1).lower() if match else "txt")
    files = [(f, gdal_path(url_join(plain, f))) for f in mtl.file_names.values()]
    prefix = _MTL_NAME.sub("", name)
    root = plain.split("?", 1)[0].rsplit("/", 1)[0]
    scene = scene_from_files(root, mtl, files, prefix)
    check_ranges(str(next(iter(scene.bands.values()))))
    log.debug("remote scene %s: %d band files", mtl.scene_id, len(scene.bands))
    return scene
