"""The TFLE protocol and the monitor: parsing, loop://, pseudo-terminals, socket://, the CLI.

Expected figures come from numpy applied to the values written to the port, and expected
records from the lines written; nothing is typed in from an earlier run.
"""

from __future__ import annotations

import json
import os
import re
import select
import socket
import threading
import time
import tty
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tflite_edge.cli import main
from tflite_edge.errors import ProtocolError, SerialError, TFLiteEdgeError
from tflite_edge.protocol import (
    INT_FIELDS,
    KINDS,
    Record,
    Session,
    format_record,
    monitor,
    open_port,
    parse_line,
    read_records,
    send_input,
)

ROOT = Path(__file__).resolve().parents[2]
CLOCK_HZ = 25_000_000
OPS = ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"]
# What else a real link carries: ESP-IDF boot logs, ROM chatter, noise at the wrong baud.
NOISE = [
    b"ets Jun  8 2016 00:22:57\r\n",
    b"rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n",
    b"I (312) cpu_start: Starting scheduler on PRO CPU.\r\n",
    b"\x00\xff\xfe\x80garbage\x1b[0m\n",
    b"\xe2\x9c\x93 non-ascii but not a record\n",
]


def hello(board: str = "qemu-m4", clock_hz: int = CLOCK_HZ) -> str:
    return (
        f"TFLE 1 hello board={board} runtime=aot model=1a2b3c4d ram=16000 flash=61234 "
        f"clock_hz={clock_hz} in_bytes=8 out_bytes=4"
    )


def board_lines(cycles: np.ndarray, layer_cycles: np.ndarray | None = None, **kw) -> list[str]:
    """The lines a board prints for timed runs of `cycles` (and per-layer cycles)."""
    lines = [hello(**kw)]
    for i, c in enumerate(cycles):
        lines.append(f"TFLE 1 run i={i} cycles={c} us={c * 1_000_000 // CLOCK_HZ}")
        if layer_cycles is not None:
            for idx, lc in enumerate(layer_cycles[i]):
                lines.append(f"TFLE 1 layer i={i} idx={idx} op={OPS[idx % 4]} cycles={lc}")
        lines.append(f"TFLE 1 out i={i} crc32={zlib.crc32(b'out'):08x}")
    lines.append(f"TFLE 1 done runs={len(cycles)}")
    return lines


def with_noise(lines: list[str]) -> bytes:
    """The lines as bytes, with every kind of noise in between."""
    out = bytearray()
    for n, line in enumerate(lines):
        out += NOISE[n % len(NOISE)] + line.encode() + (b"\r\n" if n % 2 else b"\n")
    return bytes(out)


@pytest.fixture
def loop():
    port = open_port("loop://")
    yield port
    port.close()


@pytest.fixture
def pty() -> Iterator[tuple[int, str]]:
    """A real pseudo-terminal: (master fd the test writes to, slave path the monitor opens)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    state = {"master": master}
    yield state, path
    os.close(slave)
    if state["master"] is not None:
        os.close(state["master"])


def write_in_pieces(fd: int, data: bytes, seed: int = 0) -> None:
    """Write `data` to `fd` in random pieces with short pauses, so lines arrive split."""
    rng = np.random.default_rng(seed)
    pos = 0
    while pos < len(data):
        n = int(rng.integers(1, 40))
        os.write(fd, data[pos : pos + n])
        pos += n
        time.sleep(0.002)


# --------------------------------------------------------------------------- parsing


def protocol_examples() -> list[str]:
    """The record lines in PROTOCOL.md's example block."""
    text = (ROOT / "firmware" / "harness" / "PROTOCOL.md").read_text()
    blocks = re.findall(r"```\n(.*?)```", text, flags=re.S)
    return [ln for b in blocks for ln in b.splitlines() if ln.startswith("TFLE ")]


def test_every_example_in_the_spec_parses_back_to_its_line():
    examples = protocol_examples()
    assert {line.split()[2] for line in examples} >= {"hello", "run", "layer", "out", "done"}
    for line in examples:
        rec = parse_line(line + "\n")
        assert rec is not None and rec.raw == line and rec.version == 1
        assert set(KINDS[rec.kind]) <= set(rec.fields)
        again = " ".join(["TFLE", "1", rec.kind, *(f"{k}={v}" for k, v in rec.fields.items())])
        assert again == line
        for key, value in rec.fields.items():
            assert isinstance(value, int) == (key in INT_FIELDS), key


