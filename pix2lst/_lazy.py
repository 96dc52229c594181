"""Public names of a package that load their module on first use (PEP 562).

``__getattr__, __dir__ = lazy_names(__name__, {"Name": "module", ...})`` in a
package's ``__init__`` keeps ``import pix2lst.<room>`` light: a name's module (and its
heavy dependencies: onnxruntime, torch, dask) is imported only when the name is used.
A value with a dot is a full module path; otherwise a submodule of the package.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(
    package: str, where: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` whose names live in the modules ``where``."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        full = module if "." in module else f"{package}.{module}"
        return getattr(importlib.import_module(full), name)

    def __dir__() -> list[str]:
        return sorted(where)

    return __getattr__, __dir__
