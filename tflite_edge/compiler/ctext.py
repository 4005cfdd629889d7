"""C text of values: the C type of a numpy dtype and C literals of numbers and arrays."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ModelError

C_TYPES = {
    np.dtype(np.int8): "int8_t",
    np.dtype(np.uint8): "uint8_t",
    np.dtype(np.int16): "int16_t",
    np.dtype(np.uint16): "uint16_t",
    np.dtype(np.int32): "int32_t",
    np.dtype(np.uint32): "uint32_t",
    np.dtype(np.int64): "int64_t",
    np.dtype(np.float32): "float",
    np.dtype(np.bool_): "uint8_t",
}
C_SIZES = {
    "int8_t": 1,
    "uint8_t": 1,
    "int16_t": 2,
    "uint16_t": 2,
    "int32_t": 4,
    "uint32_t": 4,
    "int64_t": 8,
    "float": 4,
}


def ctype(dtype: np.dtype) -> str:
    """The C element type of a numpy dtype; ModelError for one C cannot lay out."""
    try:
        return C_TYPES[np.dtype(dtype)]
    except KeyError:
        raise ModelError(
            f"tensors of type {dtype} cannot be laid out in C by tflite-edge"
        ) from None


def c_int(value: int) -> str:
    """A C integer literal; -2147483648 is not an int literal in C, so it is an expression."""
    v = int(value)
    return "(-2147483647 - 1)" if v == -(2**31) else str(v)


def c_float(value: float) -> str:
    """An exact C99 float literal (hexadecimal) of a float32 value."""
    v = float(np.float32(value))
    if not math.isfinite(v):
        raise ValueError(f"cannot emit the non-finite float {v} as a kernel parameter")
    return v.hex() + "f"


def c_list(values: Any, per_line: int = 16) -> str:
    """Comma-separated C literals of a numpy array, `per_line` to a line (deterministic)."""
    arr = np.asarray(values).ravel()
    if arr.dtype.kind == "f":
        items = [repr(float(np.float32(v))) + "f" for v in arr]
    elif arr.dtype == np.int32 or arr.dtype == np.int64:
        items = [c_int(v) for v in arr]
    else:
        items = [str(int(v)) for v in arr]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return ",\n    ".join(lines)
