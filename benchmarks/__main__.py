"""``python -m benchmarks all|e2e|physics|accuracy|host|gpu [--quick] [options]``."""

from __future__ import annotations

import importlib
import logging
import sys
import time
from pathlib import Path

import click

from benchmarks import ALL, PARTS
from benchmarks.context import BENCH_DIR, Context

# Where scripts/train_default.py leaves the cross-scene model (trained without Maui).
DEFAULT_CROSS = Path("/tmp/pix2lst_default/model_cross/model_256.onnx")


def run_part(name: str, ctx: Context) -> tuple[Path, Path]:
    """Run one part and write its results; return the JSON and markdown paths."""
    module = importlib.import_module(f"benchmarks.bench_{name}")
    ctx.progress(f"== {name}{' (quick)' if ctx.quick else ''}")
    t0 = time.perf_counter()
    report = module.run(ctx)
    paths = report.write(ctx.out, ctx.command)
    ctx.progress(f"== {name} done in {time.perf_counter() - t0:.0f} s: {paths[1]}")
    return paths


def _file(**kw: object) -> click.Path:
    return click.Path(path_type=Path, exists=True, dir_okay=False, **kw)  # type: ignore[arg-type]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("parts", nargs=-1, type=click.Choice(["all", *PARTS]))
@click.option("--quick", is_flag=True, help="Tiny scene, 1 repetition (a smoke test).")
@click.option("--reps", type=int, default=None, help="Repetitions (default: each part's own).")
@click.option(
    "--cache",
    type=click.Path(path_type=Path),
    default=BENCH_DIR / "cache",
    show_default=True,
    help="Where scenes, models and scratch outputs are kept.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Results folder [default: benchmarks/results, or results/quick with --quick].",
)
@click.option(
    "--model",
    type=_file(),
    default=None,
    help="An ONNX model to measure instead of the shipped one.",
)
@click.option(
    "--cross-model",
    type=_file(),
    default=None,
    help="accuracy: a model trained without the Maui scene, scored on it "
    f"[default: {DEFAULT_CROSS} when it exists].",
)
@click.option(
    "--only",
    default="",
    help="Comma-separated tables of a part to run alone (accuracy: atmosphere).",
)
@click.option(
    "--provider",
    type=click.Choice(["cuda", "cpu"]),
    default="cuda",
    show_default=True,
    help="gpu: the provider the slice measures (cpu: try the slices anywhere).",
)
@click.option(
    "--slice",
    "slice_",
    type=click.IntRange(1, 2),
    default=1,
    show_default=True,
    help="gpu: 1 = parity and end to end from a scene folder; 2 = ceilings and torch.",
)
def main(parts: tuple[str, ...], quick: bool, reps: int | None, cache: Path, out: Path | None,
         model: Path | None, cross_model: Path | None, only: str, provider: str,
         slice_: int) -> None:  # fmt: skip
    """Run benchmark PARTS (or all) and write JSON + markdown into the results folder."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if out is None:
        out = BENCH_DIR / "results" / ("quick" if quick else "")
    names = list(ALL) if not parts or "all" in parts else list(dict.fromkeys(parts))
    args = [*names, *(["--quick"] if quick else [])]
    args += [f"--reps {reps}"] if reps is not None else []
    args += [f"--model {model}"] if model else []
    args += [f"--cross-model {cross_model}"] if cross_model else []
    args += [f"--only {only}"] if only else []
    args += [f"--provider {provider} --slice {slice_}"] if "gpu" in names else []
    if cross_model is None and DEFAULT_CROSS.is_file():
        cross_model = DEFAULT_CROSS
    ctx = Context(quick=quick, reps=reps, cache=cache, out=out,
                  command=" ".join(["python -m benchmarks", *args]), cross_model=cross_model,
                  model=model, provider=provider, slice=slice_,
                  only=tuple(w for w in only.split(",") if w))  # fmt: skip
    failed = []
    for name in names:
        try:
            run_part(name, ctx)
        except Exception as exc:  # one broken part must not stop the others
            ctx.progress(f"!! {name} failed: {type(exc).__name__}: {exc}")
            failed.append(name)
    if failed:
        raise click.ClickException(f"parts failed: {', '.join(failed)}")


if __name__ == "__main__":
    sys.exit(main(prog_name="python -m benchmarks"))
