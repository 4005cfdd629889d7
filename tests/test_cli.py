"""The CLI shell: every sub-command of the design is there; usage errors exit 2 in one line."""

from __future__ import annotations

import sys

import pytest
from conftest import run

COMMANDS = ["convert", "inspect", "render", "build", "flash", "run", "monitor", "validate",
            "bench", "report", "boards"]


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
