"""The tflm runtime on the host: the one C harness (firmware/harness) built with the model side
that embeds this Python and runs the tflite-micro package's interpreter. Its records, where its
build goes, that nothing is left running, and the errors when gcc or libpython is missing."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sysconfig
import zlib
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_MODELS
from tflite_edge.boards import get_board
from tflite_edge.boards.links import LIVE
from tflite_edge.builder import elf_symbols
from tflite_edge.errors import ToolchainError
from tflite_edge.flasher import start
from tflite_edge.model import known_input, load_model
from tflite_edge.reference import Reference
from tflite_edge.resources import firmware_dir
from tflite_edge.runtimes import RuntimeOptions, get_runtime, tflm

MODEL = SHARED_MODELS / "hello_world_int8.tflite"
# This board is what the host runs without a TFLM tree (with one: the project, built natively).
NO_TREE = RuntimeOptions()
PACKAGE = Path(tflm.__file__).resolve().parents[1]
# What the host TFLM board writes into its work folder, and nothing else.
WORK_FILES = {"Makefile", "tfle_host_model.h", "tfle_input.c", "tfle_input.h", "build"}


@pytest.fixture(autouse=True)
def no_tflm_tree(monkeypatch):
    monkeypatch.delenv("TFLM_DIR", raising=False)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """The host TFLM board built for hello_world with 2 timed runs: (its link, its folder)."""
    where = tmp_path_factory.mktemp("tflm-host") / "work"
    link = get_runtime("tflm").board_process(
        get_board("host"), load_model(MODEL), 2, where, lambda ours: None, NO_TREE
    )
    yield link, where
    link.close()  # never started: this closes its pseudo-terminal


def test_the_host_tflm_board_prints_the_harness_records(board):
    link, _ = board
    ref = Reference(MODEL)
    m = ref.model
    x = np.array([[5]], dtype=np.int8)
    commands = (
        f"TFLE 1 in n=1 hex={x.tobytes().hex()}\nTFLE 1 in n=2 hex=0102\nTFLE 1 in n=1 hex=zz\n"
    )
    proc = subprocess.run(
        link.cmd,
        input=commands.encode(),
        capture_output=True,
        check=True,
        timeout=120,
        env={**os.environ, **link.env},  # what PtyProcess.start gives the board
    )
    lines = proc.stdout.decode("ascii").splitlines()
    y0 = ref.run_one(known_input(m)).tobytes()
    y1 = ref.run_one(x).tobytes()
    assert lines[0] == (
        f"TFLE 1 hello board=host runtime=tflm kernels=reference model={m.sha256[:8]} "
        f"ram={ref.arena().total} "
        f"flash={len(m.data)} clock_hz=1000000000 in_bytes=1 out_bytes=1"
    )
    for i in range(2):
        run = re.fullmatch(rf"TFLE 1 run i={i} cycles=(\d+) us=(\d+)", lines[1 + 2 * i])
        assert run and int(run[1]) > 0
        assert int(run[2]) == (int(run[1]) * 1_000_000 + 500_000_000) // 1_000_000_000
        assert lines[2 + 2 * i] == f"TFLE 1 out i={i} crc32={zlib.crc32(y0):08x}"
    assert lines[5:7] == ["TFLE 1 done runs=2", "TFLE 1 ready"]
    assert re.fullmatch(
        rf"TFLE 1 result i=0 cycles=\d+ crc32={zlib.crc32(y1):08x} hex={y1.hex()}", lines[7]
    )
    assert lines[8:] == ["TFLE 1 error msg=bad_length", "TFLE 1 error msg=bad_hex"]


def test_the_host_tflm_board_is_the_c_harness(board):
    link, where = board
    image = Path(link.cmd[-1])
    assert image == where / "build" / "firmware"
    # Built by firmware/Makefile from the harness, its CRC, the host board and the model side.
    objects = where / "build" / "fw"
    for src in ("harness/tfle_harness.c", "harness/tfle_crc32.c", "boards/host/board.c",
                "models/tfle_model_python.c"):  # fmt: skip
        assert (objects / f"{src}.o").is_file(), src
    names = ("main", "tfle_profile_layer", "tfle_crc32", "tfle_model_init", "tfle_model_invoke")
    assert set(elf_symbols(image, names=names)) == set(names)
    flags = (where / "build" / "cflags.txt").read_text()
    assert {"-Wall", "-Wextra", "-Werror"} <= set(flags.split())
    assert sorted(p.name for p in where.iterdir()) == sorted(WORK_FILES | {MODEL.name})
    # The board runs the image, not a Python program.
    assert not any("python" in Path(arg).name for arg in link.cmd)


def test_no_python_module_formats_records_but_the_protocol_package():
    """The board side of the protocol is the C harness alone: outside tflite_edge/protocol
    (the host's formatter and parser) no module formats a TFLE record."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("protocol/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), rel)):
            name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)
            if name == "format_record" or (
                isinstance(node, ast.alias) and "format_record" in node.name
            ):
                offenders.append(rel)
    assert offenders == []
    board_side = (PACKAGE / "runtimes" / "tflm_board.py").read_text()
    assert "TFLE 1" not in board_side and "protocol" not in board_side.split('"""', 2)[2]


