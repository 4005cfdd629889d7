"""Bad data on `validate`, `run` and `flash`: one line saying what was expected, exit 2,
nothing written, and no board booted for input that can be judged before."""

from __future__ import annotations

import numpy as np
import pytest

from tflite_edge import DataError, flasher
from tflite_edge.boards.families import host
from tflite_edge.cli import main
from tflite_edge.data import load_npz, split_samples
from tflite_edge.model import load_model
from tflite_edge.runtimes import runtime_names, tflm


@pytest.fixture
def no_board(monkeypatch):
    """Fail the test if anything tries to build or boot a board."""

    def refuse(*_args, **_kw):
        raise AssertionError("a board was built or booted for input that is bad up front")

    for name in ("run", "start", "build"):
        monkeypatch.setattr(flasher, name, refuse)


def _one_line_exit_2(capsys, argv: list[str], *needles: str) -> str:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _host_argv(command, data_flag, models_dir, data, out, model) -> list[str]:
    model_path = str(models_dir / model)
    return [command, "--board", "host", "--model", model_path, data_flag, str(data), "-o", str(out)]


def _validate(models_dir, data, out, model="hello_world_int8.tflite") -> list[str]:
    return _host_argv("validate", "--data", models_dir, data, out, model)


def _run(models_dir, inputs, out, model="hello_world_int8.tflite") -> list[str]:
    return _host_argv("run", "--input", models_dir, inputs, out, model)


def test_string_inputs_are_not_numeric(models_dir, tmp_path, capsys, no_board):
    np.savez(tmp_path / "xstr.npz", x=np.array([["a"], ["b"]]))
    argv = _validate(models_dir, tmp_path / "xstr.npz", tmp_path / "res.json")
    argv[2] = "qemu-m4"  # the board of the review; it is never booted
    _one_line_exit_2(capsys, argv, "must be numeric", "<U1")
    assert not (tmp_path / "res.json").exists()


@pytest.mark.parametrize(
    "model,shape,expected",
    [
        ("hello_world_int8.tflite", (3, 5), "(N, 1)"),
        ("kws_ref_model.tflite", (2, 10, 49, 1), "(N, 49, 10, 1)"),
        ("kws_ref_model.tflite", (2, 490), "(N, 49, 10, 1)"),
        ("hello_world_int8.tflite", (0, 1), "(N, 1)"),
    ],
)
def test_run_refuses_inputs_of_another_shape(
    models_dir, tmp_path, capsys, no_board, model, shape, expected
):
    np.save(tmp_path / "in.npy", np.zeros(shape, np.int8))
    line = _one_line_exit_2(
        capsys, _run(models_dir, tmp_path / "in.npy", tmp_path / "out.npy", model), expected
    )
    assert str(shape) in line
    assert not (tmp_path / "out.npy").exists()


def test_run_takes_a_batch_or_exactly_the_input_shape(models_dir):
    m = load_model(models_dir / "kws_ref_model.tflite")
    for shape in [(3, 49, 10, 1), (1, 49, 10, 1)]:
        assert split_samples(m, np.zeros(shape, np.int8)).shape == shape


@pytest.mark.parametrize(
    "arrays,found",
    [
        ({"a": np.zeros((2, 1), np.float32)}, "holds a;"),
        (
            {"x_train": np.zeros((2, 1), np.float32), "y_train": np.zeros(2, np.int64)},
            "holds x_train, y_train;",
        ),
    ],
)
def test_validate_needs_the_test_keys(models_dir, tmp_path, capsys, no_board, arrays, found):
    np.savez(tmp_path / "d.npz", **arrays)
    _one_line_exit_2(
        capsys,
        _validate(models_dir, tmp_path / "d.npz", tmp_path / "res.json"),
        found,
        "x_test and y_test, or x and y",
    )
    assert not (tmp_path / "res.json").exists()


def test_validate_prefers_the_test_split(tmp_path):
    x_test, y_test = np.ones((2, 1), np.float32), np.zeros(2, np.int64)
    np.savez(tmp_path / "d.npz", x=np.zeros((5, 1)), y=np.zeros(5), x_test=x_test, y_test=y_test)
    x, y = load_npz(tmp_path / "d.npz")
    np.testing.assert_array_equal(x, x_test)
    np.testing.assert_array_equal(y, y_test)