@settings(database=None)  # write no .hypothesis/ folder into the repository
@given(
    i=st.integers(0, 2**31),
    cycles=st.integers(0, 2**64),
    us=st.integers(0, 2**32),
    crc=st.integers(0, 2**32 - 1),
    payload=st.binary(max_size=64),
)
def test_records_round_trip(i, cycles, us, crc, payload):
    run = parse_line(f"TFLE 1 run i={i} cycles={cycles} us={us}\r\n".encode())
    assert run.kind == "run" and run.fields == {"i": i, "cycles": cycles, "us": us}
    out = parse_line(f"TFLE 1 out i={i} crc32={crc:08X}")  # upper case is accepted
    assert out.fields == {"i": i, "crc32": f"{crc:08x}"}
    res = parse_line(f"TFLE 1 result i={i} cycles={cycles} crc32={crc:x} hex={payload.hex()}")
    assert res.payload == payload and res["crc32"] == f"{crc:08x}"


def test_format_record_writes_lines_the_parser_reads():
    fields = {"i": 3, "cycles": 12345, "crc32": "00c0ffee", "hex": bytes([1, 255]).hex()}
    line = format_record("result", **fields)
    assert line == "TFLE 1 result i=3 cycles=12345 crc32=00c0ffee hex=01ff"
    assert parse_line(line).fields == fields
    with pytest.raises(ProtocolError, match="run record lacks us"):
        format_record("run", i=0, cycles=1)
    with pytest.raises(ProtocolError, match="'words' is not a key=value field"):
        format_record("error", msg="two words")


@pytest.mark.parametrize("line", [*NOISE, b"", b"\n", "TFLEX 1 run i=0", b"sTFLE", "tfle 1 done"])
def test_lines_without_a_record_are_ignored(line):
    assert parse_line(line) is None


@pytest.mark.parametrize(
    "line, reason",
    [
        ("TFLE \r\n", "no protocol version"),
        ("TFLE x run i=0", "version 'x' is not a number"),
        ("TFLE 2 run i=0 cycles=1 us=1", "protocol version 2, but this tflite-edge reads"),
        ("TFLE 1", "no record kind"),
        ("TFLE 1 rum i=0 cycles=1 us=1", "unknown record kind 'rum'"),
        ("TFLE 1 run i=0 cycles=1", "run record lacks us"),
        ("TFLE 1 run i=0 cyc", "'cyc' is not a key=value field"),
        ("TFLE 1 run i=0 cycles=12x us=1", "cycles='12x' is not a decimal"),
        ("TFLE 1 run i=0 i=1 cycles=1 us=1", "'i' appears twice"),
        ("TFLE 1 out i=0 crc32=xyz", "not hexadecimal"),
        ("TFLE 1 out i=0 crc32=123456789", "more than 8 hex digits"),
        ("TFLE 1 result i=0 cycles=1 crc32=0 hex=abc", "odd number of digits"),
        (b"TFLE 1 run i=0 cycles=1\xff2 us=1", "byte 0xff is not printable ASCII"),
        ("TFLE 1 error msg=", "'msg=' is not a key=value field"),
    ],
)
def test_garbled_records_are_reported_with_the_reason(line, reason):
    with pytest.raises(ProtocolError, match="garbled TFLE line") as err:
        parse_line(line)
    assert reason in str(err.value)
    assert reason in err.value.garbled.reason


def test_a_record_after_a_half_line_from_before_a_reset_counts():
    rec = parse_line(b"\x00\xffTFLE 1 run i=3 cycTFLE 1 hello " + hello()[13:].encode() + b"\r\n")
    assert rec.kind == "hello" and rec.raw == hello()
    log = parse_line("I (42) app: TFLE 1 done runs=3")  # behind an ESP-IDF log prefix
    assert log.kind == "done" and log["runs"] == 3


# --------------------------------------------------------------------------- loop://


