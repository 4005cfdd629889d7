"""convert(activations="int16") and `tflite-edge convert --activations int16`: 16x8 models
(int16 activations, int8 weights, int64 biases) measured in TFLM under honest metric keys;
bad values and QAT refused in one line."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from tflite_edge import convert
from tflite_edge.cli import main
from tflite_edge.errors import TFLiteEdgeError
from tflite_edge.model import load_model
from tflite_edge.reference import Reference


@functools.cache
def _data():
    """A small seeded data set: 4 classes of 6x6 images (which halves are bright)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(160, 6, 6, 1)).astype(np.float32)
    y = (x[:, :3].mean(axis=(1, 2, 3)) > 0.5).astype(np.int64) + 2 * (
        x[:, :, :3].mean(axis=(1, 2, 3)) > 0.5
    )
    return x, y


@functools.cache
def _model():
    """A tiny trained tf_keras CNN (seeded; a few seconds)."""
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    x, y = _data()
    m = keras.Sequential([
        keras.layers.Input((6, 6, 1)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(4),
    ])  # fmt: skip
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
    m.fit(x, y, epochs=3, batch_size=32, verbose=0)
    return m


def _tflm_accuracy(data: bytes, x: np.ndarray, y: np.ndarray) -> float:
    ref = Reference(data)
    q = ref.model.input_tensors[0].quantization
    xq = np.clip(np.round(x / q.scale[0]) + q.zero_point[0], -32768, 32767).astype(np.int16)
    return float(np.mean(np.argmax(ref.run(xq), -1) == y))


def test_int16_conversion_is_16x8_and_measured_under_its_own_key():
    x, y = _data()
    result = convert(_model(), validation_data=(x, y), qat=False, activations="int16")
    m = load_model(result.tflite)
    assert m.input_tensors[0].dtype == np.int16 and m.output_tensors[0].dtype == np.int16
    conv = m.operators[0]
    w, b = m.tensors[conv.inputs[1]], m.tensors[conv.inputs[2]]
    assert (conv.op, w.dtype, b.dtype) == ("CONV_2D", np.int8, np.int64)
    assert int(m.input_tensors[0].quantization.zero_point[0]) == 0  # symmetric int16
    metrics = result.metrics
    assert metrics["activations"] == "int16"
    assert "int8_accuracy" not in metrics  # a 16x8 score is not an int8 one
    assert metrics["int16_accuracy"] == pytest.approx(_tflm_accuracy(result.tflite, x, y))
    assert abs(metrics["int16_accuracy"] - metrics["float_accuracy"]) <= 0.05
    assert metrics["method"] == "PTQ"
    text = result.summary()
    assert "16x8 accuracy (TFLM)" in text and "int8 accuracy" not in text


def test_bad_activations_and_qat_are_refused_in_one_line():
    x, y = _data()
    with pytest.raises(TFLiteEdgeError, match=r"activations 'int4' is not supported; expected "
                       r"one of int8, int16") as err:  # fmt: skip
        convert(_model(), validation_data=(x, y), activations="int4")
    assert "\n" not in str(err.value)
    # tfmot's QAT simulates int8 activations: 16x8 after it is refused, before any training
    with pytest.raises(TFLiteEdgeError, match="pass qat=False") as err:
        convert(_model(), train_data=(x, y), activations="int16", qat=True)
    assert "\n" not in str(err.value)


def test_cli_int16_and_bad_values(tmp_path, capsys):
    x, y = _data()
    _model().save(tmp_path / "cnn.keras")
    np.savez(tmp_path / "d.npz", x_train=x[:120], y_train=y[:120], x_test=x[120:],
             y_test=y[120:])  # fmt: skip
    base = ["convert", str(tmp_path / "cnn.keras"), "--data", str(tmp_path / "d.npz")]
    out = tmp_path / "m.tflite"

    with pytest.raises(SystemExit) as exit_:  # an argparse choice: exit status 2
        main([*base, "--activations", "int4", "-o", str(out)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "invalid choice: 'int4'" in err and "'int8'" in err and "'int16'" in err
    code = main([*base, "--activations", "int16", "--qat", "-o", str(out)])  # asked for QAT
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--no-qat" in err
    assert not out.exists()

    code = main([*base, "--activations", "int16", "-o", str(out), "--json", "-q"])  # no QAT
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    data = out.read_bytes()
    assert doc["activations"] == "int16" and "int8_accuracy" not in doc
    assert doc["int16_accuracy"] == pytest.approx(_tflm_accuracy(data, x[120:], y[120:]))
    assert doc["method"] == "PTQ" and doc["tflite_bytes"] == len(data)
    assert load_model(data).output_tensors[0].dtype == np.int16