@pytest.mark.parametrize(
    "y,needle",
    [
        (np.array(["cat", "dog"]), "not integers"),
        (np.array([0.5, 0.0]), "not integers"),
        (np.eye(2, dtype=np.int64), "one-hot"),
        (np.array([0, 3]), "labels range from 0 to 3"),
    ],
)
def test_validate_labels_must_be_class_indices(models_dir, tmp_path, capsys, no_board, y, needle):
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 1), np.float32), y=y)
    _one_line_exit_2(capsys, _validate(models_dir, tmp_path / "d.npz", tmp_path / "r.json"), needle)
    assert not (tmp_path / "r.json").exists()


def test_validate_blames_the_shape_of_x_not_the_labels(models_dir, tmp_path, capsys, no_board):
    np.savez(tmp_path / "d.npz", x=np.zeros((4, 7), np.float32), y=np.zeros(4, np.int64))
    line = _one_line_exit_2(
        capsys,
        _validate(models_dir, tmp_path / "d.npz", tmp_path / "r.json"),
        "(4, 7)",
        "(1, 1)",
        "(N, 1)",
    )
    assert "labels" not in line
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("name", ["notnpy.npy", "corrupt.npz", "empty.npy"])
def test_a_text_file_is_not_numpy(models_dir, tmp_path, capsys, no_board, name):
    bad = tmp_path / name
    bad.write_text("" if name == "empty.npy" else "hello, this is text\n")
    argv = (
        _validate(models_dir, bad, tmp_path / "r.json")
        if name.endswith(".npz")
        else _run(models_dir, bad, tmp_path / "r.npy")
    )
    line = _one_line_exit_2(capsys, argv, "is not a NumPy .npy/.npz file", "numpy.save")
    assert "pickle" not in line
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "r.npy").exists()


def test_object_arrays_get_our_message_not_numpys(models_dir, tmp_path, capsys, no_board):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None]), allow_pickle=True)
    line = _one_line_exit_2(
        capsys, _run(models_dir, tmp_path / "obj.npy", tmp_path / "o.npy"), "Python objects"
    )
    assert "allow_pickle" not in line and not (tmp_path / "o.npy").exists()


@pytest.mark.parametrize("runtime", runtime_names())  # tflm on host renders nothing
def test_flash_out_with_other_files_names_flash_options(
    runtime, models_dir, tmp_path, capsys, monkeypatch
):
    def refuse(*_args, **_kw):
        raise AssertionError("flash built or started a board in a directory of other files")

    monkeypatch.setattr(flasher, "build", refuse)  # flash stops at rendering, before a build
    monkeypatch.setattr(host, "PtyProcess", refuse)  # the host firmware
    monkeypatch.setattr(tflm, "PtyProcess", refuse)  # the TFLM host board
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "mine.txt").write_text("not ours")
    argv = ["flash", "--board", "host", "--runtime", runtime,
            "--model", str(models_dir / "hello_world_int8.tflite")]  # fmt: skip
    line = _one_line_exit_2(capsys, argv + ["--out", str(keep)], "mine.txt", "(--out)")
    assert "force" not in line and "-o " not in line
    assert sorted(p.name for p in keep.iterdir()) == ["mine.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep"]  # no staging folder left


def test_library_keeps_the_documented_shapes(models_dir):
    m = load_model(models_dir / "hello_world_int8.tflite")
    with pytest.raises(DataError, match=r"shape \(25,\) does not split"):
        split_samples(m, np.zeros(25, np.float32))


def test_missing_files_say_what_could_not_be_read(models_dir, tmp_path, capsys, no_board):
    cases = [
        (_run(models_dir, tmp_path / "none.npy", tmp_path / "o.npy"), "cannot read inputs from"),
        (_validate(models_dir, tmp_path / "none.npz", tmp_path / "r.json"), "cannot read data"),
    ]
    for argv, needle in cases:
        _one_line_exit_2(capsys, argv, needle, "does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_samples_must_be_a_whole_number(models_dir):
    from tflite_edge import validate

    x = np.zeros((4, 1), np.float32)
    for samples in (0, "3", 1.5, True):
        with pytest.raises(DataError, match="samples .* must be a whole number >= 1"):
            validate(models_dir / "hello_world_int8.tflite", x, board="host", samples=samples)