def test_monitor_over_loop_skips_noise_and_logs_every_record(loop, tmp_path):
    rng = np.random.default_rng(1)
    cycles = rng.integers(10_000, 20_000, size=7)
    layers = rng.integers(100, 5_000, size=(7, 4))
    lines = board_lines(cycles, layers)
    bad = "TFLE 1 run i=99 cycles=1"  # cut short: reported, not used
    loop.write(with_noise(lines[:3]) + bad.encode() + b"\n" + with_noise(lines[3:]))
    loop.write(b"TFLE 1 ready\n")
    log = tmp_path / "records.jsonl"
    session = monitor(loop, out=log, timeout=5)

    assert session.hello == parse_line(lines[0]).fields
    assert [r["cycles"] for r in session.runs] == cycles.tolist()
    assert [r["cycles"] for r in session.layers] == layers.ravel().tolist()
    assert len(session.outs) == 7 and session.done == {"runs": 7}
    assert [g.raw for g in session.garbled] == [bad] and session.garbled[0].kind == "run"
    # The log holds every record and the garbled line, in the order they arrived.
    docs = [json.loads(x) for x in log.read_text().splitlines()]
    assert [d["raw"] for d in docs] == lines[:3] + [bad] + lines[3:]
    assert docs[3]["kind"] == "garbled"
    assert Session.from_jsonl(log).to_dict() == {**session.to_dict(), "port": str(log)}
    # monitor stopped at done and read no further: the next line is still on the port.
    assert [r.kind for r in read_records(loop, until=lambda r: True, timeout=1)] == ["ready"]


@pytest.mark.parametrize("n_runs", [1, 10, 11])
def test_latency_matches_numpy_on_the_values_written(loop, n_runs):
    rng = np.random.default_rng(n_runs)
    cycles = rng.integers(1_000, 10_000_000, size=n_runs)
    layers = rng.integers(1, 100_000, size=(n_runs, 4))
    loop.write("\n".join(board_lines(cycles, layers)).encode() + b"\n")
    session = monitor(loop, timeout=5)

    lat = session.latency()
    us = cycles * 1_000_000 // CLOCK_HZ
    assert lat["runs"] == n_runs
    for key, values in (("cycles", cycles), ("us", us)):
        assert lat[key]["min"] == values.min() and lat[key]["max"] == values.max()
        assert lat[key]["median"] == pytest.approx(np.median(values))
        assert lat[key]["p90"] == pytest.approx(np.percentile(values, 90))
    summary = session.layers_summary()
    medians = np.median(layers, axis=0)
    assert [r["idx"] for r in summary] == [0, 1, 2, 3]
    assert [r["op"] for r in summary] == OPS
    assert [r["cycles"] for r in summary] == pytest.approx(medians.tolist())
    assert [r["share"] for r in summary] == pytest.approx((medians / medians.sum()).tolist())
    json.dumps(session.to_dict())  # JSON-ready as it is


def test_table_labels_emulated_figures(loop):
    cycles = np.array([40_000, 41_000, 39_000])
    loop.write("\n".join(board_lines(cycles, np.full((3, 2), 7))).encode() + b"\n")
    table = monitor(loop, timeout=5).table()  # qemu-m4 is emulated in the board registry
    assert "cycles (emulated instruction counts)" in table
    assert f"us (estimate at {CLOCK_HZ / 1e6:g} MHz)" in table
    assert f"{int(np.median(cycles)):,}" in table
    for op in OPS[:2]:
        assert op in table

    loop.write("\n".join(board_lines(cycles, board="host", clock_hz=0)).encode() + b"\n")
    host = monitor(loop, timeout=5)
    assert "emulated" not in host.table() and "estimate" not in host.table()
    assert "emulated instruction counts" in host.table(emulated=True)


def test_runs_limit_stops_after_that_runs_output(loop):
    cycles = np.arange(100, 106)
    lines = board_lines(cycles)
    loop.write("\n".join(lines).encode() + b"\n")
    session = monitor(loop, runs=2, timeout=5)
    assert [r["i"] for r in session.runs] == [0, 1] and [o["i"] for o in session.outs] == [0, 1]
    assert session.done is None
    rest = read_records(loop, timeout=5)  # the third run is still on the port
    assert rest[0].raw == lines[1 + 2 * 2]


def test_a_reset_mid_session_keeps_the_last_boot(loop):
    first, second = board_lines(np.array([5, 6])), board_lines(np.array([7, 8, 9]))
    loop.write("\n".join(first[:3] + second).encode() + b"\n")
    session = monitor(loop, timeout=5)
    assert session.resets == 1
    assert [r["cycles"] for r in session.runs] == [7, 8, 9]
    assert "reset 1 time" in session.table()


