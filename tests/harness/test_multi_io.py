"""Several inputs and outputs, float32 and int16 ones, through the harness and the board
commands: every input packed one after the other in `in` and the known input, every output in
`result` and the one CRC32 of `out` (PROTOCOL.md); flash, run --input .npz and validate on
qemu-m4, with the AOT runtime and with TFLM, compared with the TFLM interpreter."""

from __future__ import annotations

import json
import os
import re
import sys
import zlib

import numpy as np
import pytest

import multi_io_models as mm
from conftest import ROOT, run
from tflite_edge.errors import DataError
from tflite_edge.model import load_model
from tflite_edge.model.reader import known_inputs
from tflite_edge.project import render
from tflite_edge.protocol import input_layout, output_layout, pack, parse_line, unpack
from tflite_edge.protocol.tensors import feeds
from tflite_edge.reference import Reference
from tflite_edge.templating import known_input_bytes
from tflite_edge.validation import compare

CLI = [sys.executable, "-m", "tflite_edge"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


# --------------------------------------------------------------------------- the packing


def test_inputs_and_outputs_pack_in_model_order():
    m = load_model(mm.two_by_two_float())
    ins, outs = input_layout(m), output_layout(m)
    assert [t.name for t in ins] == [t.name for t in m.input_tensors]
    assert [t.offset for t in ins] == [0, ins[0].nbytes]
    xs = known_inputs(m)
    raw = pack(xs, ins)
    assert raw == b"".join(x.astype("<f4").tobytes() for x in xs) == known_input_bytes(m)
    assert [a.tobytes() for a in unpack(raw, ins)] == [x.tobytes() for x in xs]
    # the board's one CRC32 of all outputs is TFLM's over the same packed bytes
    ys = Reference(m).run_one(xs)
    crc = f"{zlib.crc32(pack(ys, outs)) & 0xFFFFFFFF:08x}"
    assert Reference(m).output_crc32() == crc
    with pytest.raises(DataError, match="bytes where the tensors take"):
        unpack(raw[:-1], ins)


def test_feeds_by_name_position_or_list():
    m = load_model(mm.two_by_two_int8())
    a, b = (np.zeros((3, *t.shape[1:]), t.dtype) for t in m.input_tensors)
    names = [t.name for t in m.input_tensors]
    for given in ({names[1]: b, names[0]: a}, {"arr_0": a, "arr_1": b}, {"1": b, "0": a}, [a, b]):
        got = feeds(m, given)
        assert [g.shape for g in got] == [a.shape, b.shape]
    with pytest.raises(DataError, match="no array for input 1"):
        feeds(m, {"0": a})
    with pytest.raises(DataError, match="names no input"):
        feeds(m, {"0": a, "1": b, "x": b})
    with pytest.raises(DataError, match="has 2 inputs"):
        feeds(m, a)
    with pytest.raises(DataError, match="same number"):
        feeds(m, [a, b[:2]])
    with pytest.raises(DataError, match="dtype float32"):
        feeds(m, [a.astype(np.float32), b])


def test_hello_says_how_many_inputs_and_outputs():
    rec = parse_line(
        "TFLE 1 hello board=host runtime=aot model=1a2b3c4d ram=16 flash=64 clock_hz=1 "
        "in_bytes=40 out_bytes=36 inputs=2 outputs=2"
    )
    assert (rec["inputs"], rec["outputs"]) == (2, 2)


def test_compare_float_outputs_bit_for_bit():
    want = [np.array([[0.5, 1.0]], np.float32), np.array([[1, 2]], np.int8)]
    assert compare([w.copy() for w in want], want)["bit_exact"] == 1
    off = [want[0] + np.float32(0.25), want[1]]
    doc = compare(off, want)
    assert doc["bit_exact"] == 0 and doc["max_abs_diff"] == pytest.approx(0.25)


def test_tflm_project_copies_every_tensor(tmp_path, tflm_dir):
    data = mm.two_by_two_int16()
    m = load_model(data)
    render(data, board="qemu-m4", runtime="tflm", out_dir=tmp_path, tflm_dir=tflm_dir)
    settings = (tmp_path / "model_settings.h").read_text()
    sizes = [t.nbytes for t in m.input_tensors]
    assert "#define TFLE_NUM_INPUTS 2" in settings and "#define TFLE_NUM_OUTPUTS 2" in settings
    assert f"#define TFLE_INPUT_BYTES {sum(sizes)}" in settings
    assert f"#define TFLE_INPUT1_OFFSET {sizes[0]}" in settings
    outs = ", ".join(str(t.nbytes) for t in m.output_tensors)
    assert f"#define TFLE_OUTPUT_SIZES {{{outs}}}" in settings
    main = (tmp_path / "main.cc").read_text()
    assert "interpreter->input(k)" in main and "interpreter->output(k)" in main
    known = (tmp_path / "tfle_input.c").read_text()
    values = [int(v) for v in re.findall(r"-?\d+", known.split("{", 1)[1])]
    assert bytes(np.array(values, np.int8).view(np.uint8)) == known_input_bytes(m)


# --------------------------------------------------------------------------- on the board


@pytest.mark.slow
def test_float_two_by_two_flashes_and_runs_on_qemu_with_aot(tmp_path):
    data = mm.two_by_two_float()
    model = tmp_path / "two_by_two_f.tflite"
    model.write_bytes(data)
    args = ["--board", "qemu-m4", "--model", str(model), "--runtime", "aot"]
    log = tmp_path / "serial.jsonl"
    flash = [*CLI, "flash", *args, "--runs", "1", "--no-profile", "--json", "--log", str(log)]
    proc = run(flash, env=_env())
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    hello = json.loads(log.read_text().splitlines()[0])
    assert hello["kind"] == "hello" and hello["fields"]["inputs"] == 2
    assert hello["fields"]["outputs"] == 2
    assert hello["fields"]["in_bytes"] == sum(t.nbytes for t in load_model(data).input_tensors)
    assert doc["runtime"] == "aot" and doc["output_matches_tflm"] is True
    assert doc["output_crc32"] == Reference(data).output_crc32()
    # one CRC32 per output too, each TFLM's
    ys = Reference(data).known_outputs()
    each = [f"{zlib.crc32(y.tobytes()) & 0xFFFFFFFF:08x}" for y in ys]
    assert doc["output_crc32s"] == doc["tflm_output_crc32s"] == each

    m = load_model(data)
    xs = mm.random_feeds(m, 3, seed=4)
    names = [t.name for t in m.input_tensors]
    np.savez(tmp_path / "in.npz", **{names[0]: xs[0]}, arr_1=xs[1])
    out = tmp_path / "out.npz"
    proc = run(
        [*CLI, "run", *args, "--input", str(tmp_path / "in.npz"), "-o", str(out)], env=_env()
    )
    assert proc.returncode == 0, proc.stderr
    want = Reference(data).run(xs)
    with np.load(out) as saved:
        assert list(saved.files) == [t.name for t in m.output_tensors]
        for k, w in zip(saved.files, want, strict=True):
            assert saved[k].dtype == np.float32 and saved[k].tobytes() == w.tobytes()
    assert "ran 3 inputs on qemu-m4" in proc.stdout


@pytest.mark.slow
def test_int16_two_by_two_validates_on_qemu_with_tflm(tmp_path, tflm_dir):
    """validate --data with one array per input (x_test_0, x_test_1): float samples quantized
    to each int16 input, run by TFLM on qemu-m4 and compared with the interpreter."""
    data = mm.two_by_two_int16()
    model = tmp_path / "two_by_two_16.tflite"
    model.write_bytes(data)
    m = load_model(data)
    rng = np.random.default_rng(2)
    x = [rng.uniform(-1.2, 1.2, size=(6, *t.shape[1:])).astype(np.float32) for t in m.input_tensors]
    classes = int(np.prod(m.output_tensors[0].shape[1:]))
    np.savez(tmp_path / "d.npz", x_test_0=x[0], x_test_1=x[1], y_test=np.arange(6) % classes)
    proc = run(
        [*CLI, "validate", "--board", "qemu-m4", "--model", str(model), "--data",
         str(tmp_path / "d.npz"), "--runtime", "tflm", "--tflm-dir", str(tflm_dir),
         "--tflm-kernels", "reference", "--json", "--quiet"],
        env=_env(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["runtime"] == "tflm" and doc["samples"] == 6
    assert doc["bit_exact"] == 6 and doc["max_abs_diff"] == 0
    assert doc["accuracy"] == doc["int8_host_accuracy"]
    # data without one array per input: one line, before any build
    np.savez(tmp_path / "bad.npz", x_test=x[0])
    proc = run(
        [*CLI, "validate", "--model", str(model), "--data", str(tmp_path / "bad.npz")], env=_env()
    )
    assert proc.returncode == 2 and "x_test_0" in proc.stderr.strip().splitlines()[-1]
