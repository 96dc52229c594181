"""The ``pix2lst`` command line: a click group of thin commands.

Each command lives beside the library it wraps (``pix2lst/<room>/cli.py``) and
is imported only when invoked, so that ``pix2lst predict`` and ``pix2lst physics``
never import torch, and start fast.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

import click

from pix2lst import __version__
from pix2lst._cli_options import configure_logging, verbosity_options
from pix2lst.errors import Pix2LstError

__all__ = ["main"]

# command name -> "module:attribute", in the order a user meets them (``--help`` keeps it)
COMMANDS: dict[str, str] = {
    "demo": "pix2lst.demo:demo",
    "physics": "pix2lst.lst_physics.cli:physics",
    "predict": "pix2lst.runtime.cli:predict",
    "validate": "pix2lst.lst_physics.cli:validate",
    "info": "pix2lst.info:info",
    "quicklook": "pix2lst.viz.cli:quicklook",
    "compare": "pix2lst.viz.cli:compare",
    "view": "pix2lst.viz.cli:view",
    "composite": "pix2lst.lst_physics.cli:composite",
    "tiles": "pix2lst.export.cli:tiles",
    "train": "pix2lst.export.cli:train",
    "export": "pix2lst.export.cli:export",
    "batch": "pix2lst.batch.cli:batch",
    "cube": "pix2lst.batch.cli:cube",
}

# help sections of ``pix2lst --help``: title -> commands
_SECTIONS: dict[str, tuple[str, ...]] = {
    "Try it": ("demo",),
    "Land surface temperature": ("physics", "predict", "validate"),
    "Look at the result": ("info", "quicklook", "compare", "view"),
    "Train a model on your scenes (tiles, train and export need the train extra)": (
        "composite",
        "tiles",
        "train",
        "export",
    ),
    "Many scenes, time series (the batch extra)": ("batch", "cube"),
}

_HELP = {
    "demo": "Run the main job on the embedded sample scene.",
    "physics": "Compute LST from a Landsat scene with the physics chain.",
    "predict": "Predict LST for a scene or composite with an ONNX model.",
    "validate": "Compare an LST raster with USGS Level-2 surface temperature.",
    "info": "What a scene is, or what an LST raster holds (--json for machines).",
    "quicklook": "Colour-mapped PNG of an LST GeoTIFF, with coordinates.",
    "compare": "Two LST maps, their difference and true colour, side by side.",
    "view": "Offline HTML viewer with synchronised panes.",
    "composite": "Write the 8-band B1-B7 + B10 composite the model consumes.",
    "tiles": "Cut a composite and its LST into training tiles.",
    "train": "Train a Pix2Pix model on exported tiles.",
    "export": "Export a trained generator to a self-describing ONNX file.",
    "batch": "Run physics or predict on many scenes with Dask (needs the batch extra).",
    "cube": "Stack LST rasters of one path/row into a Zarr time-series cube.",
}


_EXTRA_OF = {
    "torch": "train", "onnx": "train", "skimage": "train", "onnxruntime": "cpu",
    **dict.fromkeys(("dask", "distributed", "xarray", "rioxarray", "zarr", "pystac"), "batch"),
}  # fmt: skip


def _missing_dependency(command: str, exc: ModuleNotFoundError) -> str:
    """Say which optional dependency a command lacks and which extra installs it."""
    missing = (exc.name or "a dependency").split(".")[0]
    extra = _EXTRA_OF.get(missing, "cpu")
    hint = f"pip install 'pix2lst[{extra}]'"
    if extra == "train":
        hint = "pip install torch==2.13.0 'pix2lst[cpu,train]' (torch first, CPU build)"
    return f"'pix2lst {command}' needs {missing}, which is not installed; {hint}"


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP, raised in the main thread so that every ``finally``
    and context manager (temporary outputs above all) unwinds as for Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextlib.contextmanager
def _signals_unwind() -> Iterator[list[int]]:
    """Turn SIGINT/SIGTERM/SIGHUP into :class:`Interrupted` while a command runs.

    Yields the list of signals received. A second signal while the first one unwinds
    takes the default action (the process ends at once). A SIGHUP or SIGINT the caller
    ignores (``nohup``) stays ignored. Only in the main thread
    (elsewhere, e.g. a test runner's worker thread, nothing changes).
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if received:  # a second signal: stop now
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
            return
        received.append(signum)
        raise Interrupted(signum)

    # a hangup or Ctrl-C the caller ignores (nohup; `cmd &` in a script) stays ignored
    previous = {
        s: signal.signal(s, handler)
        for s in _SIGNALS
        if s == signal.SIGTERM or signal.getsignal(s) != signal.SIG_IGN
    }
    try:
        yield received
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use.

    It also turns the library's errors (:class:`~pix2lst.errors.Pix2LstError`: bad
    input, said with what was wrong and how to fix it) into a one-line click error,
    for every command in one place.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            message = _missing_dependency(cmd_name, exc)

            @click.command(name=cmd_name, help=_HELP.get(cmd_name))
            def _unavailable(**_: Any) -> None:
                raise click.ClickException(message)

            return _unavailable
        command: click.Command = getattr(module, attr)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        with _signals_unwind() as received:
            try:
                return super().invoke(ctx)
            except ModuleNotFoundError as exc:  # an optional dependency imported lazily
                name = ctx.invoked_subcommand or "this command"
                raise click.ClickException(_missing_dependency(name, exc)) from exc
            except Pix2LstError as exc:  # bad input, said once for every command: no traceback
                raise click.ClickException(str(exc)) from exc
            except (KeyboardInterrupt, Exception) as exc:
                # Ctrl-C, SIGTERM, SIGHUP: one line and 128 + signal, never a traceback, also
                # when a library (Numba, GDAL) turned the interrupt into an error of its own
                signum = getattr(exc, "signum", None) or (received[0] if received else None)
                if signum is None and isinstance(exc, KeyboardInterrupt):
                    signum = signal.SIGINT
                if signum is None:
                    raise
                name = signal.Signals(signum).name
                left = getattr(exc, "left", None) or "no partial output was left"  # batch: its own
                click.echo(
                    f"pix2lst {ctx.invoked_subcommand or ''}: interrupted ({name}); {left}",
                    err=True,
                )
                ctx.exit(128 + int(signum))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        for title, names in _SECTIONS.items():
            with formatter.section(title):
                formatter.write_dl([(name, _HELP.get(name, "")) for name in names])


_EPILOG = """\b
Shell completion (bash; zsh and fish alike, see the README):
  eval "$(_PIX2LST_COMPLETE=bash_source pix2lst)"
"""


@click.group(
    cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=_EPILOG
)
@click.version_option(__version__, prog_name="pix2lst")
@verbosity_options
def main(verbose: int, quiet: bool) -> None:
    """pix2lst: land surface temperature from Landsat-8/9 scenes.

    Every command writes with -o/--output, refuses to replace a file unless given
    --overwrite, and takes -h for its own help. -v/-vv and -q go before the command.
    """
    restore = configure_logging(verbose, quiet)
    click.get_current_context().call_on_close(restore)


if __name__ == "__main__":  # python -m pix2lst.cli
    main()
