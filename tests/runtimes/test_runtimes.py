"""The runtime registry: the CLI's --runtime choices, the errors for an unknown runtime, and
the Python TFLM board (the tflm runtime on the host) and its records."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import zlib

import numpy as np
import pytest

from conftest import SHARED_MODELS
from tflite_edge.boards import boards, family_of
from tflite_edge.cli import build_parser
from tflite_edge.errors import TFLiteEdgeError
from tflite_edge.runtimes import Runtime, get_runtime, runtime_names


def _runtime_choices() -> dict[str, tuple[str, ...]]:
    """Every sub-command with a --runtime option, and its choices."""
    found = {}
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, p in sub.choices.items():
        for action in p._actions:
            if "--runtime" in action.option_strings:
                found[name] = tuple(action.choices)
    return found


def test_cli_runtime_choices_are_the_registry():
    found = _runtime_choices()
    assert set(found) >= {"render", "flash", "run", "validate", "demo"}
    for command, choices in found.items():
        assert choices == runtime_names(), command


def test_every_runtime_is_registered_under_its_name():
    assert runtime_names()[0] == "aot"  # the default of every --runtime
    for name in runtime_names():
        runtime = get_runtime(name)
        assert isinstance(runtime, Runtime) and runtime.name == name and runtime.summary


@pytest.mark.parametrize("bad", ["tvm", "", None, 3])
def test_unknown_runtime_lists_the_known_ones(bad):
    with pytest.raises(TFLiteEdgeError) as err:
        get_runtime(bad)
    msg = str(err.value)
    assert msg.startswith(f"unknown runtime {bad!r}; known runtimes: {', '.join(runtime_names())}")
    for name in runtime_names():
        assert f"{name}: {get_runtime(name).summary}" in msg


def test_a_runtime_needs_firmware_except_where_it_is_the_board(tmp_path):
    """Only the tflm runtime on a native board runs without firmware (a Python board)."""
    model = SHARED_MODELS / "hello_world_int8.tflite"
    for name in runtime_names():
        runtime = get_runtime(name)
        for board in boards().values():
            if runtime.interprets and family_of(board).native:
                continue  # starts a process: test_flasher runs it
            where = tmp_path / name / board.name
            link = runtime.board_process(board, model, 1, where, lambda ours: None)
            assert link is None, (name, board.name)
            assert not where.exists()


def test_the_python_tflm_board_prints_the_harness_records():
    from tflite_edge.model import known_input
    from tflite_edge.reference import Reference

    path = SHARED_MODELS / "hello_world_int8.tflite"
    ref = Reference(path)
    m = ref.model
    cmd = [sys.executable, "-m", "tflite_edge.runtimes.tflm_board", "tflm-board", str(path)]
    x = np.array([[5]], dtype=np.int8)
    line_in = f"TFLE 1 in n=1 hex={x.tobytes().hex()}\nTFLE 1 in n=2 hex=0102\n"
    proc = subprocess.run(
        [*cmd, "--runs", "2", "--board", "host"],
        input=line_in.encode(),
        capture_output=True,
        check=True,
    )
    lines = proc.stdout.decode("ascii").splitlines()
    y0 = ref.run_one(known_input(m)).tobytes()
    y1 = ref.run_one(x).tobytes()
    assert lines[0] == (
        f"TFLE 1 hello board=host runtime=tflm model={m.sha256[:8]} ram={ref.arena().total} "
        f"flash={len(m.data)} clock_hz=1000000000 in_bytes=1 out_bytes=1"
    )
    for i in range(2):
        assert re.fullmatch(rf"TFLE 1 run i={i} cycles=\d+ us=\d+", lines[1 + 2 * i])
        assert lines[2 + 2 * i] == f"TFLE 1 out i={i} crc32={zlib.crc32(y0):08x}"
    assert lines[5:7] == ["TFLE 1 done runs=2", "TFLE 1 ready"]
    assert re.fullmatch(
        rf"TFLE 1 result i=0 cycles=\d+ crc32={zlib.crc32(y1):08x} hex={y1.hex()}", lines[7]
    )
    assert lines[8:] == ["TFLE 1 error msg=bad_length"]
