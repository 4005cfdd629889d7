"""The Makefile's thin targets fail fast with the CLI's one-line messages."""

from __future__ import annotations

import shutil

import pytest

from conftest import ROOT, run
from tflite_edge.boards import boards_of


def make(*args: str):
    # -o install: the suite already runs inside the installed environment
    return run(["make", "--no-print-directory", "-o", "install", *args], cwd=ROOT)


@pytest.mark.skipif(shutil.which("idf.py") is not None, reason="ESP-IDF is installed here")
@pytest.mark.parametrize("board", list(boards_of("esp-idf")))
def test_flash_esp32_without_esp_idf_says_what_to_install(board, tmp_path):
    res = make("flash", f"BOARD={board}", f"MODEL={tmp_path / 'never-made.tflite'}")
    assert res.returncode != 0
    assert "idf.py is not on PATH" in res.stderr and "install ESP-IDF" in res.stderr
    assert not (tmp_path / "never-made.tflite").exists()  # nothing was trained or written


def test_flash_unknown_board_lists_the_known_ones():
    res = make("flash", "BOARD=stm32-nope")
    assert res.returncode != 0
    assert "unknown board 'stm32-nope'; known boards: " in res.stderr
    assert "qemu-m4" in res.stderr


def test_monitor_needs_a_port():
    res = make("monitor")
    assert res.returncode != 0
    assert "make monitor needs PORT=" in res.stdout + res.stderr
