"""`tflite-edge convert`: a thin shell over convert(); bad input is one line, exit 2, no file."""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pytest

from conftest import ROOT, run
from tflite_edge import reference
from tflite_edge.cli import main
from tflite_edge.model.inspect import inspect

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def files(tmp_path_factory, digits, digits_cnn):
    """The digits CNN saved as .keras, .h5 and SavedModel, and the digits data as .npz."""
    d = tmp_path_factory.mktemp("convert_cli")
    (x_tr, y_tr), (x_te, y_te) = digits
    digits_cnn.save(d / "cnn.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "HDF5 is a legacy format": on purpose
        digits_cnn.save(d / "cnn.h5")
    digits_cnn.save(d / "cnn_savedmodel")
    np.savez(d / "data.npz", x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te)
    return d


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def _accuracy_in_tflm(tflite: bytes, x: np.ndarray, y: np.ndarray) -> float:
    ref = reference.Reference(tflite)
    q = ref.model.input_tensors[0].quantization
    xq = np.clip(np.round(x / q.scale[0]) + q.zero_point[0], -128, 127).astype(np.int8)
    return float(np.mean(np.argmax(ref.run(xq), -1) == y))


def test_convert_json_from_a_real_process(files, digits, tmp_path):
    out = tmp_path / "out.tflite"
    proc = run(
        [sys.executable, "-m", "tflite_edge", "convert", str(files / "cnn.keras"),
         "--data", str(files / "data.npz"), "--sparsity", "0.75", "--epochs", "2",
         "--fine-tune-epochs", "1", "-o", str(out), "--json"],
        cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # stdout is exactly one JSON document, no log noise
    data = out.read_bytes()
    _, (x_te, y_te) = digits
    assert doc["output"] == str(out)
    assert doc["tflite_bytes"] == len(data)
    assert doc["method"] == "prune 75% + PQAT"
    report = inspect(data)
    assert doc["sparsity"] == pytest.approx(report.weight_sparsity) and doc["sparsity"] >= 0.7
    assert doc["arena_bytes"] == reference.Reference(data).arena().total
    assert doc["int8_accuracy"] == pytest.approx(_accuracy_in_tflm(data, x_te, y_te))
    assert doc["ops"] == report.ops


@pytest.mark.parametrize("name", ["cnn.h5", "cnn_savedmodel"])
def test_convert_prints_the_table(files, name, tmp_path, capsys):
    out = tmp_path / "out.tflite"
    code = main(["convert", str(files / name), "--data", str(files / "data.npz"), "--no-qat",
                 "-o", str(out)])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "method                PTQ" in captured.out
    assert "int8 accuracy (TFLM)" in captured.out
    assert f"wrote {out} ({out.stat().st_size:,} B)" in captured.out
    assert f"{reference.Reference(out).arena().total:,} B" in captured.out


# --------------------------------------------------------------------------- bad input


def _fails(args: list[str], out, capsys, *needles: str) -> None:
    code = main([*args, "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("tflite-edge convert: error: ")
    for needle in needles:
        assert needle in err, err
    assert not out.exists()
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []


def test_missing_model_real_process(files, tmp_path):
    out = tmp_path / "out.tflite"
    proc = run(
        [sys.executable, "-m", "tflite_edge", "convert", str(tmp_path / "nope.keras"),
         "--data", str(files / "data.npz"), "-o", str(out)],
        cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"tflite-edge convert: error: model {str(tmp_path / 'nope.keras')!r} does not exist; "
        "pass a Keras model file (.keras or .h5) or a SavedModel folder"
    ]
    assert not out.exists()


def test_non_model_files(files, tmp_path, capsys):
    out = tmp_path / "out.tflite"
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    _fails(["convert", str(text), "--data", str(files / "data.npz")], out, capsys,
           "is not a Keras model file (.keras or .h5) or a SavedModel folder")  # fmt: skip
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"\x00" * 64)
    _fails(["convert", str(garbage), "--data", str(files / "data.npz")], out, capsys,
           "could not be loaded")  # fmt: skip
    tflite = tmp_path / "m.h5"
    tflite.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\x00" * 64)
    _fails(["convert", str(tflite), "--data", str(files / "data.npz")], out, capsys,
           "could not be loaded")  # fmt: skip


def test_bad_data_files(files, tmp_path, capsys):
    out = tmp_path / "out.tflite"
    model = str(files / "cnn.keras")
    _fails(["convert", model, "--data", str(tmp_path / "nope.npz")], out, capsys,
           "data file", "does not exist")  # fmt: skip
    junk = tmp_path / "junk.npz"
    junk.write_text("x_train,y_train\n1,2\n")
    _fails(["convert", model, "--data", str(junk)], out, capsys, "is not a readable .npz")
    wrong = _npz(tmp_path / "wrong.npz", images=np.zeros((2, 8, 8, 1), np.float32))
    _fails(["convert", model, "--data", wrong], out, capsys,
           "has arrays ['images']; expected x_train, y_train")  # fmt: skip


def test_bad_arrays(files, digits, tmp_path, capsys):
    (x_tr, y_tr), _ = digits
    out = tmp_path / "out.tflite"
    model = str(files / "cnn.keras")
    nan = x_tr.copy()
    nan[0, 0, 0, 0] = np.nan
    cases = [
        ({"x_train": x_tr, "y_train": y_tr[:-5]}, "labels do not match the inputs"),
        ({"x_train": x_tr[:0], "y_train": y_tr[:0]}, "train_data inputs is empty"),
        ({"x_train": nan, "y_train": y_tr}, "contains 1 NaN or infinite values"),
        ({"x_train": x_tr.reshape(-1, 64), "y_train": y_tr}, "the model expects (N, 8, 8, 1)"),
        ({"x_rep": x_tr[:20, :4]}, "representative_data has shape (20, 4, 8, 1)"),
        ({"x_rep": (x_tr[:20] * 16).astype(np.uint8)}, "representative_data has dtype uint8"),
        ({"x_train": x_tr, "y_train": y_tr + 10}, "labels run from 10 to 19"),
    ]
    for i, (arrays, needle) in enumerate(cases):
        _fails(["convert", model, "--data", _npz(tmp_path / f"d{i}.npz", **arrays)], out,
               capsys, needle)  # fmt: skip


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--sparsity", "1.0"], "sparsity must be in [0, 1)"),
        (["--sparsity", "-0.25"], "sparsity must be in [0, 1)"),
        (["--sparsity", "0.75", "--structured", "2:4"], "leave sparsity unset with 2:4"),
        (["--epochs", "0", "--sparsity", "0.5"], "pruning needs epochs >= 1"),
        (["--learning-rate", "nan"], "learning_rate must be a positive finite number, found nan"),
        (["--learning-rate", "-1"], "learning_rate must be a positive finite number, found -1"),
        (["--learning-rate", "inf"], "learning_rate must be a positive finite number, found inf"),
    ],
)
def test_bad_options(files, tmp_path, capsys, flags, needle):
    out = tmp_path / "out.tflite"
    _fails(["convert", str(files / "cnn.keras"), "--data", str(files / "data.npz"), *flags],
           out, capsys, needle)  # fmt: skip


def test_missing_output_folder_fails_before_training(files, tmp_path, capsys):
    out = tmp_path / "no" / "such" / "out.tflite"
    code = main(["convert", str(files / "cnn.keras"), "--data", str(files / "data.npz"),
                 "--sparsity", "0.5", "-o", str(out)])  # fmt: skip
    assert code == 2
    assert "output folder" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()


def test_unsupported_layer(digits, tmp_path, capsys):
    import tf_keras as keras

    (x_tr, y_tr), _ = digits
    m = keras.Sequential([keras.layers.Input((8, 8, 1)), keras.layers.Flatten(),
                          keras.layers.LayerNormalization(name="norm"),
                          keras.layers.Dense(10)])  # fmt: skip
    m.save(tmp_path / "norm.keras")
    data = _npz(tmp_path / "d.npz", x_train=x_tr, y_train=y_tr)
    _fails(["convert", str(tmp_path / "norm.keras"), "--data", data, "--sparsity", "0.5"],
           tmp_path / "out.tflite", capsys,
           "layer 'norm' (LayerNormalization) cannot be quantization-aware trained",
           "--no-qat")  # fmt: skip
