"""Loading a self-describing ONNX model and running it on batches of tiles.

:func:`load_model` opens the file, builds the session through the one factory
(:mod:`pix2lst.runtime.session`), reads and validates the pix2lst metadata and
checks that the graph's input/output shapes agree with it. :class:`BatchRunner`
runs normalised batches; on CUDA/TensorRT it uses IO binding with device
buffers allocated once and reused.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

from pix2lst.errors import ModelError, ParameterError, ProviderError
from pix2lst.runtime.metadata import ModelMetadata
from pix2lst.runtime.session import (
    GPU_PROVIDERS,
    TRT,
    SessionConfig,
    create_session,
    resolve_providers,
)

__all__ = [
    "FP16_TOLERANCE_K",
    "BatchRunner",
    "Fp32Check",
    "LoadedModel",
    "load_model",
    "run_tile_size",
]

log = logging.getLogger(__name__)

_ORT_ERRORS: tuple[type[BaseException], ...] = tuple(
    getattr(ort_state, name)
    for name in (
        "Fail",
        "InvalidArgument",
        "InvalidGraph",
        "InvalidProtobuf",
        "NoSuchFile",
        "NoModel",
        "NotImplemented",
        "RuntimeException",
    )
    if hasattr(ort_state, name)
)


@dataclass(frozen=True)
class LoadedModel:
    """An ONNX model with its validated metadata and a ready session."""

    path: Path
    sha256: str
    metadata: ModelMetadata
    session: ort.InferenceSession
    input_name: str
    output_name: str

    @property
    def providers(self) -> tuple[str, ...]:
        """The providers the session really uses, in priority order."""
        return tuple(self.session.get_providers())

    @property
    def provider(self) -> str:
        """The main provider (first of :attr:`providers`)."""
        return self.providers[0]

    @property
    def spatial_dims_symbolic(self) -> bool:
        """Whether the graph's height and width are symbolic (it runs at other tile sizes)."""
        return _spatial_symbolic(self.session)


def _spatial_symbolic(session: ort.InferenceSession) -> bool:
    nodes = (*session.get_inputs(), *session.get_outputs()[:1])
    return all(not isinstance(d, int) for node in nodes for d in list(node.shape)[2:4])


def run_tile_size(
    meta: ModelMetadata, session: ort.InferenceSession, tile_size: int | None, source: str = "model"
) -> int:
    """The tile a scene is cut into: ``tile_size``, or the model's own (``None``), validated.

    A tile other than the metadata's needs a graph with symbolic height/width, a
    multiple of ``2**depth`` and at least the model's tile (less context than it
    was made for); anything else raises a one-line :class:`ParameterError`.
    """
    own = meta.tile_size
    if tile_size is None or int(tile_size) == own:
        return own
    tile = int(tile_size)
    step = 2**meta.depth if meta.depth else 1
    if tile < own or tile % step:
        raise ParameterError(
            f"tile size {tile} does not fit {source}: use a multiple of {step} (2**depth) of at "
            f"least {own} px, the tile it was made for (default {own})"
        )
    if not _spatial_symbolic(session):
        raise ParameterError(
            f"{source} was exported for fixed {own}x{own} tiles, so it cannot run {tile} px "
            f"tiles; leave the tile size at {own}, or re-export it with `pix2lst export` "
            "(symbolic height/width) or scripts/dynamic_spatial_axes.py"
        )
    return tile


def _check_shapes(
    session: ort.InferenceSession, meta: ModelMetadata, source: str
) -> tuple[str, str]:
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or not outputs:
        raise ModelError(
            f"{source} has {len(inputs)} inputs and {len(outputs)} outputs; a pix2lst model "
            "takes one (batch, bands, tile, tile) input and gives one (batch, 1, tile, tile) output"
        )
    want_in = (len(meta.bands), meta.tile_size, meta.tile_size)
    want_out = (1, meta.tile_size, meta.tile_size)
    for what, node, want in (("input", inputs[0], want_in), ("output", outputs[0], want_out)):
        shape = list(node.shape)
        if len(shape) != 4:
            raise ModelError(f"{source}: {what} {node.name!r} has shape {shape}, expected 4-D")
        for got, exp in zip(shape[1:], want, strict=True):
            if isinstance(got, int) and got != exp:
                raise ModelError(
                    f"{source}: {what} {node.name!r} has shape {shape}, but its metadata says "
                    f"(batch, {', '.join(map(str, want))}) for bands {list(meta.bands)} and "
                    f"tile_size {meta.tile_size}; re-export the model"
                )
    return inputs[0].name, outputs[0].name


