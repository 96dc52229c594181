"""One error hierarchy for the whole package.

Every error pix2lst raises on purpose derives from :class:`Pix2LstError`; each
leaf also derives from the builtin it refines, so ``except ValueError`` in
calling code keeps working. Messages say what was wrong and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "BandNotFoundError",
    "BatchInputError",
    "DatasetError",
    "EmptySceneError",
    "GridMismatchError",
    "MetadataError",
    "ModelError",
    "OutputExistsError",
    "OutputLockedError",
    "OutputNotWritableError",
    "OutputWriteError",
    "ParameterError",
    "Pix2LstError",
    "ProviderError",
    "RemoteError",
    "SceneError",
    "SchedulerError",
    "StacError",
    "UnknownColormapError",
]


class Pix2LstError(Exception):
    """Root of every error pix2lst raises on purpose."""


class MetadataError(Pix2LstError, ValueError):
    """A Landsat MTL file is missing, unreadable or lacks a key the chain needs."""


class SceneError(Pix2LstError, ValueError):
    """A scene folder or raster cannot be used as given."""


class BandNotFoundError(SceneError, FileNotFoundError):
    """A band the operation needs is not in the scene or raster."""


class GridMismatchError(SceneError):
    """Two rasters that must share a grid (CRS, transform, size) do not."""


class EmptySceneError(SceneError):
    """Every pixel of the input is nodata, so there is nothing to compute."""


class OutputExistsError(Pix2LstError, FileExistsError):
    """The output exists and ``overwrite`` was not requested."""


class OutputNotWritableError(Pix2LstError, PermissionError):
    """The output folder does not exist or cannot be written."""


class OutputWriteError(Pix2LstError, OSError):
    """Writing an output failed (a full disk, an I/O error); the previous output is kept."""


class ModelError(Pix2LstError, ValueError):
    """A model file is not ONNX, or lacks the pix2lst metadata, or does not fit the input."""


class ProviderError(Pix2LstError, RuntimeError):
    """An ONNX Runtime execution provider was requested but is not available."""


class DatasetError(Pix2LstError, ValueError):
    """A training-tile dataset is missing, empty or inconsistent."""


class ParameterError(Pix2LstError, ValueError):
    """A parameter of a library call or a command is out of its range or not one of its choices."""


class UnknownColormapError(ParameterError):
    """A colour map name that matplotlib does not know."""


class BatchInputError(ParameterError):
    """A batch input list is unusable: an empty glob, a duplicate scene, an unknown input."""


class RemoteError(Pix2LstError, OSError):
    """A remote file (HTTP, S3) cannot be reached or read.

    ``transient``: whether a retry may help (unreachable host, timeout, HTTP 5xx) or
    not (HTTP 404, a server without range requests).
    """

    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient


class StacError(SceneError):
    """A STAC item is not a Landsat-8/9 scene pix2lst can read (missing band, other mission)."""


class OutputLockedError(Pix2LstError, BlockingIOError):
    """An output folder is in use by another batch run."""


class SchedulerError(Pix2LstError, ConnectionError):
    """No Dask scheduler answers at the address given, or it has no workers."""
