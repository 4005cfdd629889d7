"""The flatbuffer reader: shapes, quantization, operators and constants match TFLM's own view."""

from __future__ import annotations

import numpy as np
import pytest

from tflite_edge import ModelError
from tflite_edge.model import c_identifier, known_input, load_model
from tflite_edge.reference import Reference


def test_reader_agrees_with_interpreter(reference_model):
    m = load_model(reference_model)
    ref = Reference(m)
    t_in, t_out = m.input_tensors[0], m.output_tensors[0]
    assert t_in.shape == ref.input_shape
    assert t_out.shape == ref.output_shape
    q = ref.input_details["quantization_parameters"]
    np.testing.assert_array_equal(t_in.quantization.scale, q["scales"])
    np.testing.assert_array_equal(t_in.quantization.zero_point, q["zero_points"])
    assert m.sha256 == __import__("hashlib").sha256(reference_model.read_bytes()).hexdigest()


def test_constants_are_the_file_bytes(reference_model):
    # every constant tensor's bytes appear verbatim in the file
    m = load_model(reference_model)
    data = reference_model.read_bytes()
    consts = [t for t in m.tensors if t.is_constant]
    assert consts
    for t in consts:
        assert t.data.tobytes() in data


def test_operators_have_options(models_dir):
    m = load_model(models_dir / "kws_ref_model.tflite")
    conv = next(op for op in m.operators if op.op == "CONV_2D")
    assert conv.options["padding"] in ("SAME", "VALID")
    assert conv.options["fusedActivationFunction"] in ("NONE", "RELU", "RELU6")
    weights = m.tensors[conv.inputs[1]]
    assert weights.quantization.per_channel
    assert weights.quantization.scale.size == weights.shape[0]


def test_known_input_is_deterministic_and_typed(reference_model):
    m = load_model(reference_model)
    a, b = known_input(m), known_input(load_model(reference_model))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == m.input_tensors[0].dtype and a.shape == m.input_tensors[0].shape


@pytest.mark.parametrize(
    "name", ['a"; system("x"); //', "3d-model", "héllo wörld", "", "__", "int"]
)
def test_c_identifier_is_safe(name):
    ident = c_identifier(name)
    assert ident[0].isalpha()
    assert all(c.isalnum() or c == "_" for c in ident) and ident.isascii()
    assert ident not in ("int", "static", "return")


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "nope.tflite")


class _Layered:
    layers = ()


@pytest.mark.parametrize(
    "src, hint",
    [
        (None, "the path of a .tflite file"),
        (3, "the path of a .tflite file"),
        (_Layered(), "convert()"),
    ],
)
def test_not_a_model_at_all(src, hint):
    with pytest.raises(TypeError, match="expected a .tflite model") as e:
        load_model(src)
    assert hint in str(e.value) and "\n" not in str(e.value)


def test_a_conversion_result_is_its_tflite_bytes(models_dir):
    data = (models_dir / "hello_world_int8.tflite").read_bytes()

    class Converted:  # what load_model reads of a ConversionResult
        tflite = data

    assert load_model(Converted()).sha256 == load_model(data).sha256


def test_not_a_flatbuffer(tmp_path):
    p = tmp_path / "x.tflite"
    p.write_bytes(b"this is not a model at all")
    with pytest.raises(ModelError, match="not a TFLite flatbuffer"):
        load_model(p)


def test_truncated_flatbuffer(models_dir):
    data = (models_dir / "kws_ref_model.tflite").read_bytes()
    with pytest.raises(ModelError, match="corrupt"):
        load_model(data[:4000])


def test_corrupted_bytes_give_model_error_or_a_consistent_model(models_dir):
    # flip bytes all over a real model: the reader either rejects it with ModelError or returns
    # a model whose indices are all in range; nothing else escapes
    data = bytearray((models_dir / "hello_world_int8.tflite").read_bytes())
    rng = np.random.default_rng(0)
    for offset in [540, 1194, *rng.integers(0, len(data), 200)]:
        bad = bytearray(data)
        bad[offset] ^= 0xFF
        try:
            m = load_model(bytes(bad))
        except ModelError:
            continue
        n = len(m.tensors)
        assert all(-1 <= i < n for op in m.operators for i in op.inputs)
        assert all(0 <= i < n for i in m.inputs + m.outputs)
