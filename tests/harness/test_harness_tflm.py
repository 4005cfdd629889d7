"""One board-side protocol implementation: every firmware links firmware/harness/tfle_harness.c.

The TFLM project's own sources are the model side only (the model API over TFLM's interpreter);
its Makefile compiles the harness from the firmware folder, and no rendered file speaks the
protocol itself. With the pinned tflite-micro tree present, a slow test builds a real TFLM
firmware for qemu-m4 and checks its records against the TFLM interpreter of the host.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest

from conftest import TFLM_MAKEFILE, run
from tflite_edge.boards import boards, family_of
from tflite_edge.model import known_input, load_model
from tflite_edge.project import render
from tflite_edge.reference import Reference
from tflite_edge.resources import firmware_dir

HARNESS = firmware_dir() / "harness"
HARNESS_SRCS = [HARNESS / "tfle_harness.c", HARNESS / "tfle_crc32.c"]
# What only a protocol implementation writes: the record prefix and zlib's CRC-32 polynomial.
PROTOCOL_MARKS = [re.compile(r"TFLE 1"), re.compile(r"0xedb88320", re.I)]

# every board built with make (QEMU boards, the host), from the registry
MAKE_BOARDS = [name for name, b in boards().items() if family_of(b).makefile]


def speaks_the_protocol(text: str) -> bool:
    return any(mark.search(text) for mark in PROTOCOL_MARKS)


def compiled_sources(out: Path, tmp_path: Path) -> list[Path]:
    """The sources `make` compiles for a rendered TFLM project, read from `make -n`.

    TFLM itself is not needed: a directory with TFLM's Makefile path stands in for the
    tree, and an existing library file at TFLM_LIB means the library is not rebuilt.
    """
    fake = tmp_path / "tflm"
    (fake / TFLM_MAKEFILE).parent.mkdir(parents=True)
    (fake / TFLM_MAKEFILE).write_text("")
    lib = tmp_path / "gen" / "libtensorflow-microlite.a"
    lib.parent.mkdir(parents=True)
    lib.write_bytes(b"!<arch>\n")
    res = run(["make", "-n", "-C", str(out), f"TFLM_DIR={fake}", f"TFLM_LIB={lib}"])
    assert res.returncode == 0, res.stderr
    srcs = []
    for line in res.stdout.splitlines():
        words = shlex.split(line) if " -c " in line else []
        if words:
            src = Path(words[words.index("-c") + 1])
            srcs.append(src if src.is_absolute() else out / src)
    return srcs


@pytest.mark.parametrize("board", MAKE_BOARDS)
def test_tflm_makefile_compiles_the_one_harness(board, tmp_path, models_dir):
    out = tmp_path / "p"
    render(models_dir / "hello_world_int8.tflite", out_dir=out, board=board, runtime="tflm")
    srcs = [p.resolve() for p in compiled_sources(out, tmp_path)]
    # the project's own copy of the harness (tfle/: it builds wherever it is moved), unchanged
    for src in HARNESS_SRCS:
        copy = (out / "tfle" / "harness" / src.name).resolve()
        assert copy in srcs and copy.read_bytes() == src.read_bytes()
    assert all(p.is_relative_to(out.resolve()) for p in srcs)  # nothing from elsewhere
    ours = {p.name for p in srcs if p.parent == out.resolve()}
    assert ours == {"main.cc", "model_data.cc", "tfle_input.c"}
    # The harness reads the model through the TFLM project's model API header.
    make = (out / "Makefile").read_text()
    assert "-DTFLE_MODEL_HEADER='\"model_settings.h\"'" in make


@pytest.mark.parametrize("board", MAKE_BOARDS)
def test_no_rendered_tflm_file_speaks_the_protocol(board, tmp_path, models_dir):
    out = tmp_path / "p"
    res = render(models_dir / "kws_ref_model.tflite", out_dir=out, board=board, runtime="tflm")
    for rel in res.files:
        if not rel.startswith("tfle/"):  # the project's copy of firmware/: the one harness
            assert not speaks_the_protocol((out / rel).read_text()), rel
    main_cc = (out / "main.cc").read_text()
    assert not re.search(r"\bint\s+main\s*\(", main_cc)  # the harness has the one main()
    for fn in ("tfle_model_init", "tfle_model_invoke", "tfle_model_ram_bytes"):
        assert re.search(rf'extern "C" [^\n]*\b{fn}\(', main_cc), fn  # the model API
    assert all(speaks_the_protocol(p.read_text()) for p in HARNESS_SRCS)


def test_esp_idf_tflm_project_carries_the_one_harness(tmp_path, models_dir):
    out = tmp_path / "esp"
    res = render(models_dir / "kws_ref_model.tflite", out_dir=out, board="esp32s3", runtime="tflm")
    main = out / "main"
    for src in HARNESS_SRCS:
        assert (main / src.name).read_bytes() == src.read_bytes()
    cmake = (main / "CMakeLists.txt").read_text()
    srcs = re.search(r"SRCS((?:\s+\"[^\"]+\")+)", cmake).group(1).split()
    assert {s.strip('"') for s in srcs} == {
        "main.cc",
        "model_data.cc",
        "tfle_input.c",
        "tfle_harness.c",
        "tfle_crc32.c",
        "tfle_board_esp.c",
    }
    assert 'TFLE_MODEL_HEADER=\\"model_settings.h\\"' in cmake
    copies = {src.name for src in HARNESS_SRCS}
    for rel in res.files:
        if Path(rel).name not in copies:
            assert not speaks_the_protocol((out / rel).read_text()), rel


# --------------------------------------------------------------------------- real TFLM


def read_until_answer(proc: subprocess.Popen, command: bytes, seconds: float) -> list[str]:
    """Lines from the board until its answer to `command`, sent once the board is `ready`
    (the emulated UART drops what arrives before the firmware reads it); killed after
    `seconds`."""
    timer = threading.Timer(seconds, os.killpg, (proc.pid, signal.SIGTERM))
    timer.start()
    lines = []
    try:
        for raw in proc.stdout:
            lines.append(raw.decode(errors="replace"))
            if lines[-1].startswith("TFLE 1 ready"):
                proc.stdin.write(command)
                proc.stdin.flush()
            if lines[-1].startswith(("TFLE 1 result", "TFLE 1 error")):
                break
    finally:
        timer.cancel()
    return lines


@pytest.mark.timeout(3600)  # TFLM's library takes minutes to build on two shared cores, once
def test_real_tflm_firmware_speaks_through_the_harness(tflm_dir, tmp_path, models_dir):
    from tflite_edge.builder import build
    from tflite_edge.protocol import parse_line

    model = models_dir / "hello_world_int8.tflite"
    m = load_model(model)
    out = tmp_path / "p"
    render(model, out_dir=out, board="qemu-m4", runtime="tflm", runs=3, tflm_dir=tflm_dir)
    build(out)  # TFLM's library from the cache (built the first time)
    # The rendered Makefile's console: the tree and the cached library as build() passed them.
    manifest = json.loads((out / "tflite-edge.json").read_text())
    assert manifest["tflm_dir"] == str(tflm_dir.resolve())
    lib = re.search(r"(\S+/libtensorflow-microlite\.a)", (out / "build/ldflags.txt").read_text())
    assert lib and Path(lib.group(1)).is_file()  # linked from the cache, not built in build/
    assert not (out / "build" / "tflm-cmsis_nn").exists()
    make = ["make", "-s", "-C", str(out), f"TFLM_LIB={lib.group(1)}"]

    x = np.random.default_rng(5).integers(-128, 128, m.input_tensors[0].nbytes, dtype=np.int8)
    proc = subprocess.Popen(
        [*make, "console"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        command = f"TFLE 1 in n={x.size} hex={x.tobytes().hex()}\n".encode()
        lines = read_until_answer(proc, command, 120)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)
    records = [r for r in map(parse_line, lines) if r is not None]
    kinds = [r.kind for r in records]
    assert kinds[-1] == "result", lines[-5:]

    hello = records[0]
    assert hello.kind == "hello" and hello["board"] == "qemu-m4" and hello["runtime"] == "tflm"
    assert hello["kernels"] == "cmsis_nn"  # the board's default kernel set
    assert hello["model"] == m.sha256[:8] and hello["flash"] == len(m.data)
    declared = re.search(r"#define TFLE_ARENA_BYTES (\d+)", (out / "model_settings.h").read_text())
    assert 0 < hello["ram"] <= int(declared.group(1))  # arena_used_bytes() of the real arena
    assert hello["in_bytes"] == m.input_tensors[0].nbytes
    assert hello["out_bytes"] == m.output_tensors[0].nbytes

    ref = Reference(model)
    expect = f"{zlib.crc32(ref.run_one(known_input(m)).tobytes()):08x}"
    runs = [r for r in records if r.kind == "run"]
    assert [r["i"] for r in runs] == [0, 1, 2]
    assert len({r["cycles"] for r in runs}) == 1  # -icount: identical runs, identical counts
    assert [(r["i"], r["crc32"]) for r in records if r.kind == "out"] == [
        (i, expect) for i in range(3)
    ]
    layers = [r for r in records if r.kind == "layer"]
    assert [(r["i"], r["idx"], r["op"]) for r in layers] == [
        (i, k, op.op) for i in range(3) for k, op in enumerate(m.operators)
    ]
    assert all(r["cycles"] > 0 for r in layers)
    assert kinds.index("done") < kinds.index("ready") < len(kinds) - 1
    result = records[-1]
    assert result["i"] == 0 and result.payload == ref.run_one(x).tobytes()
    assert result["crc32"] == f"{zlib.crc32(result.payload):08x}"
