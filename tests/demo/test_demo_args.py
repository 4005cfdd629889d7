"""`tflite-edge demo` checks every argument before training: one line, exit 2, nothing written."""

from __future__ import annotations

import sys

import pytest

import tflite_edge
from conftest import run
from tflite_edge import demo as demo_module
from tflite_edge.cli import main
from tflite_edge.demo import DEMO_FILES
from tflite_edge.errors import TFLiteEdgeError, ToolchainError


class _Trained(Exception):
    """Raised by the stand-in for training: the demo got past its checks."""


@pytest.fixture
def training(monkeypatch):
    """Record every call of the training function, which stops the demo right there."""
    calls: list[int] = []

    def train(*_args, **_kwargs):
        calls.append(1)
        raise _Trained

    monkeypatch.setattr(demo_module, "train_digits_cnn", train)
    return calls


def demo_cli(capsys, *args: str) -> tuple[int, str, str]:
    """`tflite-edge demo --quiet ARGS` in this process: exit code, stdout, stderr."""
    try:
        code = main(["demo", "--quiet", *args])
    except SystemExit as exit_:  # argparse's error(): the CLI's own one-line message
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_exit_2(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("tflite-edge demo: error: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0]


def snapshot(folder) -> dict[str, bytes | None]:
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--epochs", "-1"], ["argument --epochs", "expected a positive number", "'-1'"]),
        (["--epochs", "0"], ["argument --epochs", "'0'"]),
        (["--epochs", "two"], ["argument --epochs", "'two'"]),
        (["--runs", "0"], ["argument --runs", "expected a positive number", "'0'"]),
        (["--runs", "2000000"], ["runs must be an integer from 1 to 1,000,000, found 2000000"]),
        (["--sparsity", "2"], ["argument --sparsity", "in [0, 1)", "'2'"]),
        (["--sparsity", "1"], ["argument --sparsity", "in [0, 1)", "'1'"]),
        (["--sparsity", "-0.1"], ["argument --sparsity", "'-0.1'"]),
        (["--sparsity", "nan"], ["argument --sparsity", "'nan'"]),
        (["--runtime", "cmsis"], ["argument --runtime", "invalid choice"]),
        (["--board", "stm32-nope"], ["unknown board 'stm32-nope'; known boards: ", "qemu-m4"]),
        (["--board", "esp32"], ["physical board", "--convert-only", "tflite-edge flash"]),
        (["--board", "esp32s3"], ["physical board", "--port PORT"]),
    ],
)
def test_bad_argument_fails_before_training_and_writes_nothing(
    args, needles, training, capsys, tmp_path
):
    out = tmp_path / "d"
    code, stdout, err = demo_cli(capsys, *args, "--out", str(out))
    assert_one_line_exit_2(code, err, *needles)
    assert training == []
    assert not out.exists()
    assert stdout == ""


def test_missing_toolchain_is_what_boards_check_says(training, capsys, tmp_path, monkeypatch):
    from tflite_edge.boards import get_board

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ToolchainError) as check:
        get_board("qemu-m4").require_toolchain()  # what `tflite-edge boards --check` raises
    out = tmp_path / "d"
    code, _, err = demo_cli(capsys, "--out", str(out))
    assert_one_line_exit_2(code, err, str(check.value))
    assert training == [] and not out.exists()

    code, _, err = demo_cli(capsys, "--board", "host", "--out", str(out))
    assert_one_line_exit_2(code, err, "gcc is not on PATH", "board host")
    assert training == [] and not out.exists()


def test_tflm_runtime_needs_a_tflite_micro_tree(training, capsys, tmp_path, monkeypatch):
    out = tmp_path / "d"
    monkeypatch.delenv("TFLM_DIR", raising=False)
    code, _, err = demo_cli(capsys, "--runtime", "tflm", "--out", str(out))
    assert_one_line_exit_2(code, err, "neither --tflm-dir nor TFLM_DIR", "--runtime aot")

    monkeypatch.setenv("TFLM_DIR", str(tmp_path))
    code, _, err = demo_cli(capsys, "--runtime", "tflm", "--out", str(out))
    assert_one_line_exit_2(code, err, f"TFLM_DIR={tmp_path} is not a tflite-micro tree")
    assert training == [] and not out.exists()


@pytest.mark.parametrize("convert_only", [False, True])
def test_folder_with_other_files_is_refused_and_left_alone(
    convert_only, training, capsys, tmp_path
):
    out = tmp_path / "d"
    out.mkdir()
    (out / "mine.txt").write_text("not the demo's\n")
    (out / "conversion.json").write_text("{}\n")  # a demo file beside it does not help
    before = snapshot(out)
    flags = ["--convert-only"] if convert_only else []
    code, _, err = demo_cli(capsys, "--out", str(out), *flags)
    assert_one_line_exit_2(code, err, "holds files the demo did not write (mine.txt)", "--out")
    assert training == []
    assert snapshot(out) == before


@pytest.mark.parametrize(
    "entry",
    ["notes/", "build-stm32-nope/", "build-qemu-m4/mine.c", "report.html/"],
    ids=["folder", "build-of-unknown-board", "build-folder-not-rendered", "dir-named-like-ours"],
)
def test_entries_that_only_look_like_ours_are_refused(entry, training, capsys, tmp_path):
    out = tmp_path / "d"
    target = out / entry.rstrip("/")
    if entry.endswith("/"):
        target.mkdir(parents=True)
    else:
        target.parent.mkdir(parents=True)
        target.write_text("int main(void) { return 0; }\n")
    before = snapshot(out)
    code, _, err = demo_cli(capsys, "--out", str(out))
    assert_one_line_exit_2(code, err, "holds files the demo did not write", entry.split("/")[0])
    assert training == [] and snapshot(out) == before


