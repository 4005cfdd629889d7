"""On-device validation: the digits model on qemu-m4, and boards that answer wrongly."""

from __future__ import annotations

import json
import os
import sys
import threading
import zlib

import numpy as np
import pytest

from conftest import run
from tflite_edge import DataError, ProtocolError, flasher
from tflite_edge.data import quantize_inputs
from tflite_edge.model import load_model
from tflite_edge.protocol import format_record, open_port, send_input
from tflite_edge.reference import Reference
from tflite_edge.validation import compare, validate


@pytest.mark.slow
def test_digits_on_qemu_m4_is_bit_exact_and_as_accurate_as_host(digits, digits_sparse, tmp_path):
    _, (x_test, y_test) = digits
    result = validate(digits_sparse.tflite, x_test, y_test, board="qemu-m4")
    assert result.samples == len(x_test)
    assert result.bit_exact == result.samples and result.bit_exact_share == 1.0
    assert result.max_abs_diff == 0
    # the host figure is the TFLM interpreter's, computed independently by convert()
    assert result.accuracy == result.int8_host_accuracy
    assert result.accuracy == pytest.approx(digits_sparse.metrics["int8_accuracy"])


def _fake_board(model, corrupt: dict[int, str]):
    """A board behind a real pseudo-terminal that answers `in` commands with TFLM's output,
    except for the samples in `corrupt`: "flip" sends a wrong byte with a matching CRC (a
    wrong answer), "crc" sends the right bytes with a wrong CRC (a damaged line)."""
    ref = Reference(model)
    master, slave = os.openpty()
    import tty

    tty.setraw(slave)

    def serve() -> None:
        buf = b""
        i = 0
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if not line.startswith(b"TFLE 1 in "):
                    continue
                fields = dict(kv.split("=") for kv in line.decode().split()[3:])
                x = np.frombuffer(bytes.fromhex(fields["hex"]), np.int8)
                out = bytearray(ref.run_one(x).tobytes())
                crc = zlib.crc32(out)
                if corrupt.get(i) == "flip":
                    out[0] ^= 0x01
                    crc = zlib.crc32(out)
                elif corrupt.get(i) == "crc":
                    crc ^= 0xFFFF
                rec = format_record(
                    "result", i=i, cycles=100, crc32=f"{crc:08x}", hex=bytes(out).hex()
                )
                os.write(master, rec.encode() + b"\n")
                i += 1

    threading.Thread(target=serve, daemon=True).start()
    return os.ttyname(slave), master


def _run_over(port_path: str):
    def fake_run(model, xs, *, board, runtime, port, progress=None, **_):
        m = load_model(model)
        out_shape = m.output_tensors[0].shape
        port_obj = open_port(port_path)
        try:
            outs = []
            for k, x in enumerate(xs):
                rec = send_input(port_obj, x.tobytes(), timeout=10)
                outs.append(np.frombuffer(rec.payload, m.output_tensors[0].dtype))
                if progress:
                    progress(k + 1, len(xs))
            return np.stack(outs).reshape((len(xs), *out_shape[1:]))
        finally:
            port_obj.close()

    return fake_run


def test_wrong_answer_is_a_mismatch_not_a_pass(models_dir, monkeypatch):
    model = models_dir / "kws_ref_model.tflite"
    path, master = _fake_board(model, {3: "flip"})
    monkeypatch.setattr(flasher, "run", _run_over(path))
    xs = np.random.default_rng(0).integers(-128, 128, (8, 49, 10, 1), dtype=np.int8)
    seen = []
    result = validate(model, xs, board="host", progress=lambda d, t: seen.append((d, t)))
    os.close(master)
    assert result.samples == 8
    assert result.bit_exact == 7 and result.mismatches == [3]
    assert result.max_abs_diff >= 1
    assert seen[-1] == (8, 8)


def test_damaged_reply_is_a_protocol_error(models_dir, monkeypatch):
    model = models_dir / "kws_ref_model.tflite"
    path, master = _fake_board(model, {1: "crc"})
    monkeypatch.setattr(flasher, "run", _run_over(path))
    xs = np.random.default_rng(0).integers(-128, 128, (4, 49, 10, 1), dtype=np.int8)
    with pytest.raises(ProtocolError):
        validate(model, xs, board="host")
    os.close(master)


def test_compare_counts_against_reference():
    ref = np.arange(12, dtype=np.int8).reshape(4, 3)
    board = ref.copy()
    board[2, 1] += 5
    labels = ref.argmax(axis=1)
    got = compare(board, ref, labels)
    assert got["bit_exact"] == 3 and got["mismatches"] == [2] and got["max_abs_diff"] == 5
    assert got["accuracy"] == np.mean(board.argmax(axis=1) == labels)


def test_quantize_inputs_uses_the_input_tensor(models_dir):
    m = load_model(models_dir / "kws_ref_model.tflite")
    q = m.input_tensors[0].quantization
    x = np.random.default_rng(0).normal(0, 20, (2, 49, 10, 1)).astype(np.float32)
    xq = quantize_inputs(m, x)
    expect = np.clip(np.round(x / q.scale[0]) + q.zero_point[0], -128, 127).astype(np.int8)
    np.testing.assert_array_equal(xq, expect)


@pytest.mark.parametrize(
    "x,y,match",
    [
        (np.zeros((3, 5), np.float32), None, "does not split"),
        (np.full((2, 49, 10, 1), np.nan, np.float32), None, "NaN"),
        (np.zeros((2, 49, 10, 1), np.int32), None, "integer data of dtype int32"),
        (np.zeros((2, 49, 10, 1), np.float32), np.zeros(3), "3 labels for 2 samples"),
    ],
)
def test_bad_data(models_dir, x, y, match):
    with pytest.raises(DataError, match=match):
        validate(models_dir / "kws_ref_model.tflite", x, y, board="host")


def test_cli_bad_data_file_is_one_line_exit_2(models_dir, tmp_path):
    bad = tmp_path / "d.npz"
    bad.write_bytes(b"not an npz")
    res = run(
        [
            sys.executable,
            "-m",
            "tflite_edge",
            "validate",
            "--board",
            "host",
            "--model",
            str(models_dir / "hello_world_int8.tflite"),
            "--data",
            str(bad),
        ]
    )
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "npz" in res.stderr


def test_cli_validate_json_on_host(models_dir, tmp_path):
    model = models_dir / "hello_world_int8.tflite"
    x = np.linspace(0, 6.28, 25, dtype=np.float32).reshape(25, 1)
    np.savez(tmp_path / "d.npz", x=x)
    res = run(
        [
            sys.executable,
            "-m",
            "tflite_edge",
            "validate",
            "--board",
            "host",
            "--model",
            str(model),
            "--data",
            str(tmp_path / "d.npz"),
            "--json",
            "-o",
            str(tmp_path / "v.json"),
        ]
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["samples"] == 25 and doc["bit_exact"] == 25 and doc["bit_exact_share"] == 1.0
    assert json.loads((tmp_path / "v.json").read_text()) == doc
