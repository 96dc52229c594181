"""The options every ``pix2lst`` command shares, defined once (rio's conventions).

- ``-o/--output``: where the command writes (``--out`` is kept as a hidden,
  deprecated alias on the commands that used it).
- ``--overwrite``: replace an existing output; without it nothing is replaced.
- ``--co NAME=VALUE``: a GDAL creation option for a raster writer (repeatable).
- ``--cog``: write a Cloud-Optimised GeoTIFF.
- ``--tile-size N``: the run tile of ``predict`` and ``batch predict``.
- ``-v/-vv`` and ``-q/--quiet`` on the group: the level of pix2lst's own logger
  (rasterio and GDAL stay at WARNING); ``-q`` also turns progress bars off.
- :func:`progress_bar`: a tqdm bar drawn only on a terminal and never with ``-q``.
- :func:`echo_result`: how a command reports what it did (stdout), silent with ``-q``.
- :data:`SCENE_INPUT` and :data:`LST_INPUT`: the click types of scene and LST
  arguments (every room's ``cli.py`` imports them from here, never from
  :mod:`pix2lst.cli`, which loads those rooms).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
from click.shell_completion import CompletionItem

__all__ = [
    "LST_INPUT",
    "SCENE_INPUT",
    "LstInput",
    "SceneInput",
    "co_option",
    "cog_option",
    "complete_paths",
    "configure_logging",
    "echo_result",
    "output_option",
    "overwrite_option",
    "progress_bar",
    "quiet",
    "tile_size_option",
    "verbosity_options",
]

F = TypeVar("F", bound=Callable[..., Any])

_LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


def output_option(
    help: str,
    *,
    required: bool = True,
    default: Path | None = None,
    file_okay: bool = True,
    dir_okay: bool = True,
    show_default: bool = False,
    legacy_out: bool = False,
) -> Callable[[F], F]:
    """``-o/--output`` passed to the command as ``output`` (a ``Path``).

    ``legacy_out=True`` also accepts the old ``--out`` spelling (hidden from the
    help; a deprecation warning goes to stderr).
    """
    path_type = click.Path(file_okay=file_okay, dir_okay=dir_okay, path_type=Path)
    text = help + (" [required]" if required and legacy_out else "")

    def decorator(f: F) -> F:
        if not legacy_out:
            # ``default=None`` given explicitly counts as a value in click 8.3+ and would
            # pass ``required=True`` through as None: a default is passed only when there is one
            extra: dict[str, Any] = {} if default is None else {"default": default}
            return click.option(
                "-o", "--output", "output", type=path_type, required=required,
                show_default=show_default, help=help, **extra,
            )(f)  # fmt: skip

        @functools.wraps(f)
        def wrapper(*args: Any, output: Path | None, legacy_out: Path | None, **kw: Any) -> Any:
            if legacy_out is not None:
                if output is not None:
                    raise click.UsageError(
                        "give the output once, as -o/--output (--out is its old name)"
                    )
                if not quiet():
                    click.echo("warning: --out is deprecated; use -o/--output", err=True)
                output = legacy_out
            if output is None:
                output = default
            if output is None and required:
                raise click.UsageError("Missing option '-o' / '--output'.")
            return f(*args, output=output, **kw)

        wrapped = click.option("--out", "legacy_out", type=path_type, hidden=True)(wrapper)
        wrapped = click.option("-o", "--output", "output", type=path_type, default=None, help=text)(
            wrapped
        )
        return wrapped  # type: ignore[return-value]

    return decorator


def overwrite_option(help: str = "Replace the output if it exists.") -> Callable[[F], F]:
    """``--overwrite``: without it an existing output is refused, never replaced."""
    return click.option("--overwrite", is_flag=True, help=help)


def _parse_co(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    from pix2lst.errors import ParameterError
    from pix2lst.geo.writer import parse_creation_options

    try:
        return parse_creation_options(values)
    except ParameterError as exc:
        raise click.BadParameter(str(exc)) from exc


class _OneLineUsageError(click.ClickException):
    """A usage error (exit 2) said in one ``Error:`` line, without click's usage lines."""

    exit_code = 2


