"""STRIDED_SLICE and SLICE (constant begin/end/strides or begin/size), int8 and int16; and
the strided copy all the data-movement families share (`copy_params`, `copy_call`).

TFLM's reference kernels of STRIDED_SLICE, SLICE, TRANSPOSE, SPLIT, SPLIT_V, PACK and UNPACK
copy elements without arithmetic, so each becomes one `tfle_strided_copy` per output (or
input, for PACK) with element offsets and strides computed here, as TFLM's Prepare and Eval
compute them.
"""

from __future__ import annotations

import math

import numpy as np

from ..operands import check_shape, guard, require_quantized
from ..params import declare_struct, ints
from ..registry import EmitContext, TensorView, register_op

COPY_DIMS = 6  # TFLE_COPY_DIMS of tfle_strided_copy.h
COPY_HEADER = "tfle_strided_copy.h"
DTYPES = ("int8", "int16")  # TFLM's kernels of these ops take both (16x8 models)

declare_struct(
    "tfle_strided_copy_params",
    [
        ("dims", "i", COPY_DIMS),
        ("x_strides", "i", COPY_DIMS),
        ("y_strides", "i", COPY_DIMS),
        *ints("x_offset y_offset elem_size"),
    ],
    header=COPY_HEADER,
)


def contiguous_strides(shape: tuple[int, ...] | list[int]) -> list[int]:
    """Row-major element strides of a shape."""
    strides, acc = [0] * len(shape), 1
    for d in range(len(shape) - 1, -1, -1):
        strides[d] = acc
        acc *= int(shape[d])
    return strides


def copy_params(dims, x_strides, y_strides, x_offset: int, y_offset: int, elem_size: int) -> dict:
    """tfle_strided_copy_params; size-1 dimensions dropped and neighbours that are contiguous
    on both sides merged (so the kernel copies long rows), padded with leading 1s."""
    dims = [int(d) for d in dims]
    if any(d == 0 for d in dims):
        dims, x_strides, y_strides = [0], [0], [0]
    merged: list[tuple[int, int, int]] = []
    for d, xs, ys in zip(dims, x_strides, y_strides, strict=True):
        if d == 1:
            continue
        if merged and merged[-1][1] == xs * d and merged[-1][2] == ys * d:
            merged[-1] = (merged[-1][0] * d, int(xs), int(ys))
        else:
            merged.append((d, int(xs), int(ys)))
    if len(merged) > COPY_DIMS:
        raise ValueError(f"a copy over {len(merged)} dimensions (at most {COPY_DIMS})")
    full = [(1, 0, 0)] * (COPY_DIMS - len(merged)) + merged
    return {
        "dims": [f[0] for f in full],
        "x_strides": [f[1] for f in full],
        "y_strides": [f[2] for f in full],
        "x_offset": int(x_offset),
        "y_offset": int(y_offset),
        "elem_size": int(elem_size),
    }


def copy_call(ctx: EmitContext, hint: str, values: dict, x: str, y: str) -> str:
    """The C call of one strided copy with its parameter struct."""
    p = ctx.param_struct(hint, "tfle_strided_copy_params", values)
    return f"tfle_strided_copy(&{p}, {x}, {y});"


def constant_ints(ctx: EmitContext, view: TensorView | None, what: str) -> list[int]:
    """The values of a constant int32 (or int64) operand; refuses one computed at run time."""
    if view is None or not view.is_constant:
        ctx.unsupported(f"{what} computed at run time (TFLM requires a constant tensor)")
    if view.dtype not in (np.int32, np.int64):
        ctx.unsupported(f"{what} of type {view.dtype}")
    return [int(v) for v in np.asarray(view.data).ravel()]


# --------------------------------------------------------------------------- STRIDED_SLICE


def _clamp(v: int, lo: int, hi: int) -> int:
    return hi if hi < v else lo if v < lo else v


