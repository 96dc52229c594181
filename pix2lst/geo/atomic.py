"""Output safety shared by every writer: no partial files, no silent overwrite, inputs safe.

Every file pix2lst writes goes through :func:`atomic_output`: the data are
written to a temporary file beside the target and renamed over it only when
the writer finished without error (and, given ``verify``, the file reads back),
so an interrupted run leaves nothing behind and a failed one keeps the previous
output. The temporary file is flushed to the disk (``fsync``) before the rename, and
the folder after it, so that a power loss leaves the old output or the new one, whole.
The temporary file is ``.<name>.<pid>-<random><suffix>`` (a name too long to fit
that in the folder's name limit is cut and ends in a hash of the whole name): a run
that was killed outright (SIGKILL, power loss) cannot remove it, so the next run on
the same target removes those whose writer process is gone (:func:`remove_stale_temps`).

:func:`check_output` is the one place that decides whether a path may be written:
not an existing file without ``overwrite``, not a folder, not in a missing or
read-only folder, not a name longer than the folder allows, never one of the run's
own inputs (also through links), and never a name that would be taken for a band or
the metadata of an input scene.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pix2lst.errors import (
    OutputExistsError,
    OutputNotWritableError,
    OutputWriteError,
    Pix2LstError,
)

__all__ = [
    "atomic_output",
    "check_output",
    "name_max",
    "remove_stale_temps",
    "target_of",
    "temp_name",
    "temporaries",
]

log = logging.getLogger(__name__)

_DISK_ERRORS = {errno.ENOSPC, errno.EFBIG, errno.EIO, errno.EROFS, errno.EDQUOT}

_TEMP_ROOM = 64
"""Bytes of a file name a temporary file adds around the target's name, at most: the
leading dot, ``.<pid>-<random>``, a suffix, and the names writers derive from the
temporary (GDAL's ``.aux.xml``, the COG writer's ``.stream.tif``)."""


def name_max(folder: str | os.PathLike[str]) -> int:
    """The longest file name (bytes) ``folder``'s file system takes (255 where it does not say)."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return 255


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def _check_inputs(out: Path, inputs: Iterable[Any]) -> None:
    from pix2lst.geo.scene import Scene, claims_as_scene_file  # scene -> mtl: loaded on use

    for item in inputs:
        if item is None:
            continue
        if not isinstance(item, (str, os.PathLike, Scene)):  # e.g. a STAC item object
            continue
        reason = claims_as_scene_file(item, out)
        if reason is None and not isinstance(item, Scene):
            p = Path(item)
            if p.is_file() and _same_file(p, out):
                reason = f"it is the input {p}"
        if reason is not None:
            raise OutputNotWritableError(
                f"refusing to write {out}: {reason}; writing there would destroy or shadow "
                "an input. Choose another output path (outside the input scene)"
            )


