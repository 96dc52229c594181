"""Output safety shared by every writer: no partial files, no silent overwrite.

Every file pix2lst writes goes through :func:`atomic_output`: the data are
written to a temporary file beside the target and renamed over it only when
the writer finished without error, so an interrupted run leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pix2lst.errors import OutputExistsError, OutputNotWritableError

__all__ = ["atomic_output", "check_output"]


def check_output(path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Validate an output path before any work is done; return it as a ``Path``.

    Raises :class:`OutputExistsError` when it exists and ``overwrite`` is false, and
    :class:`OutputNotWritableError` when its folder is missing or read-only.
    """
    out = Path(path)
    if out.exists() and not overwrite:
        raise OutputExistsError(
            f"{out} already exists; pass --overwrite (overwrite=True) to replace it, "
            "or choose another output path"
        )
    if out.is_dir():
        raise OutputNotWritableError(f"{out} is a folder; give a file path for the output")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise OutputNotWritableError(
            f"the output folder {parent} does not exist; create it first (mkdir -p {parent})"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputNotWritableError(
            f"the output folder {parent} is not writable; choose a folder you can write to"
        )
    return out


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike[str], *, overwrite: bool = False, suffix: str | None = None
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    On any exception (including ``KeyboardInterrupt``) the temporary file is
    removed and the exception propagates; an existing ``path`` is untouched.
    """
    out = check_output(path, overwrite=overwrite)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{out.name}.",
        suffix=suffix if suffix is not None else (out.suffix or ".tmp"),
        dir=out.parent if str(out.parent) else ".",
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if out.exists() and not overwrite:  # appeared while we were working
            raise OutputExistsError(f"{out} appeared while writing; pass --overwrite to replace it")
        if tmp.is_file():  # mkstemp makes 0600 files; give the output the usual mode
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, out)
    finally:
        for leftover in (tmp, Path(str(tmp) + ".aux.xml"), Path(str(tmp) + ".ovr")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