def _open(
    data: bytes,
    providers: list[str],
    config: SessionConfig,
    source: str,
    reason: str = "",
    **keys: object,
) -> ort.InferenceSession:
    try:
        return create_session(data, providers, config, reason=reason, **keys)
    except _ORT_ERRORS as exc:
        raise ModelError(
            f"{source} is not a usable ONNX model ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); give a .onnx file written by "
            "`pix2lst export`"
        ) from exc


def load_model(
    path: str | os.PathLike[str] | None = None,
    config: SessionConfig | None = None,
    *,
    batch_size: int = 8,
    tile_size: int | None = None,
) -> LoadedModel:
    """Load ``path`` (``None``: the shipped default model) and validate it.

    ``batch_size`` and ``tile_size`` (the run tile, see :func:`run_tile_size`;
    ``None``: the model's) only shape TensorRT's engine profile. Raises
    :class:`ModelError` for a missing file, a file that is not ONNX, a model without
    pix2lst metadata, or graph shapes that contradict the metadata;
    :class:`~pix2lst.errors.ProviderError` for an unavailable provider; a one-line
    :class:`ParameterError` for a ``tile_size`` the model cannot run.
    """
    config = config or SessionConfig()
    if path is None:
        from pix2lst.data import default_model_path

        model_path = default_model_path()
        if not model_path.is_file():
            raise ModelError(
                f"the default model is not installed ({model_path} is missing); pass a model "
                "with --model / model=..., or export one with `pix2lst export`"
            )
    else:
        model_path = Path(path)
        if not model_path.is_file():
            raise ModelError(f"model file {model_path} does not exist")
    source = str(model_path)
    reasons: list[str] = []
    providers = resolve_providers(config.providers, reasons=reasons)
    data = model_path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    keys: dict[str, object] = {"model_hash": digest}
    if TRT in providers:  # the TensorRT profile and cache key need the tile shape first
        probe = _open(
            data,
            ["CPUExecutionProvider"],
            SessionConfig(graph_optimization="disable", providers="cpu"),
            source,
        )
        meta = ModelMetadata.from_props(probe.get_modelmeta().custom_metadata_map, source=source)
        name, _ = _check_shapes(probe, meta, source)
        tile = run_tile_size(meta, probe, tile_size, source)
        keys.update(input_name=name, input_shape=(batch_size, len(meta.bands), tile, tile))
        del probe
    session = _open(data, providers, config, source, reason=reasons[0], **keys)
    meta = ModelMetadata.from_props(session.get_modelmeta().custom_metadata_map, source=source)
    in_name, out_name = _check_shapes(session, meta, source)
    run_tile_size(meta, session, tile_size, source)
    return LoadedModel(model_path, digest, meta, session, in_name, out_name)


