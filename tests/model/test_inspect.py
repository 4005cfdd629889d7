"""inspect(): tensors, ops, quantization, sizes and TFLM arena, checked against references."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from conftest import ROOT, run
from tflite_edge import reference
from tflite_edge.errors import ModelError
from tflite_edge.model import load_model
from tflite_edge.model.inspect import inspect, weight_sparsity


def _cli(*args: str):
    return run([sys.executable, "-m", "tflite_edge", *args], cwd=ROOT)


def test_reference_models(reference_model):
    report = inspect(reference_model)
    model = load_model(reference_model)
    arena = reference.Reference(reference_model).arena()
    assert (report.arena_bytes, report.arena_head_bytes, report.arena_tail_bytes) == (
        arena.total,
        arena.head,
        arena.tail,
    )
    assert report.ops == model.ops
    assert report.tflm_missing_ops == []
    assert all(o.tflm for o in report.operators)
    assert len(report.operators) == len(model.operators)
    assert report.size_bytes == reference_model.stat().st_size
    assert report.sha256 == model.sha256
    assert [t.index for t in report.inputs] == list(model.inputs)
    assert report.inputs[0].dtype == "int8"
    q = model.input_tensors[0].quantization
    assert report.inputs[0].scale == [float(q.scale[0])]
    assert report.inputs[0].zero_point == [int(q.zero_point[0])]
    assert report.weight_bytes == sum(t.nbytes for t in model.tensors if t.is_constant)
    assert report.weight_sparsity == pytest.approx(weight_sparsity(model))


def test_weight_sparsity_counts_int8_weights_of_conv_and_fc(models_dir):
    model = load_model(models_dir / "kws_ref_model.tflite")
    weights = [
        model.tensors[o.inputs[1]]
        for o in model.operators
        if o.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
    ]
    zeros = sum(int(np.count_nonzero(t.data == 0)) for t in weights)
    assert weight_sparsity(model) == pytest.approx(zeros / sum(t.size for t in weights))
    kinds = {t.index: t.kind for t in inspect(model).tensors}
    assert all(kinds[t.index] == "weight" for t in weights)


def test_summary_and_dict(models_dir):
    report = inspect(models_dir / "kws_ref_model.tflite")
    text = report.summary()
    assert f"{report.arena_bytes:,} B TFLM total" in text
    for op in report.ops:
        assert op in text
    doc = json.loads(json.dumps(report.to_dict()))
    assert doc["arena_bytes"] == report.arena_bytes
    assert doc["op_counts"] == report.op_counts
    assert doc["tflm_ok"] is True
    assert len(doc["tensors"]) == len(report.tensors)


def test_cli_inspect_on_every_reference_model(reference_model):
    proc = _cli("inspect", str(reference_model), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["arena_bytes"] == reference.Reference(reference_model).arena().total
    assert doc["ops"] == load_model(reference_model).ops
    text = _cli("inspect", str(reference_model))
    assert text.returncode == 0 and f"{doc['arena_bytes']:,} B" in text.stdout


@pytest.mark.slow
def test_inspect_converted_digits(digits_sparse):
    report = inspect(digits_sparse.tflite)
    assert report.weight_sparsity == pytest.approx(digits_sparse.metrics["sparsity"])
    assert report.arena_bytes == digits_sparse.metrics["arena_bytes"]
    assert [t.sparsity >= 0.7 for t in report.tensors if t.kind == "weight"] == [True] * 4


@pytest.mark.slow
def test_inspect_reports_ops_missing_from_tflm():
    import tensorflow as tf
    import tf_keras as keras

    m = keras.Sequential(
        [keras.layers.Input((4,)), keras.layers.Dense(4), keras.layers.Activation("gelu")]
    )
    data = tf.lite.TFLiteConverter.from_keras_model(m).convert()
    report = inspect(data)
    assert report.tflm_missing_ops == ["GELU"]
    assert [o.tflm for o in report.operators] == [True, False]
    assert report.arena_bytes is None and "GELU" in report.arena_error
    assert "NO - not in TFLM" in report.summary()
    assert report.to_dict()["tflm_ok"] is False


# --------------------------------------------------------------------------- bad input


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        inspect(tmp_path / "nope.tflite")
    proc = _cli("inspect", str(tmp_path / "nope.tflite"))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_not_a_tflite_file(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"PK\x03\x04 a zip file, not a flatbuffer")
    with pytest.raises(ModelError, match="is not a TFLite flatbuffer"):
        inspect(path)
    proc = _cli("inspect", str(path), "--json")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "not a TFLite flatbuffer" in proc.stderr


def test_truncated_flatbuffer(models_dir, tmp_path):
    data = (models_dir / "kws_ref_model.tflite").read_bytes()
    path = tmp_path / "cut.tflite"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="corrupt TFLite flatbuffer"):
        inspect(path)
    proc = _cli("inspect", str(path))
    assert proc.returncode == 2 and "corrupt" in proc.stderr and "Traceback" not in proc.stderr


# Byte positions of hello_world_int8.tflite whose corruption parses but used to crash the TFLM
# interpreter (segfault) or the flatbuffer reader (ValueError/IndexError): operator tensor
# indices, buffer sizes, and vector lengths.
@pytest.mark.parametrize("offset", [540, 1124, 1164, 1194, 1404, 1506, 1677, 2164, 2688])
def test_corrupt_flatbuffer_is_an_error_not_a_crash(models_dir, offset):
    data = bytearray((models_dir / "hello_world_int8.tflite").read_bytes())
    data[offset] ^= 0xFF
    try:
        report = inspect(bytes(data))
    except ModelError as err:
        assert "corrupt" in str(err) or "TFLM" in str(err)
    else:  # a flip that leaves a valid model is fine, as long as nothing crashed
        assert report.size_bytes == len(data)
