"""The batch manifest (``OUTDIR/manifest.csv``) and the output folder's lock.

One manifest row per scene: ``input``, ``output``, ``status`` (``ok``, ``failed``,
``skipped``), ``seconds``, ``provider`` and ``error`` (one line). The manifest is
rewritten atomically after each scene, so it is complete and readable at any
moment of a run, even one that is killed.

Two runs writing into one folder would race on the same outputs and manifest:
:func:`folder_lock` takes an exclusive ``flock`` on ``OUTDIR/.pix2lst-batch.lock``
for the whole run (released by the kernel if the process dies) and refuses, with
:class:`~pix2lst.errors.OutputLockedError`, a second run on the same folder.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import errno
import fcntl
import io
import os
import socket
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Literal

from pix2lst.errors import OutputLockedError, OutputNotWritableError
from pix2lst.geo.atomic import atomic_output

__all__ = [
    "LOCK_NAME",
    "MANIFEST_NAME",
    "ManifestRow",
    "folder_lock",
    "read_manifest",
    "write_manifest",
]

MANIFEST_NAME = "manifest.csv"
LOCK_NAME = ".pix2lst-batch.lock"

Status = Literal["ok", "failed", "skipped"]


@dataclass(frozen=True)
class ManifestRow:
    """What happened to one scene of a batch run."""

    input: str
    output: str
    status: Status
    seconds: float = 0.0
    provider: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        """True unless the scene failed (a skipped scene's output is complete)."""
        return self.status != "failed"


FIELDS = tuple(f.name for f in fields(ManifestRow))


def write_manifest(path: str | os.PathLike[str], rows: Iterable[ManifestRow]) -> Path:
    """Write the rows as CSV (header :data:`FIELDS`), atomically: fsynced, then renamed."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        d = asdict(row)
        d["seconds"] = f"{row.seconds:.2f}"
        d["error"] = " ".join(row.error.split())  # one line
        writer.writerow(d)
    with atomic_output(path, overwrite=True, suffix=".csv") as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(buf.getvalue())
            f.flush()
            os.fsync(f.fileno())  # on disk before the rename makes it the manifest
    return Path(path)


def read_manifest(path: str | os.PathLike[str]) -> list[ManifestRow]:
    """The rows of a manifest written by :func:`write_manifest`."""
    with open(path, newline="", encoding="utf-8") as f:
        return [
            ManifestRow(
                r["input"],
                r["output"],
                r["status"],  # type: ignore[arg-type]
                float(r["seconds"] or 0),
                r["provider"],
                r["error"],
            )
            for r in csv.DictReader(f)
        ]


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold ``folder``'s batch lock for the block; refuse when another run holds it."""
    path = Path(folder) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputNotWritableError(
            f"cannot create the lock file {path} ({exc.strerror}); choose a folder you can write to"
        ) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "another process"
            raise OutputLockedError(
                f"the output folder {folder} is in use by another batch run ({holder}); wait "
                "for it to finish or choose another -o/--output folder"
            ) from exc
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {stamp}".encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing releases the lock