def test_monitor_refuses_what_is_not_a_port():
    for port in (None, 5, b"loop://"):
        with pytest.raises(TFLiteEdgeError, match="port must be a device path"):
            monitor(port, timeout=0.1)
    for timeout in (float("nan"), "1"):
        with pytest.raises(TFLiteEdgeError, match="timeout must be a positive number"):
            monitor("loop://", timeout=timeout)


def test_a_timeout_leaves_no_empty_log_but_keeps_an_existing_one(loop, tmp_path):
    new = tmp_path / "new.jsonl"
    with pytest.raises(SerialError, match="no TFLE record"):
        monitor(loop, timeout=0.3, out=new)
    assert not new.exists()
    kept = tmp_path / "kept.jsonl"
    kept.write_text("")  # the user's file, even empty, is theirs
    with pytest.raises(SerialError, match="no TFLE record"):
        monitor(loop, timeout=0.3, out=kept)
    assert kept.exists()
    loop.write(f"{hello()}\n".encode())
    with pytest.raises(SerialError, match="after the last one"):
        monitor(loop, timeout=0.3, out=new)
    assert [json.loads(line)["kind"] for line in new.read_text().splitlines()] == ["hello"]


def test_a_silent_board_times_out_with_advice(loop):
    with pytest.raises(SerialError, match=r"no TFLE record from loop:// in 0.5 s; check the baud"):
        monitor(loop, timeout=0.5)
    loop.write(b"\x93\x11\xfe\n" * 5)  # what a wrong baud rate looks like
    with pytest.raises(SerialError, match="20 bytes arrived but none formed a TFLE line"):
        read_records(loop, timeout=0.5)
    loop.write(f"{hello()}\nTFLE 1 run i=0 cycles=1 us=1\n".encode())
    with pytest.raises(SerialError, match=r"for 0.5 s after the last one .*2 records read"):
        read_records(loop, timeout=0.5)
    loop.write(b"TFLE 2 hello\n")
    with pytest.raises(SerialError, match="1 TFLE lines could not be parsed.*version 2"):
        read_records(loop, timeout=0.5)


def test_a_board_that_only_prints_garbled_lines_still_times_out(pty):
    state, path = pty
    port = open_port(path)
    stop = threading.Event()

    def chatter() -> None:  # a firmware of another protocol version, talking forever
        while not stop.is_set():
            os.write(state["master"], b"TFLE 2 run i=0\nI (1) log line\n")
            time.sleep(0.01)

    thread = threading.Thread(target=chatter)
    thread.start()
    try:
        with pytest.raises(SerialError, match=r"in 0.5 s.*could not be parsed.*version 2"):
            monitor(port, timeout=0.5)
    finally:
        stop.set()
        thread.join(10)
        port.close()


def test_bad_arguments_are_refused_before_anything_is_written(loop, tmp_path):
    with pytest.raises(SerialError, match="baud rate must be a positive integer"):
        open_port("loop://", baud=0)
    out = tmp_path / "missing" / "log.jsonl"
    with pytest.raises(TFLiteEdgeError, match="does not exist"):
        monitor("loop://", out=out, timeout=0.5)
    assert not out.parent.exists()
    with pytest.raises(TFLiteEdgeError, match="runs must be an integer from 1 to"):
        monitor(loop, runs=0)


# --------------------------------------------------------------------------- pseudo-terminal


def test_monitor_over_a_pty_with_lines_split_across_writes(pty, tmp_path):
    state, path = pty
    rng = np.random.default_rng(7)
    cycles = rng.integers(1_000, 2_000, size=5)
    layers = rng.integers(1, 500, size=(5, 3))
    lines = board_lines(cycles, layers)
    port = open_port(path)  # opened before the board talks, as the flasher does with QEMU
    writer = threading.Thread(target=write_in_pieces, args=(state["master"], with_noise(lines)))
    writer.start()
    try:
        log = tmp_path / "pty.jsonl"
        session = monitor(port, out=log, timeout=10)
    finally:
        writer.join(10)
        port.close()
    assert [r["cycles"] for r in session.runs] == cycles.tolist()
    assert [r["cycles"] for r in session.layers] == layers.ravel().tolist()
    assert [json.loads(x)["raw"] for x in log.read_text().splitlines()] == lines
    assert session.latency()["cycles"]["median"] == pytest.approx(np.median(cycles))


