"""The Python half of the host TFLM board's model side: the tflite-micro package's interpreter.

`flash --board host --runtime tflm` builds the one C harness (firmware/harness) with the model
side firmware/models/tfle_model_python.c, which embeds this interpreter of Python and calls
the two functions below; the harness prints every record. Nothing here speaks the protocol:
Python only loads the model and turns input bytes into output bytes.
"""

from __future__ import annotations

import sys

import numpy as np

_board: dict = {}  # the loaded model: its Reference and its input and output layouts


def load(path: str) -> tuple[int, int, int, int, str]:
    """Load the model into TFLM's interpreter: (input bytes, output bytes, TFLM's arena total,
    .tflite bytes, the first 8 hex digits of its sha256). Bytes are those of all inputs
    (outputs) packed one after the other in the model's order, as the harness takes them."""
    from ..reference import Reference

    # The board's stdout is the serial console, the harness's alone: what Python would print
    # goes to stderr (the board's log) instead.
    sys.stdout = sys.stderr
    ref = Reference(path)
    m = ref.model
    arena = ref.arena()
    _board.update(ref=ref, inputs=m.input_tensors)
    in_bytes = sum(t.nbytes for t in m.input_tensors)
    out_bytes = sum(t.nbytes for t in m.output_tensors)
    return in_bytes, out_bytes, arena.total, len(m.data), m.sha256[:8]


def invoke(data: bytes) -> bytes:
    """One inference on the inputs' packed raw bytes; the outputs' packed raw bytes."""
    ref = _board["ref"]
    xs, at = [], 0
    for t in _board["inputs"]:
        xs.append(np.frombuffer(data, dtype=t.dtype, count=t.size, offset=at).reshape(t.shape))
        at += t.nbytes
    ys = ref.run_one(xs if ref.multi else xs[0])
    return b"".join(np.ascontiguousarray(y).tobytes() for y in (ys if ref.multi else [ys]))