def co_option(f: F) -> F:
    """``--co NAME=VALUE`` (repeatable), passed as ``creation_options`` (a dict).

    Each option is tried with GDAL's driver (COG when the command's ``--cog`` is set,
    else GTiff) before the command starts: one GDAL does not accept (``COMPRESS=NOPE``,
    ``FOO=BAR``, ``NBITS=8``, ``BLOCKXSIZE=100``) stops it with one line, before any work.
    """

    @functools.wraps(f)
    def wrapper(*args: Any, creation_options: dict[str, str], **kw: Any) -> Any:
        from pix2lst.errors import ParameterError
        from pix2lst.geo.writer import check_creation_options

        try:
            checked = check_creation_options(creation_options, bool(kw.get("cog", False)))
        except ParameterError as exc:
            raise _OneLineUsageError(f"Invalid value for '--co': {exc}") from None
        return f(*args, creation_options=checked, **kw)

    return click.option(  # type: ignore[return-value]
        "--co",
        "creation_options",
        multiple=True,
        metavar="NAME=VALUE",
        callback=_parse_co,
        help="GDAL creation option of the written GeoTIFF, e.g. --co COMPRESS=ZSTD "
        "--co BLOCKXSIZE=512 (repeatable; names as in GDAL's GTiff/COG driver docs; "
        "checked with GDAL's driver before any work).",
    )(wrapper)


def cog_option(f: F) -> F:
    """``--cog``: write a Cloud-Optimised GeoTIFF (overviews, internal tiles)."""
    return click.option(
        "--cog", is_flag=True, help="Write a Cloud-Optimised GeoTIFF (tiled, with overviews)."
    )(f)


def tile_size_option(f: F) -> F:
    """``--tile-size N``: the tile a scene is cut into (``LSTPredictor(tile_size=)``)."""
    return click.option(
        "--tile-size",
        type=click.IntRange(min=1),
        default=None,
        help="Tile the scene is cut into: a multiple of 2**depth, at least the model's own "
        "tile (a model with symbolic height/width only) [default: the model's tile].",
    )(f)


_URL_PREFIXES = ("http://", "https://", "s3://", "gs://", "/vsi")


def complete_paths(incomplete: str) -> list[CompletionItem]:
    """Let the shell complete file and folder names (click's bash/zsh/fish scripts do)."""
    if incomplete.startswith(_URL_PREFIXES):
        return []
    return [CompletionItem(incomplete, type="file")]


class SceneInput(click.ParamType):
    """A scene argument: a local path that exists, or a URL / GDAL path kept as a string.

    URLs (``https://``, ``s3://``, ``/vsicurl/`` ...) are never turned into ``Path``
    (it would collapse ``https://`` to ``https:/``); local paths are checked here.
    The shell completes file and folder names.
    """

    name = "input"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = str(value)
        if text.startswith(_URL_PREFIXES):
            return text
        path = Path(text)
        if not path.exists():
            self.fail(
                f"{text} does not exist; give a scene folder, MTL file, composite GeoTIFF, "
                "STAC item (.json) or a URL",
                param,
                ctx,
            )
        return path

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        return complete_paths(incomplete)


SCENE_INPUT = SceneInput()


