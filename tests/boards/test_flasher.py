"""flash() and run(): every reference model on the emulated boards and the host, read over
serial and checked against the TFLM interpreter; the errors; no emulator left behind.

One boot per model and board: the module fixture flashes, reads the timed runs, then sends
random inputs to the same running board.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from conftest import REFERENCE_MODELS, ROOT, SHARED_MODELS, leftover_qemu, run
from tflite_edge.boards import DEFAULT_BOARD, boards, family_of, get_board
from tflite_edge.boards.links import LIVE, PtyProcess
from tflite_edge.errors import (
    MAX_RUNS,
    BoardError,
    BudgetError,
    DataError,
    ProtocolError,
    SerialError,
    TFLiteEdgeError,
    ToolchainError,
)
from tflite_edge.flasher import FlashResult, flash, start
from tflite_edge.flasher import run as run_on_board
from tflite_edge.model import known_input, load_model
from tflite_edge.reference import Reference

CLI = [str(ROOT / ".venv" / "bin" / "tflite-edge")]
RUNS = 3
INPUTS = 4
# Every board of this machine (emulated or native), split by whether every reference model
# fits its flash: those run them all, the others refuse the ones that do not fit.
LOCAL_BOARDS = [name for name, b in boards().items() if not family_of(b).physical]


def _fits_every_model(name: str) -> bool:
    budget = get_board(name).flash_bytes
    return not budget or all(
        load_model(SHARED_MODELS / m).weight_bytes <= budget for m in REFERENCE_MODELS
    )


AOT_BOARDS = [name for name in LOCAL_BOARDS if _fits_every_model(name)]
SMALL_BOARDS = [name for name in LOCAL_BOARDS if not _fits_every_model(name)]
NATIVE_BOARDS = [name for name, b in boards().items() if family_of(b).native]
PHYSICAL_BOARDS = [name for name, b in boards().items() if family_of(b).physical]
# What the DESIGN.md JSON of `tflite-edge flash --json` promises.
DESIGN_KEYS = {
    "board",
    "runtime",
    "model_sha256",
    "runs",
    "emulated",
    "cycles",
    "us",
    "ram_bytes",
    "flash_bytes",
    "layers",
    "output_crc32",
}


@dataclass
class Boot:
    result: FlashResult | None
    inputs: np.ndarray | None = None
    outputs: np.ndarray | None = None
    error: Exception | None = None


def _random_inputs(model, n: int = INPUTS, seed: int = 0) -> np.ndarray:
    t = model.input_tensors[0]
    info = np.iinfo(t.dtype)
    rng = np.random.default_rng(seed)
    return rng.integers(info.min, info.max + 1, size=(n, *t.shape[1:]), dtype=t.dtype)


def _boot(model_path, board: str, runtime: str = "aot") -> Boot:
    model = load_model(model_path)
    xs = _random_inputs(model)
    try:
        with start(model, board=board, runtime=runtime, runs=RUNS, timeout=120) as device:
            ys = device.infer(xs)
            return Boot(device.result, xs, ys)
    except BudgetError as err:
        return Boot(None, error=err)


@pytest.fixture(scope="module")
def boots():
    """Boot results by (model file, board, runtime), each computed once."""
    cache: dict[tuple[str, str, str], Boot] = {}

    def get(name: str, board: str, runtime: str = "aot") -> Boot:
        key = (name, board, runtime)
        if key not in cache:
            cache[key] = _boot(SHARED_MODELS / name, board, runtime)
        return cache[key]

    yield get
    assert leftover_qemu() == []


@pytest.fixture(scope="module")
def references():
    """TFLM's output CRC32 on the known input, per model (the expected board CRC)."""
    cache = {}

    def get(model_path) -> tuple[Reference, str]:
        key = str(model_path)
        if key not in cache:
            ref = Reference(model_path)
            y = ref.run_one(known_input(ref.model))
            cache[key] = (ref, f"{zlib.crc32(np.ascontiguousarray(y).tobytes()):08x}")
        return cache[key]

    return get