def test_flash_builds_only_in_its_work_folder_and_stops_the_board(tmp_path):
    fw = firmware_dir()
    before = sorted(p.relative_to(fw).as_posix() for p in fw.rglob("*"))
    out = tmp_path / "out"
    with start(MODEL, board="host", runtime="tflm", runs=2, out_dir=out, timeout=120) as device:
        ours = {p for p in LIVE if Path(p.args[-1]) == out / "build" / "firmware"}
        assert len(ours) == 1  # the board runs, started by this flash
        ys = device.infer(np.array([[5], [-7]], dtype=np.int8))
        result = device.result
    assert result.matches_tflm is True and result.session.hello["runtime"] == "tflm"
    assert result.kernels == "reference"  # the package's interpreter: TFLM's reference kernels
    assert ys.tobytes() == Reference(MODEL).run(np.array([[5], [-7]], np.int8)).tobytes()
    (proc,) = ours
    assert proc.poll() is not None and proc not in LIVE  # stopped, and nothing left running
    assert sorted(p.name for p in out.iterdir()) == sorted(WORK_FILES | {MODEL.name})
    assert sorted(p.relative_to(fw).as_posix() for p in fw.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize(
    "missing,needle",
    [("INCLUDEPY", "has no Python.h"), ("LIBDIR", "shared library libpython")],
)
def test_missing_python_headers_or_library_is_one_clear_line(
    missing, needle, tmp_path, monkeypatch
):
    real = sysconfig.get_config_var
    gone = str(tmp_path / "gone")

    def config_var(name):
        return (
            gone if name in (missing, "LIBPL" if missing == "LIBDIR" else missing) else real(name)
        )

    monkeypatch.setattr(sysconfig, "get_config_var", config_var)
    where = tmp_path / "work"
    with pytest.raises(ToolchainError) as err:
        get_runtime("tflm").board_process(
            get_board("host"), load_model(MODEL), 1, where, lambda ours: None, NO_TREE
        )
    msg = str(err.value)
    assert needle in msg and "--runtime aot" in msg and "\n" not in msg
    assert not where.exists()  # nothing written before the check


def test_missing_gcc_is_one_clear_line(tmp_path, monkeypatch):
    real = shutil.which
    monkeypatch.setattr(
        shutil, "which", lambda tool, *a, **kw: None if tool == "gcc" else real(tool)
    )
    where = tmp_path / "work"
    with pytest.raises(ToolchainError, match="^gcc is not on PATH") as err:
        get_runtime("tflm").board_process(
            get_board("host"), load_model(MODEL), 1, where, lambda ours: None, NO_TREE
        )
    assert "\n" not in str(err.value) and not where.exists()
