"""A model's inputs and outputs as the protocol carries them: every input packed one after
the other into one `in` command's bytes (the known input too), every output likewise in one
`result` (and one `out` CRC32 over all of them). Each tensor's bytes are its elements in
their own type, little-endian (int8, int16, float32 IEEE 754, ...): PROTOCOL.md, "Several
inputs and outputs, other types"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data import split_by_shape
from ..errors import DataError


@dataclass(frozen=True)
class IoTensor:
    """One model input or output: its place in the packed bytes of all of them."""

    position: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    offset: int
    nbytes: int

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """One sample: the shape without its batch axis of 1."""
        s = self.shape
        return s[1:] if len(s) > 1 and s[0] == 1 else s

    def describe(self) -> str:
        return f"{self.name!r} {list(self.shape)} {self.dtype.name}"


def _layout(model: Any, tensors: Sequence[Any]) -> list[IoTensor]:
    out, offset = [], 0
    for k, t in enumerate(tensors):
        dtype = np.dtype(t.dtype).newbyteorder("<")
        out.append(IoTensor(k, t.name, tuple(int(d) for d in t.shape), dtype, offset, t.nbytes))
        offset += t.nbytes
    return out


def input_layout(model: Any) -> list[IoTensor]:
    """The model's inputs, in order, as packed in `in` and the known input."""
    return _layout(model, model.input_tensors)


def output_layout(model: Any) -> list[IoTensor]:
    """The model's outputs, in order, as packed in `result` (and CRC32'd in `out`)."""
    return _layout(model, model.output_tensors)


def pack(arrays: Sequence[np.ndarray], layout: Sequence[IoTensor]) -> bytes:
    """One sample of every tensor -> the packed bytes (each cast to nothing: dtypes must match)."""
    if len(arrays) != len(layout):
        raise DataError(f"{len(arrays)} arrays for {len(layout)} tensors")
    chunks = []
    for a, t in zip(arrays, layout, strict=True):
        a = np.ascontiguousarray(a, dtype=t.dtype)
        if a.nbytes != t.nbytes:
            raise DataError(f"{a.nbytes} bytes for tensor {t.describe()} of {t.nbytes} bytes")
        chunks.append(a.tobytes())
    return b"".join(chunks)


def unpack(data: bytes, layout: Sequence[IoTensor]) -> list[np.ndarray]:
    """Packed bytes -> one array per tensor, of its dtype and shape."""
    total = sum(t.nbytes for t in layout)
    if len(data) != total:
        raise DataError(f"{len(data)} bytes where the tensors take {total}")
    return [
        np.frombuffer(data, dtype=t.dtype, count=t.nbytes // t.dtype.itemsize, offset=t.offset)
        .astype(t.dtype.newbyteorder("="))
        .reshape(t.shape)
        for t in layout
    ]


def feeds(
    model: Any, inputs: np.ndarray | Sequence[np.ndarray] | Mapping[str, np.ndarray]
) -> list[np.ndarray]:
    """Batches of samples, one per model input, each (N, *sample_shape) in the input's dtype.

    `inputs` is one array (a single-input model), a sequence of arrays (by position), or a
    mapping by input tensor name or by position ("0", "1", ...; as .npz keys "arr_0", ...).
    An array of exactly the input's shape is one sample; other shapes are refused.
    """
    layout = input_layout(model)
    arrays = _by_input(model, layout, inputs)
    out = []
    for t, a in zip(layout, arrays, strict=True):
        a = np.asarray(a)
        which = f"input {t.position} {t.describe()}" if len(layout) > 1 else "inputs"
        if a.dtype != t.dtype.newbyteorder("="):
            raise DataError(
                f"the {which} array has dtype {a.dtype}, model {model.name!r} takes "
                f"{t.dtype.name}; "
                + (
                    "quantize it with the input tensor's scale and zero point first"
                    if np.issubdtype(t.dtype, np.integer)
                    else f"pass {t.dtype.name} values"
                )
            )
        out.append(np.ascontiguousarray(_split(a, t, which)))
    counts = [len(a) for a in out]
    if len(set(counts)) > 1:
        raise DataError(
            f"the input arrays hold {counts} samples; pass the same number for every input"
        )
    return out


def _by_input(model: Any, layout: list[IoTensor], inputs: Any) -> list[np.ndarray]:
    if isinstance(inputs, Mapping):
        keys = list(inputs)
        names = {t.name: t.position for t in layout}
        picked: dict[int, Any] = {}
        for key in keys:
            pos = _position(key, names, len(layout))
            if pos is None:
                raise DataError(
                    f"input array {key!r} names no input of model {model.name!r}; its inputs are "
                    + ", ".join(f"{t.position}: {t.name!r}" for t in layout)
                    + " (name an array by tensor name or by position: 0, arr_0, ...)"
                )
            if pos in picked:
                raise DataError(f"two input arrays for input {pos} ({layout[pos].name!r})")
            picked[pos] = inputs[key]
        missing = [t for t in layout if t.position not in picked]
        if missing:
            raise DataError(
                f"no array for input{'s' if len(missing) > 1 else ''} "
                + ", ".join(f"{t.position} ({t.name!r})" for t in missing)
                + f" of model {model.name!r}; pass one array per input"
            )
        return [picked[k] for k in range(len(layout))]
    if isinstance(inputs, (list, tuple)):
        if len(inputs) != len(layout):
            raise DataError(
                f"{len(inputs)} input arrays for model {model.name!r}, which has "
                f"{len(layout)} input{'s' if len(layout) > 1 else ''}; pass one per input"
            )
        return list(inputs)
    if len(layout) != 1:
        raise DataError(
            f"one input array for model {model.name!r}, which has {len(layout)} inputs ("
            + ", ".join(t.describe() for t in layout)
            + "); pass one array per input (an .npz with one array per input name or position)"
        )
    return [inputs]


def _position(key: str, names: dict[str, int], n: int) -> int | None:
    if key in names:
        return names[key]
    digits = key[4:] if key.startswith("arr_") else key
    if digits.isdigit() and int(digits) < n:
        return int(digits)
    return None


def _split(a: np.ndarray, t: IoTensor, which: str) -> np.ndarray:
    """a as (N, *sample_shape): that already, or exactly the tensor's shape (one sample)."""
    return split_by_shape(a, tuple(t.shape), what=which)
