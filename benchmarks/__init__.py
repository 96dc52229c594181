"""The pix2lst benchmark harness: throughput, memory and accuracy against baselines.

Run one part with ``python -m benchmarks PART [--quick]`` or everything with
``python -m benchmarks all`` (``make bench``). Every contender runs in its own
subprocess so that its peak resident memory is its own; contenders of one
comparison alternate, repetition after repetition, and the report gives medians
and ratios. Each part writes ``results/<part>.json`` and ``results/<part>.md``
holding the machine, the library versions and the exact command.

Parts: ``physics``, ``e2e``, ``host`` (null model: the host side alone), ``machine``
(sessions and readers vs the ORT ceiling), ``blend``,
``scaling``, ``providers``, ``accuracy``, ``gpu`` (CUDA figures; CPU rows elsewhere).
The full-size scene they use is built once from the embedded sample (mirror
tiling) under ``benchmarks/cache/`` (git-ignored).
"""

from __future__ import annotations

__all__ = ["PARTS"]

PARTS = ("physics", "e2e", "host", "machine", "blend", "scaling", "providers", "accuracy", "gpu")
"""The parts, in the order ``all`` runs them."""
