"""The TFLM interpreter as a board: protocol v1 on stdin/stdout (a pty), run as a program.

`python -m tflite_edge.runtimes.tflm_board tflm-board MODEL --runs N --board NAME` is what
flash() starts for `--runtime tflm` on the host; its records are those of the firmware
harness, written with tflite_edge.protocol.format_record.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from ..errors import ModelError, ProtocolError, TFLiteEdgeError
from ..model import known_input
from ..protocol import format_record, parse_line
from ..reference import crc32

HOST_CLOCK_HZ = 1_000_000_000  # the host boards count nanoseconds


def tflm_board(model_path: str, runs: int, board: str = "host") -> None:
    """Be a board: the TFLM interpreter speaking protocol v1 on stdin/stdout (a pty)."""
    from ..reference import Reference

    out = sys.stdout.buffer

    def emit(kind: str, **fields: Any) -> None:
        out.write(format_record(kind, **fields).encode("ascii") + b"\n")
        out.flush()

    ref = Reference(model_path)
    m = ref.model
    t_in, t_out = m.input_tensors[0], m.output_tensors[0]
    arena = ref.arena()
    emit(
        "hello",
        board=board,
        runtime="tflm",
        model=m.sha256[:8],
        ram=arena.total,
        flash=len(m.data),
        clock_hz=HOST_CLOCK_HZ,
        in_bytes=t_in.nbytes,
        out_bytes=t_out.nbytes,
    )

    def invoke(x: np.ndarray) -> tuple[bytes, int]:
        start = time.perf_counter_ns()
        y = ref.run_one(x)
        elapsed = time.perf_counter_ns() - start
        return np.ascontiguousarray(y).tobytes(), elapsed

    x = known_input(m)
    for i in range(runs):
        y, ns = invoke(x)
        emit("run", i=i, cycles=ns, us=round(ns / 1000))
        emit("out", i=i, crc32=crc32(y))
    emit("done", runs=runs)
    emit("ready")
    answered = 0
    for line in sys.stdin.buffer:
        try:
            record = parse_line(line)
        except ProtocolError:
            emit("error", msg="bad_hex")
            continue
        if record is None or record.kind != "in":
            continue
        data = record.payload
        if record["n"] != t_in.nbytes or len(data) != t_in.nbytes:
            emit("error", msg="bad_length" if record["n"] != t_in.nbytes else "bad_hex")
            continue
        y, ns = invoke(np.frombuffer(data, dtype=t_in.dtype).reshape(t_in.shape))
        emit("result", i=answered, cycles=ns, crc32=crc32(y), hex=y.hex())
        answered += 1


def main(argv: list[str]) -> int:
    """`python -m tflite_edge.runtimes.tflm_board tflm-board MODEL [--runs N] [--board B]`."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tflite_edge.runtimes.tflm_board")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("tflm-board", help="the TFLM interpreter as a board on stdin/stdout")
    p.add_argument("model")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--board", default="host")
    args = parser.parse_args(argv)
    try:
        tflm_board(args.model, args.runs, args.board)
    except (TFLiteEdgeError, ModelError) as err:
        print(f"tflm-board: error: {err}", file=sys.stderr)
        return 2
    except (BrokenPipeError, OSError):
        return 0  # the host closed the terminal
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