def test_a_pty_that_vanishes_mid_run_is_reported_and_the_log_keeps_what_came(pty, tmp_path):
    state, path = pty
    lines = board_lines(np.array([10, 20, 30]))
    port = open_port(path)
    seen = threading.Event()

    def board() -> None:
        os.write(state["master"], ("\n".join(lines[:5]) + "\nTFLE 1 run i=2 cyc").encode())
        seen.wait(10)  # the monitor has the first two runs: now pull the plug
        os.close(state["master"])
        state["master"] = None

    got: list[Record] = []

    def on_record(rec: Record) -> None:
        got.append(rec)
        if len(got) == 5:
            seen.set()

    thread = threading.Thread(target=board)
    thread.start()
    log = tmp_path / "cut.jsonl"
    try:
        with pytest.raises(SerialError, match=r"vanished while reading.*5 TFLE records"):
            read_records(port, timeout=10, jsonl=log, on_record=on_record)
    finally:
        thread.join(10)
        port.close()
    assert [json.loads(x)["raw"] for x in log.read_text().splitlines()] == lines[:5]


def test_a_pty_that_never_answers_times_out(pty):
    _, path = pty
    port = open_port(path)
    try:
        with pytest.raises(SerialError, match=f"no TFLE record from {path} in 0.5 s"):
            monitor(port, timeout=0.5)
    finally:
        port.close()


class FakeBoard(threading.Thread):
    """Answers `in` commands on the master side of a pty the way the harness does.

    Used as a context manager: it is stopped and joined before the pty's descriptors close,
    so it can never read from a descriptor number that a later test reuses.
    """

    def __init__(self, fd: int, answer) -> None:
        super().__init__(daemon=True)
        self.fd, self.answer, self.count = fd, answer, 0
        self.stopping = threading.Event()

    def __enter__(self) -> FakeBoard:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.join(10)

    def run(self) -> None:
        buf = b""
        while not self.stopping.is_set():
            if not select.select([self.fd], [], [], 0.02)[0]:
                continue
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                rec = parse_line(line)
                if rec is not None and rec.kind == "in":
                    reply = self.answer(self.count, rec)
                    self.count += 1
                    write_in_pieces(self.fd, reply.encode() + b"\n", seed=self.count)


def reversed_output(i: int, rec: Record) -> str:
    out = rec.payload[::-1][:4]
    return f"TFLE 1 result i={i} cycles={100 + i} crc32={zlib.crc32(out):08x} hex={out.hex()}"


def test_send_input_round_trips_over_a_pty(pty):
    state, path = pty
    port = open_port(path)
    try:
        with FakeBoard(state["master"], reversed_output):
            rng = np.random.default_rng(3)
            for i in range(3):
                data = rng.integers(-128, 128, size=8, dtype=np.int8).tobytes()
                rec = send_input(port, data, timeout=10, out_bytes=4)
                assert rec.kind == "result" and rec["i"] == i
                assert rec.payload == data[::-1][:4]
    finally:
        port.close()


@pytest.mark.parametrize(
    "reply, message",
    [
        ("TFLE 1 error msg=bad_length", "rejected an input of 8 bytes: msg=bad_length"),
        ("TFLE 1 result i=0 cycles=1 crc32=00000000 hex=0102", "damaged on the link"),
        ("TFLE 1 result i=0 cycles=1 crc32={crc} hex=0102", "carries 2 output bytes, expected 4"),
        ("TFLE 1 result i=0 cycles=1 crc32=00000000 hex=010", "answer to an input of 8 bytes is"),
    ],
)
def test_send_input_refuses_bad_answers(pty, reply, message):
    state, path = pty
    port = open_port(path)
    text = reply.format(crc=f"{zlib.crc32(bytes([1, 2])):08x}")
    try:
        with FakeBoard(state["master"], lambda i, rec: text):
            with pytest.raises(ProtocolError, match=message):
                send_input(port, bytes(8), timeout=10, out_bytes=4)
    finally:
        port.close()


def test_send_input_to_a_board_that_stopped_reading_times_out(pty):
    _, path = pty  # nobody reads the master side: the pty's buffer fills up
    port = open_port(path)
    try:
        with pytest.raises(SerialError, match="cannot write the input to .*still connected"):
            send_input(port, bytes(64 * 1024), timeout=0.5)
    finally:
        port.close()