def _check_batch_memory(shape: tuple[int, int, int, int]) -> None:
    """Refuse a batch whose two host buffers alone would take over 1/8 of the machine's memory."""
    per_tile = 2 * 4 * shape[1] * shape[2] * shape[3]  # two float32 buffers
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return
    most = max(1, ram // 8 // per_tile)
    if shape[0] > most:
        raise ParameterError(
            f"batch size {shape[0]} needs {shape[0] * per_tile / 2**30:.1f} GiB for its input "
            f"buffers alone (the model's activations come on top); at most {most} fits this "
            f"machine's {ram / 2**30:.0f} GiB. Use --batch-size {min(most, 64)} or less"
        )


class BatchRunner:
    """Run ``(n, bands, tile, tile)`` float32 batches (``n <= batch_size``) through a model.

    ``tile_size`` is the run tile (``None``: the model's own, see :func:`run_tile_size`).

    On CUDA/TensorRT the input and output live in device buffers allocated once
    (IO binding); the host batch is copied in place and the full batch is run
    (items past ``n`` are ignored), which keeps TensorRT on one shape.

    ``check(batch, n, out)``: called once, on the first batch run, e.g. to compare a
    reduced-precision session with fp32 (it raises to refuse).
    """

    def __init__(
        self,
        model: LoadedModel,
        batch_size: int,
        tile_size: int | None = None,
        *,
        check: Callable[[npt.NDArray[np.float32], int, npt.NDArray[np.float32]], None]
        | None = None,
    ) -> None:
        if batch_size < 1:
            raise ParameterError(f"batch_size must be at least 1, not {batch_size}")
        self.model = model
        self.batch_size = batch_size
        meta = model.metadata
        tile = run_tile_size(meta, model.session, tile_size, str(model.path))
        self.tile_size = tile
        self.input_shape = (batch_size, len(meta.bands), tile, tile)
        _check_batch_memory(self.input_shape)
        self.seconds = 0.0
        self.batches = 0
        self._check = check
        self._binding: ort.IOBinding | None = None
        if model.provider in GPU_PROVIDERS:
            self._setup_binding()

    def _setup_binding(self) -> None:
        opts = self.model.session.get_provider_options().get(self.model.provider, {})
        device_id = int(opts.get("device_id", 0))
        n, _, t, _ = self.input_shape
        self._in = ort.OrtValue.ortvalue_from_shape_and_type(
            self.input_shape, np.float32, "cuda", device_id
        )
        self._out = ort.OrtValue.ortvalue_from_shape_and_type(
            (n, 1, t, t), np.float32, "cuda", device_id
        )
        binding = self.model.session.io_binding()
        binding.bind_ortvalue_input(self.model.input_name, self._in)
        binding.bind_ortvalue_output(self.model.output_name, self._out)
        self._binding = binding

    def new_batch(self) -> npt.NDArray[np.float32]:
        """A host batch buffer of the full shape (zeros), to be filled and reused."""
        return np.zeros(self.input_shape, np.float32)

    def run(self, batch: npt.NDArray[np.float32], n: int) -> npt.NDArray[np.float32]:
        """Predict the first ``n`` items of ``batch``; return ``(n, tile, tile)`` float32."""
        start = time.perf_counter()
        if self._binding is not None:
            if batch.shape != self.input_shape:
                raise ParameterError(f"IO binding needs a batch of shape {self.input_shape}")
            self._in.update_inplace(batch)
            self.model.session.run_with_iobinding(self._binding)
            out = self._out.numpy()[:n, 0]
        else:
            res = self.model.session.run(
                [self.model.output_name], {self.model.input_name: batch[:n]}
            )
            out = np.asarray(res[0], dtype=np.float32)[:, 0]
        self.seconds += time.perf_counter() - start
        self.batches += 1
        if self._check is not None and n:
            check, self._check = self._check, None
            check(batch, n, out)
        return out

    def warmup(self) -> None:
        """One full batch of zeros: builds TensorRT engines, tunes cuDNN, fills caches (the
        first-batch check waits for a real batch)."""
        check, self._check = self._check, None
        self.run(np.zeros(self.input_shape, dtype=np.float32), self.batch_size)
        self._check = check
        self.seconds = 0.0
        self.batches = 0


FP16_TOLERANCE_K = 0.05
"""Largest difference (K) between a reduced-precision session's first batch and fp32."""


class Fp32Check:
    """Compares a reduced-precision session's first batch with an fp32 CPU session of the
    same model; refuses more than :data:`FP16_TOLERANCE_K` (in kelvin) of difference."""

    def __init__(self, reference: LoadedModel) -> None:
        self.reference = reference

    def __call__(
        self, batch: npt.NDArray[np.float32], n: int, out: npt.NDArray[np.float32]
    ) -> None:
        ref = self.reference
        want = np.asarray(
            ref.session.run([ref.output_name], {ref.input_name: batch[:n]})[0], dtype=np.float32
        )[:, 0]
        diff = np.abs(out[:n].astype(np.float64) - want) * abs(ref.metadata.output_scale)
        worst = float(np.nanmax(diff)) if np.isfinite(diff).any() else 0.0
        if worst > FP16_TOLERANCE_K:
            raise ProviderError(
                f"reduced precision (fp16/bf16) differs from fp32 by up to {worst:.3g} K on the "
                f"first batch (at most {FP16_TOLERANCE_K} K is accepted); run in fp32 "
                "(SessionConfig(trt_fp16=False, openvino_precision='fp32'))"
            )
        log.info("reduced precision within %.3g K of fp32 on the first batch", worst)
