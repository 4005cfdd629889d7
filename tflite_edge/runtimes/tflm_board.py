"""The Python half of the host TFLM board's model side: the tflite-micro package's interpreter.

`flash --board host --runtime tflm` builds the one C harness (firmware/harness) with the model
side firmware/models/tfle_model_python.c, which embeds this interpreter of Python and calls
the two functions below; the harness prints every record. Nothing here speaks the protocol:
Python only loads the model and turns input bytes into output bytes.
"""

from __future__ import annotations

import sys

import numpy as np

_board: dict = {}  # the loaded model: its Reference and its input tensor


def load(path: str) -> tuple[int, int, int, int, str]:
    """Load the model into TFLM's interpreter: (input bytes, output bytes, TFLM's arena total,
    .tflite bytes, the first 8 hex digits of its sha256)."""
    from ..reference import Reference

    # The board's stdout is the serial console, the harness's alone: what Python would print
    # goes to stderr (the board's log) instead.
    sys.stdout = sys.stderr
    ref = Reference(path)
    m = ref.model
    t_in, t_out = m.input_tensors[0], m.output_tensors[0]
    arena = ref.arena()
    _board.update(ref=ref, input=t_in)
    return t_in.nbytes, t_out.nbytes, arena.total, len(m.data), m.sha256[:8]


def invoke(data: bytes) -> bytes:
    """One inference on the input tensor's raw bytes; the output tensor's raw bytes."""
    t_in = _board["input"]
    x = np.frombuffer(data, dtype=t_in.dtype).reshape(t_in.shape)
    y = _board["ref"].run_one(x)
    return np.ascontiguousarray(y).tobytes()
