"""The error discipline, checked on the source: every error pix2lst raises on purpose is a
``Pix2LstError`` leaf that also inherits the matching builtin, never the root itself and
never a bare builtin (DESIGN: one error hierarchy)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import pix2lst.errors as errors

PACKAGE = Path(errors.__file__).resolve().parent
FORBIDDEN = {"Exception", "ValueError", "TypeError", "KeyError", "OSError", "Pix2LstError"}


def _raises(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            func = node.exc.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in FORBIDDEN:
                found.append((node.lineno, name))
    return found


def test_library_raises_only_leaves_of_the_hierarchy() -> None:
    bad = [
        f"{p.relative_to(PACKAGE.parent)}:{line} raises {name}"
        for p in sorted(PACKAGE.rglob("*.py"))
        for line, name in _raises(p)
    ]
    assert not bad, "raise a Pix2LstError leaf instead:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    "cls",
    [c for _, c in inspect.getmembers(errors, inspect.isclass) if c is not errors.Pix2LstError],
)
def test_every_leaf_is_also_a_builtin(cls: type) -> None:
    assert issubclass(cls, errors.Pix2LstError)
    builtins = [
        b
        for b in cls.__mro__
        if b.__module__ == "builtins" and b not in (object, Exception, BaseException)
    ]
    assert builtins, f"{cls.__name__} should also inherit the builtin it refines"


def test_bad_parameters_are_parameter_errors() -> None:
    from pix2lst.geo.units import parse_temperature_units
    from pix2lst.geo.writer import parse_creation_options

    with pytest.raises(errors.ParameterError, match="units must be 'K' or 'C'") as info:
        parse_temperature_units("F")
    assert isinstance(info.value, ValueError)
    with pytest.raises(errors.ParameterError, match="NAME=VALUE"):
        parse_creation_options(["COMPRESS"])