def test_send_input_over_loop_skips_its_own_echo(loop):
    out = bytes([5, 6, 7, 8])
    loop.write(f"TFLE 1 result i=0 cycles=9 crc32={zlib.crc32(out):08x} hex={out.hex()}\n".encode())
    assert send_input(loop, b"\x01\x02", timeout=5).payload == out
    echo = read_records(loop, until=lambda r: True, timeout=5)  # loop:// returns what we wrote
    assert echo[0].kind == "in" and echo[0].payload == b"\x01\x02" and echo[0]["n"] == 2


# --------------------------------------------------------------------------- socket:// and CLI


@pytest.fixture
def board_server():
    """A board on the network: a TCP server that sends `data` then closes (or lingers)."""
    server = socket.create_server(("127.0.0.1", 0))
    threads = []

    def serve(data: bytes, linger: bool = True) -> str:
        def run() -> None:
            conn, _ = server.accept()
            # pyserial empties its input right after connecting; a board that starts
            # talking only a moment later (as one does after reset) loses nothing.
            time.sleep(0.3)
            with conn:
                try:
                    for n in range(0, len(data), 50):
                        conn.sendall(data[n : n + 50])
                        time.sleep(0.001)
                    if linger:
                        conn.recv(1)  # until the monitor hangs up
                except OSError:
                    pass  # the monitor hung up early (--runs): what a board sees too

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        threads.append(thread)
        return f"socket://127.0.0.1:{server.getsockname()[1]}"

    yield serve
    server.close()
    for thread in threads:
        thread.join(10)


def test_cli_monitor_json_over_socket(board_server, tmp_path, capsys):
    cycles = np.random.default_rng(5).integers(1_000, 9_000, size=9)
    url = board_server(with_noise(board_lines(cycles, np.ones((9, 2), dtype=int))))
    log = tmp_path / "cli.jsonl"
    assert main(["monitor", "--port", url, "--json", "--out", str(log), "--timeout", "10"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["latency"]["runs"] == 9
    assert doc["latency"]["cycles"]["median"] == pytest.approx(np.median(cycles))
    assert doc["hello"]["board"] == "qemu-m4" and len(log.read_text().splitlines()) == 1 + 9 * 4 + 1


def test_cli_monitor_prints_a_table(board_server, capsys):
    cycles = np.array([300, 100, 200])
    url = board_server(with_noise(board_lines(cycles)))
    assert main(["monitor", "--port", url, "--runs", "2", "--timeout", "10"]) == 0
    out = capsys.readouterr().out
    assert "2 timed runs" in out and "emulated instruction counts" in out


def test_cli_monitor_a_board_that_hangs_up(board_server, capsys):
    url = board_server(with_noise(board_lines(np.array([1, 2]))[:3]), linger=False)
    assert main(["monitor", "--port", url, "--timeout", "10"]) == 2
    err = capsys.readouterr().err
    assert "vanished while reading" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--port", "nope://board"], "protocol 'nope' not known"),
        (["--port", "/dev/tflite-edge-no-such-port"], "cannot open serial port"),
        (["--port", "loop://", "--timeout", "0.5"], "no TFLE record from loop:// in 0.5 s"),
        (["--port", "loop://", "--runs", "0"], "expected a positive number, found '0'"),
        (["--port", "loop://", "--timeout", "nan"], "expected a positive number, found 'nan'"),
        (["--port", "loop://", "--runs", "2000000"], "runs must be an integer from 1 to"),
    ],
)
def test_cli_monitor_bad_input_is_one_line_and_exit_2(args, message, capsys):
    assert exit_code(["monitor", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def exit_code(argv: list[str]) -> int:
    """The CLI's exit code, whether main() returns it or argparse exits with it."""
    try:
        return main(argv)
    except SystemExit as exit:
        return exit.code


def test_read_records_on_a_hung_up_pty_is_a_serial_error():
    # the other end closed before we started reading: setting up the port must not leak a
    # raw pyserial exception
    import os

    from tflite_edge import SerialError
    from tflite_edge.protocol import open_port, read_records

    master, slave = os.openpty()
    port = open_port(os.ttyname(slave))
    os.close(master)
    os.close(slave)
    with pytest.raises(SerialError):
        read_records(port, timeout=1.0)
