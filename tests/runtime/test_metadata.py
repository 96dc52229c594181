"""The metadata contract: output units (format 2), old files read as kelvin, a light import."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

from pix2lst.data import default_model_path
from pix2lst.errors import ModelError
from pix2lst.runtime.metadata import FORMAT_VERSION, KELVIN, ModelMetadata
from pix2lst.runtime.model import load_model
from tests.conftest import make_model, metadata, run_python


def _props(path: Path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


def _rewrite(path: Path, props: dict[str, str]) -> Path:
    model = onnx.load(str(path))
    onnx.helper.set_model_props(model, props)
    onnx.save(model, str(path))
    return path


def test_output_units_written_and_read() -> None:
    meta = metadata(32)
    props = meta.to_props()
    assert FORMAT_VERSION == 2 and meta.format_version == FORMAT_VERSION
    assert json.loads(props["pix2lst.output_units"]) == KELVIN == "K"
    back = ModelMetadata.from_props(props)
    assert back == meta and back.output_units == "K"


@pytest.mark.parametrize("units", ["degC", "C", "k", "", None, 300])
def test_output_units_other_than_kelvin_refused(units: object) -> None:
    with pytest.raises(ModelError, match="kelvin"):
        metadata(32, output_units=units)
    props = metadata(32).to_props()
    props["pix2lst.output_units"] = json.dumps(units)
    with pytest.raises(ModelError, match=r"m\.onnx .*kelvin"):
        ModelMetadata.from_props(props, source="m.onnx")


def test_new_format_without_output_units_refused() -> None:
    props = metadata(32).to_props()
    del props["pix2lst.output_units"]
    with pytest.raises(
        ModelError, match=r"m\.onnx has pix2lst metadata format 2 but no output_units"
    ):
        ModelMetadata.from_props(props, source="m.onnx")


def test_format_1_without_output_units_is_kelvin() -> None:
    props = metadata(32).to_props()
    del props["pix2lst.output_units"]
    props["pix2lst.format_version"] = "1"
    meta = ModelMetadata.from_props(props)
    assert meta.output_units == "K" and meta.format_version == 1
    del props["pix2lst.format_version"]  # older still: no version at all
    meta = ModelMetadata.from_props(props)
    assert meta.output_units == "K" and meta.format_version == 1


@pytest.mark.parametrize(("version", "match"), [("0", "not a version"), ("3", "newer"),
                                                ('"two"', "malformed")])  # fmt: skip
def test_bad_format_versions_refused(version: str, match: str) -> None:
    props = metadata(32).to_props()
    props["pix2lst.format_version"] = version
    with pytest.raises(ModelError, match=match):
        ModelMetadata.from_props(props)


def test_shipped_default_model_states_its_output_units() -> None:
    props = _props(default_model_path())
    assert props["pix2lst.output_units"] == '"K"' and props["pix2lst.format_version"] == "2"
    loaded = load_model(None)
    assert loaded.metadata.output_units == "K" and loaded.metadata.format_version == 2


def test_runtime_refuses_a_model_in_celsius(tmp_path: Path) -> None:
    path = make_model(tmp_path / "c.onnx", "constant", value=27.0)
    assert load_model(path).metadata.output_units == "K"
    props = _props(path)
    props["pix2lst.output_units"] = json.dumps("degC")
    _rewrite(path, props)
    with pytest.raises(ModelError, match=r"c\.onnx gives output in 'degC'.*kelvin"):
        load_model(path)
    del props["pix2lst.output_units"]
    _rewrite(path, props)
    with pytest.raises(ModelError, match="no output_units"):
        load_model(path)


def test_metadata_imports_without_onnxruntime_and_torch() -> None:
    code = (
        "import sys; sys.modules['onnxruntime'] = None; sys.modules['torch'] = None\n"
        "import pix2lst.runtime.metadata as md\n"
        "m = md.ModelMetadata(('B10',), 'toa', (1.0,), (0.0,), 1.0, 0.0, 32)\n"
        "assert md.ModelMetadata.from_props(m.to_props()) == m\n"
        "loaded = {k for k, v in sys.modules.items() if v is not None}\n"
        "assert not loaded & {'onnxruntime', 'torch', 'numba', 'rasterio'}, loaded\n"
        "assert 'pix2lst.runtime.model' not in loaded\n"
        "print('ok')\n"
    )
    run_python(code, timeout=60)


def test_runtime_names_resolve_lazily() -> None:
    import pix2lst.runtime as rt
    from pix2lst.runtime import LSTPredictor
    from pix2lst.runtime.predictor import LSTPredictor as Direct

    assert LSTPredictor is Direct
    assert sorted(rt.__all__) == dir(rt)
    for name in rt.__all__:
        assert getattr(rt, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        rt.nope  # noqa: B018