def _check_boot(boot: Boot, model_path: Path, board: str, runtime: str, references) -> None:
    ref, crc = references(model_path)
    model = ref.model
    r = boot.result
    b = get_board(board)
    hello = r.session.hello
    assert (hello["board"], hello["runtime"], hello["model"]) == (board, runtime, model.sha256[:8])
    assert hello["in_bytes"] == model.input_tensors[0].nbytes
    assert hello["out_bytes"] == model.output_tensors[0].nbytes
    assert r.runs == RUNS and r.session.done == {"runs": RUNS}
    # The board's output on the known input is TFLM's, byte for byte (via its CRC32).
    assert [o["crc32"] for o in r.session.outs] == [crc] * RUNS
    assert r.output_crc32 == crc
    assert r.tflm_crc32 == crc and r.matches_tflm is True
    cycles = [run["cycles"] for run in r.session.runs]
    assert min(cycles) > 0
    if b.emulated:
        assert len(set(cycles)) == 1, f"emulated runs differ: {cycles}"
        assert hello["clock_hz"] == b.clock_hz
        assert [run["us"] for run in r.session.runs] == [
            round(c * 1e6 / b.clock_hz) for c in cycles
        ]
    else:
        assert hello["clock_hz"] == 1_000_000_000  # nanoseconds on the host
    # Outputs for random inputs sent over serial: TFLM's, byte for byte.
    expected = ref.run(boot.inputs)
    assert boot.outputs.dtype == expected.dtype
    assert boot.outputs.shape == expected.shape
    assert boot.outputs.tobytes() == expected.tobytes()
    assert [res["i"] for res in r.session.results] == list(range(INPUTS))
    doc = r.to_dict()
    assert DESIGN_KEYS <= set(doc)
    assert doc["emulated"] is b.emulated
    assert doc["cycles"]["min"] == min(cycles) and doc["cycles"]["max"] == max(cycles)
    assert doc["cycles_all"] == cycles
    assert json.loads(json.dumps(doc)) == doc


def _check_layers(r: FlashResult, model_path: Path, emulated: bool) -> None:
    """Per-layer records name the model's own operators, and add up to the run."""
    model = load_model(model_path)
    layers = r.session.layers
    assert {rec["i"] for rec in layers} == set(range(RUNS))
    for rec in layers:
        assert model.operators[rec["idx"]].op == rec["op"]
    if emulated:
        run0 = [rec for rec in layers if rec["i"] == 0]
        total = sum(rec["cycles"] for rec in run0)
        assert 0.9 < total / r.session.runs[0]["cycles"] < 1.05


# --------------------------------------------------------------------------- every model


@pytest.mark.slow
@pytest.mark.parametrize("board", AOT_BOARDS)
@pytest.mark.parametrize("name", REFERENCE_MODELS, ids=lambda n: n.split(".")[0])
def test_reference_model_on_board_matches_tflm(boots, references, name, board):
    boot = boots(name, board)
    assert boot.error is None, boot.error
    _check_boot(boot, SHARED_MODELS / name, board, "aot", references)
    _check_layers(boot.result, SHARED_MODELS / name, get_board(board).emulated)


@pytest.mark.slow
@pytest.mark.parametrize("board", SMALL_BOARDS)
@pytest.mark.parametrize("name", REFERENCE_MODELS, ids=lambda n: n.split(".")[0])
def test_reference_model_on_a_small_board_when_it_fits(boots, references, name, board):
    budget = get_board(board).flash_bytes
    boot = boots(name, board)
    if load_model(SHARED_MODELS / name).weight_bytes > budget:
        assert isinstance(boot.error, BudgetError)  # ad01: 270 KB of weights, 256 KiB flash
        assert not boot.error.table[0]["fits"]
    else:
        assert boot.error is None, boot.error
        _check_boot(boot, SHARED_MODELS / name, board, "aot", references)


@pytest.mark.parametrize("board", NATIVE_BOARDS)
@pytest.mark.parametrize("name", REFERENCE_MODELS, ids=lambda n: n.split(".")[0])
def test_tflm_on_the_host_speaks_the_same_protocol(boots, references, name, board):
    boot = boots(name, board, "tflm")
    _check_boot(boot, SHARED_MODELS / name, board, "tflm", references)
    hello = boot.result.session.hello
    ref, _ = references(SHARED_MODELS / name)
    assert hello["ram"] == ref.arena().total
    assert hello["flash"] == len(ref.model.data)
    assert boot.result.to_dict()["cycles_unit"] == "nanoseconds of wall-clock time"
    assert "emulated" not in boot.result.table()


@pytest.mark.slow
@pytest.mark.parametrize("board", [DEFAULT_BOARD, *NATIVE_BOARDS])
def test_a_converted_model_runs_on_board(digits_int8, references, tmp_path, board):
    path = tmp_path / "digits_int8.tflite"
    path.write_bytes(digits_int8.tflite)
    boot = _boot(path, board)
    assert boot.error is None, boot.error
    _check_boot(boot, path, board, "aot", references)


