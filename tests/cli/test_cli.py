"""The CLI shell: every sub-command of the design is there; usage errors exit 2 in one line."""

from __future__ import annotations

import sys

import pytest

from conftest import run

COMMANDS = [
    "convert",
    "inspect",
    "render",
    "build",
    "flash",
    "run",
    "monitor",
    "validate",
    "bench",
    "report",
    "boards",
]


def cli(*args: str):
    return run([sys.executable, "-m", "tflite_edge", *args])


def test_help_lists_every_command():
    res = cli("--help")
    assert res.returncode == 0
    for cmd in COMMANDS:
        assert cmd in res.stdout


@pytest.mark.parametrize("cmd", COMMANDS)
def test_each_command_has_help(cmd):
    res = cli(cmd, "--help")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: tflite-edge " + cmd)


def test_unknown_command_is_one_line_exit_2():
    res = cli("frobnicate")
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1
    assert "invalid choice" in res.stderr


def test_version():
    from tflite_edge import __version__

    res = cli("--version")
    assert res.stdout.strip() == f"tflite-edge {__version__}"


def _one_line_exit_2(res, *needles: str) -> None:
    assert res.returncode == 2, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    for needle in needles:
        assert needle in lines[0]


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_bad_output_paths_are_one_line_errors_and_write_nothing(models_dir, tmp_path):
    import numpy as np

    model = str(models_dir / "hello_world_int8.tflite")
    out_dir = tmp_path / "a-directory"
    out_dir.mkdir()
    np.save(tmp_path / "in.npy", np.zeros((2, 1), np.int8))
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 1), np.float32))
    cases = [
        (
            ["flash", "--board", "host", "--model", model, "--results", str(out_dir)],
            "is a directory",
        ),
        (
            [
                "flash",
                "--board",
                "host",
                "--model",
                model,
                "--results",
                str(tmp_path / "missing" / "r.json"),
            ],
            "does not exist",
        ),
        (
            [
                "run",
                "--board",
                "host",
                "--model",
                model,
                "--input",
                str(tmp_path / "in.npy"),
                "-o",
                str(tmp_path / "missing" / "o.npy"),
            ],
            "does not exist",
        ),
        (
            [
                "run",
                "--board",
                "host",
                "--model",
                model,
                "--input",
                str(tmp_path / "d.npz"),
                "-o",
                str(tmp_path / "o.npy"),
            ],
            # an .npz names its arrays by input (tensor name or position): x names none
            "input array 'x' names no input",
        ),
        (
            [
                "validate",
                "--board",
                "host",
                "--model",
                model,
                "--data",
                str(tmp_path / "d.npz"),
                "-o",
                str(out_dir),
            ],
            "is a directory",
        ),
        (["render", model, "-o", "/proc/tflite-edge-cannot-write-here"], ""),
        (["inspect", "/proc/self/mem"], ""),
    ]
    for args, needle in cases:
        _one_line_exit_2(cli(*args), needle)
    assert _leftovers(tmp_path) == [] and _leftovers(out_dir) == []
    assert not (tmp_path / "o.npy").exists()