def check_output(
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    inputs: Iterable[Any] = (),
) -> Path:
    """Validate an output path before any work is done; return it as a ``Path``.

    ``inputs``: the run's input files, scene folders, MTL paths or
    :class:`~pix2lst.geo.scene.Scene` objects; an output that is one of them (or
    resolves to one through links), or that sits in a scene's folder under a name
    that would be taken for one of its bands or its MTL, is refused
    (:class:`OutputNotWritableError`), with or without ``overwrite``.

    Raises :class:`OutputExistsError` when it exists and ``overwrite`` is false, and
    :class:`OutputNotWritableError` when it is a folder or its folder is missing or
    read-only.
    """
    out = Path(path)
    parent = out.parent if str(out.parent) else Path(".")
    size, limit = len(os.fsencode(out.name)), name_max(parent if parent.is_dir() else ".")
    if size > limit:
        raise OutputNotWritableError(
            f"cannot write {out.name[:40]}...: name too long: {size} bytes, at most {limit}; "
            "choose a shorter output name"
        )
    if out.is_dir():
        raise OutputNotWritableError(
            f"{out} is a folder; give a file path for the output (e.g. {out / 'lst.tif'})"
        )
    _check_inputs(out, inputs)
    if out.exists() and not overwrite:
        raise OutputExistsError(
            f"{out} already exists; pass --overwrite (overwrite=True) to replace it, "
            "or choose another output path"
        )
    if not parent.is_dir():
        raise OutputNotWritableError(
            f"the output folder {parent} does not exist; create it first (mkdir -p {parent})"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputNotWritableError(
            f"the output folder {parent} is not writable; choose a folder you can write to"
        )
    return out


def _temp_key(out: Path) -> str:
    """The part of ``out``'s temporary names that stands for it: its name, or where that is
    too long to leave room for the rest, its first bytes, ``~`` and a hash of the name."""
    folder = out.parent if str(out.parent) else Path(".")
    keep = name_max(folder) - _TEMP_ROOM
    raw = os.fsencode(out.name)
    if len(raw) <= keep:
        return out.name
    digest = hashlib.sha256(raw).hexdigest()[:8]
    head = os.fsdecode(raw[: keep - 9]).encode("utf-8", "ignore").decode("utf-8", "ignore")
    return f"{head}~{digest}"


def temp_name(out: Path, suffix: str) -> Path:
    """``.<name>.<pid>-<random><suffix>`` beside ``out``: the writer's pid is in the name
    (``<name>`` cut short and hashed where the whole would not fit the folder's limit)."""
    return out.with_name(f".{_temp_key(out)}.{os.getpid()}-{secrets.token_hex(4)}{suffix}")


_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-[0-9a-f]{8}")


def target_of(path: Path) -> Path:
    """The output a temporary file of :func:`temp_name` stands for (``path`` if not one; the
    cut name of a long one)."""
    m = _TEMP.match(path.name)
    return path.with_name(m.group("name")) if m else path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


_TEMPS_SEEN: dict[Path, dict[str, list[Path]]] = {}
"""Per folder, the temporary files of our naming found at this process's first visit,
by target name: a folder of thousands of tiles is listed once, not once per tile."""


def _temps_in(folder: Path, fresh: bool) -> dict[str, list[Path]]:
    key = folder.absolute()
    if fresh or key not in _TEMPS_SEEN:
        found: dict[str, list[Path]] = {}
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in entries:
                m = _TEMP.match(entry.name) if entry.name.startswith(".") else None
                if m:
                    found.setdefault(m.group("name"), []).append(folder / entry.name)
        _TEMPS_SEEN[key] = found
    return _TEMPS_SEEN[key]


def temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Every temporary file of our naming (:func:`temp_name`) in ``folder``, whoever wrote it.

    For a caller that knows no writer of its own is running there (the batch runner,
    holding the folder's lock, whose workers may live on other machines).
    """
    return sorted(p for paths in _temps_in(Path(folder), fresh=True).values() for p in paths)


def remove_stale_temps(out: str | os.PathLike[str], *, fresh: bool = True) -> list[Path]:
    """Remove temporary files a killed run left beside ``out``; return what was removed.

    Only files of our naming (``.<name>.<pid>-<hex>...``) whose writer process no
    longer exists are removed; one whose writer still runs (a concurrent run) is left.
    ``fresh=False`` (the writers) lists each folder once per process.
    """
    target = Path(out)
    folder = target.parent if str(target.parent) else Path(".")
    removed: list[Path] = []
    candidates = _temps_in(folder, fresh).pop(_temp_key(target), [])
    for entry in candidates:
        m = _TEMP.match(entry.name)
        if m is None or _pid_alive(int(m.group("pid"))):
            continue
        with contextlib.suppress(FileNotFoundError, PermissionError, IsADirectoryError):
            entry.unlink()
            removed.append(entry)
    if removed:
        log.warning(
            "removed %d temporary file(s) an interrupted run left beside %s: %s",
            len(removed), target, ", ".join(p.name for p in removed),
        )  # fmt: skip
    return removed


def _fsync(path: Path, folder: bool = False) -> None:
    """Flush ``path`` (a file, or a folder's entries) to the disk."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if folder else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_error(out: Path, exc: OSError) -> OutputWriteError:
    why = exc.strerror or str(exc)
    return OutputWriteError(
        f"writing {out} failed ({why}); free some space or choose another folder, then run "
        "again (the previous output, if any, is untouched)"
    )


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    suffix: str | None = None,
    inputs: Iterable[Any] = (),
    verify: Callable[[Path], None] | None = None,
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    An empty temporary file is refused; ``verify(tmp)`` (optional) re-reads the finished
    temporary file and raises if it is unusable; the rename happens only after it passed. A full disk or another
    I/O error while writing becomes :class:`OutputWriteError`; a target that cannot
    be replaced (an immutable file) :class:`OutputNotWritableError`. On any
    exception (including ``KeyboardInterrupt``) the temporary file is removed and the
    exception propagates; an existing ``path`` is untouched. ``inputs``: see
    :func:`check_output`.
    """
    out = check_output(path, overwrite=overwrite, inputs=inputs)
    remove_stale_temps(out, fresh=False)
    tmp = temp_name(out, suffix if suffix is not None else (out.suffix or ".tmp"))
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise _write_error(out, exc) from exc
    os.close(fd)
    try:
        try:
            yield tmp
            if tmp.is_file() and tmp.stat().st_size == 0:  # e.g. a writer that hit a full disk
                raise OutputWriteError(
                    f"writing {out} produced an empty file; is the disk full? (the previous "
                    "output, if any, is untouched)"
                )
            if verify is not None:
                verify(tmp)
            if tmp.is_file():  # on the disk before the name points at it
                _fsync(tmp)
        except Pix2LstError:
            raise
        except OSError as exc:
            if exc.errno in _DISK_ERRORS:
                raise _write_error(out, exc) from exc
            raise
        if out.exists() and not overwrite:  # appeared while we were working
            raise OutputExistsError(f"{out} appeared while writing; pass --overwrite to replace it")
        if tmp.is_file():  # the temporary file is 0600; give the output the usual mode
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        try:
            os.replace(tmp, out)
        except PermissionError as exc:
            raise OutputNotWritableError(
                f"cannot replace {out} ({exc.strerror}); is it immutable (lsattr) or owned by "
                "someone else? Choose another output path (nothing was changed)"
            ) from exc
        except OSError as exc:
            raise _write_error(out, exc) from exc
        try:  # the rename itself on the disk
            _fsync(out.parent if str(out.parent) else Path("."), folder=True)
        except OSError as exc:  # some file systems cannot sync a folder: the file is whole
            log.debug("could not sync the folder of %s (%s)", out, exc)
    finally:
        for leftover in (tmp, Path(str(tmp) + ".aux.xml"), Path(str(tmp) + ".ovr")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