# --------------------------------------------------------------------------- commands


@pytest.mark.slow
def test_make_flash_prints_the_latency_table_read_over_serial(boots, references):
    model = SHARED_MODELS / "kws_ref_model.tflite"
    proc = run(
        ["make", "-o", "install", "flash", "BOARD=qemu-m4", f"MODEL={model}", f"RUNS={RUNS}"],
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert f"{RUNS} timed runs" in out
    assert "cycles (emulated instruction counts)" in out
    assert "us (estimate at 25 MHz)" in out
    assert "per layer" in out and "CONV_2D" in out
    _, crc = references(model)
    assert f"output crc32 {crc}" in out
    assert "the board's output equals the TFLM interpreter's on the same input" in out
    # A second boot of the same image counts exactly the same instructions.
    cycles = boots("kws_ref_model.tflite", "qemu-m4").result.session.runs[0]["cycles"]
    row = next(line for line in out.splitlines() if line.startswith("cycles (emulated"))
    assert row.split()[-4:] == [f"{cycles:,}"] * 4
    assert leftover_qemu() == []


def test_flash_cli_json_results_and_log(tmp_path, references):
    model = SHARED_MODELS / "hello_world_int8.tflite"
    results, log = tmp_path / "flash.json", tmp_path / "serial.jsonl"
    proc = run(
        CLI
        + [
            "flash",
            "--board",
            "host",
            "--model",
            str(model),
            "--runs",
            "2",
            "--json",
            "--results",
            str(results),
            "--log",
            str(log),
        ]
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert DESIGN_KEYS <= set(doc)
    assert json.loads(results.read_text()) == doc
    assert doc["board"] == "host" and doc["runtime"] == "aot" and doc["runs"] == 2
    assert doc["emulated"] is False
    assert doc["model_sha256"] == load_model(model).sha256
    assert doc["output_crc32"] == references(model)[1]
    assert doc["ram_bytes"] > 0 and doc["flash_bytes"] > 0
    assert {row["op"] for row in doc["layers"]} == {"FULLY_CONNECTED"}
    kinds = [json.loads(line)["kind"] for line in log.read_text().splitlines()]
    assert kinds[0] == "hello" and kinds[-1] == "done" and kinds.count("run") == 2


@pytest.mark.slow
def test_run_cli_saves_the_boards_outputs(tmp_path, references):
    model = SHARED_MODELS / "micro_speech_quantized.tflite"
    ref, _ = references(model)
    xs = _random_inputs(ref.model, n=3, seed=7)
    np.save(tmp_path / "in.npy", xs)
    proc = run(
        CLI
        + [
            "run",
            "--board",
            "qemu-m4",
            "--model",
            str(model),
            "--input",
            str(tmp_path / "in.npy"),
            "-o",
            str(tmp_path / "out.npy"),
        ]
    )
    assert proc.returncode == 0, proc.stderr
    ys = np.load(tmp_path / "out.npy")
    assert ys.tobytes() == ref.run(xs).tobytes() and ys.shape == (3, 4)
    assert "ran 3 inputs on qemu-m4" in proc.stdout


def test_run_function_on_the_host(references):
    model = SHARED_MODELS / "hello_world_int8.tflite"
    ref, _ = references(model)
    xs = _random_inputs(ref.model, n=5, seed=3)
    seen = []
    ys = run_on_board(model, xs, board="host", progress=lambda done, total: seen.append(done))
    assert ys.tobytes() == ref.run(xs).tobytes()
    assert seen == [1, 2, 3, 4, 5]


# --------------------------------------------------------------------------- errors


def test_run_cli_refuses_bad_files_before_flashing(tmp_path):
    model = str(SHARED_MODELS / "hello_world_int8.tflite")
    cmd = CLI + ["run", "--board", "qemu-m4", "--model", model]
    proc = run(cmd + ["--input", str(tmp_path / "none.npy"), "-o", str(tmp_path / "y.npy")])
    assert proc.returncode == 2
    assert "cannot read inputs from" in proc.stderr and ".npy" in proc.stderr
    np.save(tmp_path / "x.npy", np.zeros((2, 1), np.int8))
    proc = run(cmd + ["--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "no" / "y.npy")])
    assert proc.returncode == 2
    assert "folder" in proc.stderr and "does not exist" in proc.stderr
    np.save(tmp_path / "f.npy", np.zeros((2, 1), np.float32))
    proc = run(cmd + ["--input", str(tmp_path / "f.npy"), "-o", str(tmp_path / "y.npy")])
    assert proc.returncode == 2
    assert "dtype float32" in proc.stderr and "int8" in proc.stderr
    assert not (tmp_path / "y.npy").exists()


def test_esp32_without_esp_idf_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no idf.py anywhere
    model = SHARED_MODELS / "hello_world_int8.tflite"
    assert PHYSICAL_BOARDS
    for board in PHYSICAL_BOARDS:
        with pytest.raises(ToolchainError) as err:
            flash(model, board=board, port="/dev/ttyUSB0")
        assert err.value.tool == "idf.py"
        assert get_board(board).install_hint in str(err.value)


def test_esp32_cli_without_esp_idf_exits_2_with_the_install_message(tmp_path):
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin"}
    proc = run(
        CLI
        + ["flash", "--board", "esp32", "--model", str(SHARED_MODELS / "hello_world_int8.tflite")],
        env=env,
    )
    assert proc.returncode == 2
    assert "idf.py" in proc.stderr and "install ESP-IDF" in proc.stderr


def test_esp32_without_a_port_says_to_pass_one(tmp_path, monkeypatch):
    fake = tmp_path / "idf.py"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(BoardError, match=r"pass its serial port, e.g. --port /dev/ttyUSB0"):
        flash(SHARED_MODELS / "hello_world_int8.tflite", board="esp32")


def test_unknown_board_and_runtime_are_refused():
    model = SHARED_MODELS / "hello_world_int8.tflite"
    with pytest.raises(BoardError, match="unknown board 'm0'.*qemu-m4"):
        flash(model, board="m0")
    with pytest.raises(BoardError, match="unknown board 'm0'"):
        run_on_board(model, np.zeros((1, 1), np.int8), board="m0")
    with pytest.raises(TFLiteEdgeError, match="unknown runtime 'tvm'"):
        flash(model, runtime="tvm")
    with pytest.raises(TFLiteEdgeError, match="on_record must be a function"):
        flash(model, on_record="x")
    with pytest.raises(TFLiteEdgeError, match="jsonl must be a path"):
        flash(model, jsonl=5)
    for timeout in (0, -1, float("nan"), float("inf"), "10", True):
        with pytest.raises(TFLiteEdgeError, match="timeout must be a positive number"):
            flash(model, timeout=timeout)
    for runs in (0, MAX_RUNS + 1, 99999999999999999999, 2.5):
        with pytest.raises(TFLiteEdgeError, match="runs must be an integer from 1 to"):
            flash(model, runs=runs)


def test_firmware_makefile_bounds_runs_like_the_python_api():
    # RUNS reaches the Makefile from render(); make must accept exactly what check_runs() does
    text = (ROOT / "firmware" / "Makefile").read_text()
    bound = re.search(r"test '\$\(RUNS\)' -ge 1 -a '\$\(RUNS\)' -le (\d+)", text)
    assert bound and int(bound.group(1)) == MAX_RUNS


def test_a_port_for_an_emulated_board_is_refused():
    with pytest.raises(BoardError, match="--port is for physical boards"):
        flash(SHARED_MODELS / "hello_world_int8.tflite", board="qemu-m4", port="/dev/ttyUSB0")


def test_bad_inputs_are_refused_before_anything_is_built(monkeypatch):
    import tflite_edge.flasher as flasher

    monkeypatch.setattr(flasher, "_bring_up", lambda *a: pytest.fail("built anyway"))
    model = SHARED_MODELS / "kws_ref_model.tflite"
    with pytest.raises(DataError, match="dtype float32.*takes int8"):
        run_on_board(model, np.zeros((2, 49, 10, 1), np.float32), board="qemu-m4")
    for shape in [(2, 7), (2, 490), (2, 10, 49, 1)]:  # the size fits, the shape does not
        with pytest.raises(DataError, match=r"does not split into samples .*\(1, 49, 10, 1\)"):
            run_on_board(model, np.zeros(shape, np.int8), board="qemu-m4")


def test_tflm_on_qemu_without_a_tflm_tree_names_both_ways_to_give_one(monkeypatch):
    monkeypatch.delenv("TFLM_DIR", raising=False)
    with pytest.raises(ToolchainError, match="neither --tflm-dir nor TFLM_DIR"):
        flash(SHARED_MODELS / "hello_world_int8.tflite", board="qemu-m4", runtime="tflm")
    assert leftover_qemu() == []


def _fake_board(monkeypatch, tmp_path, cmd: list[str]) -> list:
    """Make start() talk to `cmd` behind a pty instead of building anything."""
    from tflite_edge import flasher

    made = []

    def bring_up(*args, **kwargs):
        made.append(PtyProcess(cmd, tmp_path / "board.log", what="the fake board"))
        return made[-1], None, None

    monkeypatch.setattr(flasher, "_bring_up", bring_up)
    return made


def test_a_board_that_never_answers_times_out_and_is_stopped(monkeypatch, tmp_path):
    made = _fake_board(monkeypatch, tmp_path, ["sleep", "60"])
    with pytest.raises(SerialError, match=r"no TFLE record from /dev/pts/\d+ in 1 s"):
        flash(SHARED_MODELS / "hello_world_int8.tflite", board="host", timeout=1)
    assert made[0].proc.poll() is not None


def test_a_board_that_vanishes_mid_run_says_so(monkeypatch, tmp_path):
    hello = "TFLE 1 hello board=host runtime=aot model=505ee4fa ram=32 flash=435 clock_hz=1 "
    script = f"echo '{hello}in_bytes=1 out_bytes=1'; echo 'out of memory' >&2; exit 3"
    _fake_board(monkeypatch, tmp_path, ["sh", "-c", script])
    with pytest.raises(SerialError) as err:
        flash(SHARED_MODELS / "hello_world_int8.tflite", board="host", timeout=20)
    msg = str(err.value)
    assert "vanished" in msg
    assert "exited with code 3" in msg and "out of memory" in msg


def test_a_crashed_board_is_reported(monkeypatch, tmp_path):
    _fake_board(monkeypatch, tmp_path, ["sh", "-c", "echo 'TFLE 1 error msg=hard_fault'; sleep 60"])
    with pytest.raises(ProtocolError, match="stopped with msg=hard_fault"):
        flash(SHARED_MODELS / "hello_world_int8.tflite", board="host", timeout=20)


def test_a_board_running_another_model_is_refused(monkeypatch, tmp_path):
    lines = [
        "TFLE 1 hello board=host runtime=aot model=0badc0de ram=1 flash=1 clock_hz=1 "
        "in_bytes=1 out_bytes=1",
        "TFLE 1 done runs=0",
    ]
    script = "; ".join(f"echo '{line}'" for line in lines) + "; sleep 60"
    _fake_board(monkeypatch, tmp_path, ["sh", "-c", script])
    with pytest.raises(ProtocolError, match="runs model 0badc0de, not hello_world_int8"):
        flash(SHARED_MODELS / "hello_world_int8.tflite", board="host", timeout=20)


# --------------------------------------------------------------------------- no orphans


def test_interrupt_during_boot_stops_qemu(tmp_path):
    def interrupt(record):
        if record.kind == "hello":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        flash(
            SHARED_MODELS / "hello_world_int8.tflite",
            board="qemu-m4",
            runs=1,
            out_dir=tmp_path / "project",
            on_record=interrupt,
        )
    assert leftover_qemu() == []
    assert (tmp_path / "project" / "build" / "firmware.elf").is_file()  # out_dir is kept


def test_an_error_inside_a_session_stops_qemu():

    with pytest.raises(RuntimeError, match="boom"):
        with start(SHARED_MODELS / "hello_world_int8.tflite", board="qemu-m4", runs=1) as dev:
            assert leftover_qemu() != []  # it is running now
            raise RuntimeError("boom")
    assert dev.port is None
    assert leftover_qemu() == []
    assert not LIVE


def test_no_qemu_survives_this_module():
    assert leftover_qemu() == []


@pytest.mark.parametrize("board", [*NATIVE_BOARDS, DEFAULT_BOARD])
def test_boot_runs_an_image_built_separately(board, tmp_path):
    from tflite_edge import build, render
    from tflite_edge.flasher import boot

    model = SHARED_MODELS / "hello_world_int8.tflite"
    render(model, board=board, out_dir=tmp_path / "fw", runs=2, profile=False)
    built = build(tmp_path / "fw")
    result = boot(model, built)
    assert result.board == board and result.runs == 2
    assert result.matches_tflm is True
    assert not leftover_qemu()