def test_out_that_is_a_file_is_refused(training, capsys, tmp_path):
    out = tmp_path / "d"
    out.write_text("a file\n")
    code, _, err = demo_cli(capsys, "--out", str(out))
    assert_one_line_exit_2(code, err, "exists and is not a folder")
    assert training == [] and out.read_text() == "a file\n"


def test_folder_of_an_earlier_demo_is_reused(training, capsys, tmp_path):
    """`make demo` twice into demo/: everything there is the demo's own, so it goes ahead."""
    out = tmp_path / "demo"
    out.mkdir()
    for name in DEMO_FILES:
        (out / name).write_text("from an earlier run\n")
    (out / f".{DEMO_FILES[2]}.x1y2.tmp").write_text("an interrupted atomic write\n")
    (out / "build-qemu-m4").mkdir()
    (out / "build-qemu-m4" / "tflite-edge.json").write_text('{"generator": "tflite-edge"}\n')
    (out / "build-host").mkdir()  # empty: nothing to lose
    with pytest.raises(_Trained):
        demo_cli(capsys, "--out", str(out))
    assert training == [1]
    # the earlier run's results are gone before this run trains: none can pass for its own
    left = {name for name in DEMO_FILES if (out / name).exists()}
    assert left == {"digits_test.npz"}
    assert (out / "digits_test.npz").read_bytes()[:2] == b"PK"  # this run's, an .npz


def test_empty_folder_is_used(training, capsys, tmp_path):
    with pytest.raises(_Trained):
        demo_cli(capsys, "--out", str(tmp_path))
    assert training == [1]


def test_convert_only_needs_no_board_toolchain(training, capsys, tmp_path, monkeypatch):
    """`make flash BOARD=esp32` makes its model with `demo --convert-only` on any machine."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("TFLM_DIR", raising=False)
    with pytest.raises(_Trained):
        demo_cli(capsys, "--board", "esp32", "--runtime", "tflm", "--convert-only")
    assert training == [1]


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"epochs": -1}, "epochs must be a positive integer, found -1"),
        ({"epochs": 1.5}, "epochs must be a positive integer, found 1.5"),
        ({"runs": 0}, "runs must be an integer from 1 to 1,000,000, found 0"),
        ({"runs": True}, "runs must be an integer from 1 to 1,000,000, found True"),
        ({"sparsity": 2.0}, "sparsity must be in [0, 1)"),
        ({"sparsity": "0.5"}, "sparsity must be in [0, 1)"),
        ({"runtime": "cmsis"}, "unknown runtime 'cmsis'"),
        ({"board": "stm32-nope"}, "unknown board 'stm32-nope'"),
    ],
)
def test_run_demo_checks_its_arguments_first(kwargs, needle, training, tmp_path):
    out = tmp_path / "d"
    with pytest.raises(TFLiteEdgeError) as err:
        demo_module.run_demo(out_dir=out, **kwargs)
    assert needle in str(err.value)
    assert training == [] and not out.exists()


def test_board_failing_midway_leaves_only_whole_files(capsys, tmp_path, monkeypatch):
    """Not bad input: the board fails after conversion; what was written is complete."""
    from tflite_edge.files import write_atomic

    class Converted:
        tflite = b"TFL3" * 64
        metrics = {
            "float_accuracy": 0.98,
            "int8_accuracy": 0.97,
            "sparsity": 0.75,
            "float_bytes": 1024,
            "tflite_bytes": 256,
            "arena_bytes": 128,
            "ops": ["CONV_2D"],
        }

        def save(self, path):
            return write_atomic(path, self.tflite)

    def board_dies(*_args, **_kwargs):
        raise ToolchainError("qemu-system-arm exited before the board said anything", tool="qemu")

    monkeypatch.setattr(demo_module, "train_digits_cnn", lambda *a, **k: object())
    # run_demo imports these from the package: stand-ins, without loading TensorFlow
    monkeypatch.setitem(vars(tflite_edge), "convert", lambda *a, **k: Converted())
    monkeypatch.setitem(vars(tflite_edge), "flash", board_dies)
    out = tmp_path / "d"
    code, _, err = demo_cli(capsys, "--out", str(out))
    assert_one_line_exit_2(code, err, "qemu-system-arm exited")
    assert sorted(p.name for p in out.iterdir()) == [
        "conversion.json",
        "digits_int8.tflite",
        "digits_test.npz",
    ]
    assert (out / "digits_int8.tflite").read_bytes() == Converted.tflite
    assert '"tflite_bytes": 256' in (out / "conversion.json").read_text()


def test_help_shows_the_sparsity_as_written():
    res = run([sys.executable, "-m", "tflite_edge", "demo", "--help"])
    assert res.returncode == 0, res.stderr
    assert "%%" not in res.stdout
    assert "prune it to 75% with PQAT" in " ".join(res.stdout.split())
    assert "build-BOARD/" in res.stdout  # the rule for reusing --out


def test_negative_epochs_through_the_installed_entry_point(tmp_path):
    out = tmp_path / "d"
    res = run([sys.executable, "-m", "tflite_edge", "demo", "--epochs", "-1", "--out", str(out)])
    assert_one_line_exit_2(res.returncode, res.stderr, "argument --epochs")
    assert not out.exists()