def strided_slice_params(
    shape: tuple[int, ...],
    begin: list[int],
    end: list[int],
    strides: list[int],
    begin_mask: int,
    end_mask: int,
    shrink_mask: int,
    out_shape: tuple[int, ...],
    elem_size: int,
) -> dict:
    """tfle_strided_copy_params of TFLM's STRIDED_SLICE: its Prepare's output-size check
    (StartForAxis / StopForAxis) and its Eval's loops (StridedSlicePadIndices to 5-D,
    StridedSliceStartForAxis / StridedSliceEndForAxis); ValueError where TFLM fails or
    would write other than the output's elements."""
    rank = len(shape)
    if rank > 4:
        raise ValueError(f"a {rank}-D input (TFLM's STRIDED_SLICE takes at most 4-D)")
    if not len(begin) == len(end) == len(strides) == rank:
        raise ValueError(
            f"begin/end/strides of lengths {len(begin)}/{len(end)}/{len(strides)} for a "
            f"{rank}-D input"
        )
    if any(s == 0 for s in strides):
        raise ValueError("a stride of 0")
    big, low = 2**31 - 1, -(2**31)
    # Prepare's CheckOutputSize
    expected = []
    for a in range(rank):
        size, stride = int(shape[a]), strides[a]
        if size == 0:
            start = stop = 0
        else:
            start = begin[a]
            if begin_mask >> a & 1:
                start = low if stride > 0 else big
            start = start + size if start < 0 else start
            start = _clamp(start, 0, size) if stride > 0 else _clamp(start, -1, size - 1)
            stop = end[a] if not end_mask >> a & 1 else big if stride > 0 else low
            stop = stop + size if stop < 0 else stop
            stop = _clamp(stop, 0, size) if stride > 0 else _clamp(stop, -1, size - 1)
        if shrink_mask >> a & 1:  # StopForAxis and CheckOutputSize both
            stop = start + 1
        dim = max(math.ceil(float(np.float32(stop - start) / np.float32(stride))), 0)
        if not shrink_mask >> a & 1:
            expected.append(dim)
    if tuple(expected) != tuple(out_shape):
        raise ValueError(f"an output shape {tuple(out_shape)} where TFLM expects {tuple(expected)}")
    # Eval, padded to 5-D
    pad = 5 - rank
    shape5 = [1] * pad + [int(s) for s in shape]
    b5, e5, s5 = [0] * pad + list(begin), [1] * pad + list(end), [1] * pad + list(strides)
    bm = (begin_mask << pad) | ((1 << pad) - 1)
    em = (end_mask << pad) | ((1 << pad) - 1)
    sm = shrink_mask << pad
    counts, starts = [], []
    for a in range(5):
        size, stride = shape5[a], s5[a]
        start = b5[a] + size if b5[a] < 0 else b5[a]
        start = _clamp(start, 0, size) if stride > 0 else _clamp(start, -1, size - 1)
        if bm >> a & 1:
            start = 0 if stride > 0 else size - 1
        if sm >> a & 1:
            stop = start if start >= size else start + 1
        else:
            stop = e5[a] + size if e5[a] < 0 else e5[a]
            stop = _clamp(stop, 0, size) if stride > 0 else _clamp(stop, -1, size - 1)
            if em >> a & 1:
                stop = size if stride > 0 else -1
        n = -(-(stop - start) // stride) if stride > 0 else -(-(start - stop) // -stride)
        counts.append(max(n, 0))
        starts.append(start)
    kept = [counts[a] for a in range(pad, 5) if not sm >> a & 1]
    shrunk = [counts[a] for a in range(pad, 5) if sm >> a & 1]
    if tuple(kept) != tuple(out_shape) or any(c != 1 for c in shrunk):
        raise ValueError(
            f"begin/end/strides whose slice ({counts[pad:]}) TFLM would not write in full "
            f"into the output {tuple(out_shape)}"
        )
    in_strides = contiguous_strides(shape5)
    return copy_params(
        counts,
        [s5[a] * in_strides[a] for a in range(5)],
        contiguous_strides(counts),
        sum(starts[a] * in_strides[a] for a in range(5)),
        0,
        elem_size,
    )


@register_op("STRIDED_SLICE", dtypes=DTYPES)
def _emit_strided_slice(ctx: EmitContext) -> str:
    x, begin, end, strides = (ctx.inputs + [None] * 4)[:4]
    y = ctx.outputs[0]
    dtype = require_quantized(ctx, x, y, dtypes=DTYPES)
    o = ctx.options
    if o.get("ellipsisMask", 0) or o.get("newAxisMask", 0):
        ctx.unsupported("an ellipsis or new-axis mask (TFLM's STRIDED_SLICE ignores them)")
    if o.get("offset", False):
        ctx.unsupported("the offset option (TFLM's STRIDED_SLICE ignores it)")
    values = guard(
        ctx,
        strided_slice_params,
        tuple(x.shape),
        constant_ints(ctx, begin, "begin indices"),
        constant_ints(ctx, end, "end indices"),
        constant_ints(ctx, strides, "strides"),
        int(o.get("beginMask", 0)),
        int(o.get("endMask", 0)),
        int(o.get("shrinkAxisMask", 0)),
        tuple(y.shape),
        dtype.itemsize,
    )
    return copy_call(ctx, "slice", values, x.expr, y.expr)


# --------------------------------------------------------------------------- SLICE


def slice_params(
    shape: tuple[int, ...], begin: list[int], size: list[int], elem_size: int
) -> tuple[dict, tuple[int, ...]]:
    """(tfle_strided_copy_params, output shape) of TFLM's SLICE (size -1: to the end)."""
    rank = len(shape)
    if rank > 5:
        raise ValueError(f"a {rank}-D input (TFLM's SLICE takes at most 5-D)")
    if not len(begin) == len(size) == rank:
        raise ValueError(f"begin/size of lengths {len(begin)}/{len(size)} for a {rank}-D input")
    counts = []
    for a in range(rank):
        stop = shape[a] if size[a] == -1 else begin[a] + size[a]
        if begin[a] < 0 or stop > shape[a] or stop < begin[a]:
            raise ValueError(f"a slice [{begin[a]}, {stop}) of a dimension of {shape[a]}")
        counts.append(stop - begin[a])
    in_strides = contiguous_strides(shape)
    values = copy_params(
        counts,
        in_strides,
        contiguous_strides(counts),
        sum(b * s for b, s in zip(begin, in_strides, strict=True)),
        0,
        elem_size,
    )
    return values, tuple(counts)


@register_op("SLICE", dtypes=DTYPES)
def _emit_slice(ctx: EmitContext) -> str:
    x, begin, size = (ctx.inputs + [None] * 3)[:3]
    y = ctx.outputs[0]
    dtype = require_quantized(ctx, x, y, dtypes=DTYPES)
    b = constant_ints(ctx, begin, "begin indices")
    s = constant_ints(ctx, size, "sizes")
    values, out = guard(ctx, slice_params, tuple(x.shape), b, s, dtype.itemsize)
    check_shape(ctx, out, f"slicing {tuple(x.shape)} from {b} by {s}")
    return copy_call(ctx, "slice", values, x.expr, y.expr)
