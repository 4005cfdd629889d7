"""The Python half of the host TFLM board's model side: the tflite-micro package's interpreter.

`flash --board host --runtime tflm` builds the one C harness (firmware/harness) with the model
side firmware/models/tfle_model_python.c, which embeds this interpreter of Python and calls
the two functions below; the harness prints every record. Nothing here speaks the protocol:
Python only loads the model and turns input bytes into output bytes.
"""

from __future__ import annotations

import sys

_board: dict = {}  # the loaded model: its Reference and its input and output layouts


def load(path: str) -> tuple[int, int, int, int, str]:
    """Load the model into TFLM's interpreter: (input bytes, output bytes, TFLM's arena total,
    .tflite bytes, the first 8 hex digits of its sha256). Bytes are those of all inputs
    (outputs) packed in order (protocol/tensors.py)."""
    from ..protocol.tensors import input_layout, output_layout
    from ..reference import Reference

    # The board's stdout is the serial console, the harness's alone: what Python would print
    # goes to stderr (the board's log) instead.
    sys.stdout = sys.stderr
    ref = Reference(path)
    m = ref.model
    ins, outs = input_layout(m), output_layout(m)
    arena = ref.arena()
    _board.update(ref=ref, inputs=ins, outputs=outs)
    in_bytes, out_bytes = sum(t.nbytes for t in ins), sum(t.nbytes for t in outs)
    return in_bytes, out_bytes, arena.total, len(m.data), m.sha256[:8]


def invoke(data: bytes) -> bytes:
    """One inference on the inputs' packed raw bytes; the outputs' packed raw bytes."""
    from ..protocol.tensors import pack, unpack

    ref = _board["ref"]
    xs = unpack(data, _board["inputs"])
    ys = ref.run_one(xs if ref.multi else xs[0])
    return pack(ys if ref.multi else [ys], _board["outputs"])
