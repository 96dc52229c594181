"""What a prediction did: :class:`PredictionSummary` and its one-line report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["PredictionSummary"]


@dataclass(frozen=True)
class PredictionSummary:
    """What :meth:`LSTPredictor.predict_file` did."""

    output: Path
    height: int
    width: int
    tiles: int
    tiles_run: int
    seconds: float
    inference_seconds: float
    provider: str

    @property
    def megapixels(self) -> float:
        return self.height * self.width / 1e6

    @property
    def mpx_per_s(self) -> float:
        """Throughput, end to end."""
        return self.megapixels / self.seconds if self.seconds > 0 else float("inf")

    def line(self) -> str:
        """The one-line summary the CLI prints."""
        return (
            f"{self.output}: {self.width} x {self.height} px, {_count(self.tiles, 'tile')} "
            f"({self.tiles - self.tiles_run} nodata skipped), {self.seconds:.2f} s "
            f"({self.inference_seconds:.2f} s in the model), {self.mpx_per_s:.2f} Mpx/s, "
            f"provider {self.provider}"
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
