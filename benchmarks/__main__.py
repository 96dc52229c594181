"""``python -m benchmarks all|physics|e2e|host|machine|scaling|accuracy|providers|blend|gpu [--quick]``."""

from __future__ import annotations

import importlib
import logging
import sys
import time
from pathlib import Path

import click

from benchmarks import PARTS
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


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("parts", nargs=-1, type=click.Choice(["all", *PARTS]))
@click.option("--quick", is_flag=True, help="Tiny scene, narrow models, 1 repetition.")
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
    "--cross-model",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="An ONNX model trained without the Maui scene, scored on it by the accuracy part "
    f"[default: {DEFAULT_CROSS} when it exists].",
)
@click.option(
    "--only",
    default="",
    help="gpu part: run only the contenders whose names contain one of these "
    "comma-separated words (e.g. cuda-scene,cuda-vs-cpu), to fit a short device session.",
)
def main(parts: tuple[str, ...], quick: bool, reps: int | None, cache: Path,
         out: Path | None, cross_model: Path | None, only: str) -> None:  # fmt: skip
    """Run benchmark PARTS (or all) and write JSON + markdown into the results folder."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if out is None:
        out = BENCH_DIR / "results" / ("quick" if quick else "")
    args = [*(parts or ("all",)), *(["--quick"] if quick else [])]
    args += [f"--reps {reps}"] if reps is not None else []
    args += [f"--cache {cache}"] if cache != BENCH_DIR / "cache" else []
    args += [f"--cross-model {cross_model}"] if cross_model else []
    args += [f"--only {only}"] if only else []
    command = " ".join(["python -m benchmarks", *args])
    if cross_model is None and DEFAULT_CROSS.is_file():
        cross_model = DEFAULT_CROSS
    ctx = Context(quick=quick, reps=reps, cache=cache, out=out, command=command,
                  cross_model=cross_model, only=tuple(w for w in only.split(",") if w))  # fmt: skip
    names = list(PARTS) if not parts or "all" in parts else list(dict.fromkeys(parts))
    failed = []
    for name in names:
        try:
            run_part(name, ctx)
        except Exception as exc:  # one broken part must not stop the others
            ctx.progress(f"!! {name} failed: {type(exc).__name__}: {exc}")
            failed.append(name)
    from benchmarks.summary import write_summary

    ctx.progress(f"== goals: {write_summary(ctx.out)}")
    if failed:
        raise click.ClickException(f"parts failed: {', '.join(failed)}")


if __name__ == "__main__":
    sys.exit(main(prog_name="python -m benchmarks"))