class LstInput(click.ParamType):
    """An LST GeoTIFF, or one time of a cube as ``CUBE.zarr@WHEN`` (a date or scene id).

    A cube time is written to a temporary LST GeoTIFF (removed when the command
    ends), so that the figures and the viewer read it like any LST raster. Cubes
    need the batch extra, imported only when a cube time is given.
    """

    name = "lst"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = str(value)
        cube_path, at, when = text.rpartition("@")
        if at and not Path(text).exists() and Path(cube_path).is_dir():
            import shutil
            import tempfile

            from pix2lst.errors import Pix2LstError

            try:
                from pix2lst.geo.cube import cube_layers, write_layer

                ((values, grid, tags),) = cube_layers(cube_path, [when])
            except (Pix2LstError, ModuleNotFoundError) as exc:
                self.fail(f"{text}: {exc}", param, ctx)
            tmp = Path(tempfile.mkdtemp(prefix="pix2lst-cube-"))
            if ctx is not None:
                ctx.call_on_close(lambda: shutil.rmtree(tmp, ignore_errors=True))
            name = f"{tags['SCENE_ID']}_{tags['DATE_ACQUIRED']}.tif"
            return write_layer(values, grid, tags, tmp / name)
        path = Path(text)
        if not path.exists():
            self.fail(f"{text} does not exist (an LST GeoTIFF, or CUBE.zarr@DATE)", param, ctx)
        return path

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        return complete_paths(incomplete)


LST_INPUT = LstInput()


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (click's test runner swaps it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(verbose: int, quiet: bool) -> Callable[[], None]:
    """Set pix2lst's own logger: WARNING by default, -v INFO, -vv DEBUG, -q ERROR.

    pix2lst's logger follows ``-v``; rasterio's (which carries GDAL's messages, e.g. a
    creation option the driver ignores) shows its warnings, never its debug lines, so
    ``-vv`` shows pix2lst's debug lines, not theirs. With ``-q`` only errors reach the
    terminal: rasterio's and GDAL's warnings and Python warnings are held back too.
    Returns a function that puts everything back as it was (the group calls it when
    the command ends, so that a library user's logging is left alone).
    """
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter(_LOG_FORMAT))
    levels = {
        "pix2lst": logging.ERROR if quiet else logging.WARNING - 10 * min(verbose, 2),
        "rasterio": logging.ERROR if quiet else logging.WARNING,
    }
    if quiet:  # warnings.warn(...) goes through logging (py.warnings), at ERROR only
        logging.captureWarnings(True)
        levels["py.warnings"] = logging.ERROR
    saved = {}
    for name, level in levels.items():
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.setLevel(level)
        logger.addHandler(handler)

    def restore() -> None:
        for name, level in saved.items():
            logger = logging.getLogger(name)
            logger.removeHandler(handler)
            logger.setLevel(level)
        if quiet:
            logging.captureWarnings(False)

    return restore


def verbosity_options(f: F) -> F:
    """``-v/--verbose`` (count) and ``-q/--quiet`` for the command group."""
    f = click.option(
        "-q", "--quiet", is_flag=True, help="Only errors: no warnings, no progress bars."
    )(f)
    return click.option(
        "-v", "--verbose", count=True,
        help="More of pix2lst's log output (-v info, -vv debug); other libraries stay quiet.",
    )(f)  # fmt: skip


def quiet() -> bool:
    """True when the running command was started with ``-q/--quiet``."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return False
    return bool(ctx.find_root().params.get("quiet", False))


def echo_result(message: str) -> None:
    """Print what a command did or found (``wrote ...``, a summary) on stdout, unless ``-q``.

    The one way commands report results: with ``-q/--quiet`` only errors reach the
    terminal. Errors go through click exceptions, never through here.
    """
    if not quiet():
        click.echo(message)


def progress_bar(**kwargs: Any) -> Any:
    """A tqdm progress bar on stderr, drawn only when stderr is a terminal and not ``-q``."""
    from tqdm import tqdm

    disable = quiet() or not sys.stderr.isatty()
    return tqdm(disable=disable, leave=False, file=sys.stderr, **kwargs)


@contextlib.contextmanager
def progress_callback(desc: str, unit: str) -> Iterator[Callable[[int, int], None]]:
    """A library ``progress(done, total)`` callback drawn as one :func:`progress_bar`.

    The bar appears at the first call (so a command's error while it checks its inputs
    never lands on a bar's line) and is closed when the block ends.
    """
    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = progress_bar(total=total, unit=unit, desc=desc)
        bar.total = total
        bar.update(done - bar.n)

    try:
        yield progress
    finally:
        if bar is not None:
            bar.close()
