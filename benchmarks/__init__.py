"""The pix2lst benchmarks: the product measured end to end, against its ceilings and baselines.

``python -m benchmarks PART [--quick]`` runs one part; ``python -m benchmarks all`` runs
every part a CPU machine can (``make bench``). Each contender runs in its own
subprocess, so its peak resident memory is its own; the contenders of one comparison
alternate, repetition after repetition, and the report gives medians and ratios. A part
writes ``results/<part>.json`` and ``results/<part>.md`` (git-ignored, regenerated)
with the machine, the library versions and the exact command.

Parts:

* ``e2e``: the product (``LSTPredictor.predict_file``) on the full benchmark scene,
  against the one-session ONNX Runtime ceiling and a torch-eager baseline;
* ``physics``: the LST chain's kernels (Numba against numpy) and ``write_lst``;
* ``accuracy``: the model against the physics LST and USGS Surface Temperature;
* ``host``: the host side alone, with a null model that returns zeros;
* ``gpu``: two slices of at most 5 minutes for a GPU machine (``--slice 1``: CUDA vs
  CPU parity and end to end from a scene folder; ``--slice 2``: the ORT ceilings and
  the torch reference); ``--provider cpu`` runs them on any machine.

Variants are product options only (providers, sessions, batch size, tile size,
padding). The full-size scene is built once from the embedded sample by mirror
tiling under ``benchmarks/cache/`` (git-ignored).
"""

from __future__ import annotations

__all__ = ["ALL", "PARTS"]

PARTS = ("e2e", "physics", "accuracy", "host", "gpu")
"""Every part ``python -m benchmarks`` runs."""

ALL = ("physics", "e2e", "host", "accuracy")
"""The parts ``all`` runs, in this order (``gpu`` needs a device and is run by slice)."""
