"""SPLIT, SPLIT_V and UNPACK, int8 and int16: one strided copy per output, in TFLM's layout
(each output takes its consecutive rows of the input along the axis)."""

from __future__ import annotations

from ..operands import guard, require_quantized
from ..registry import EmitContext, register_op
from .slicing import DTYPES, constant_ints, copy_call, copy_params


def _outer_inner(shape: tuple[int, ...], axis: int) -> tuple[int, int]:
    outer = inner = 1
    for d in shape[:axis]:
        outer *= int(d)
    for d in shape[axis + 1 :]:
        inner *= int(d)
    return outer, inner


def _axis(shape: tuple[int, ...], axis: int) -> int:
    a = axis + len(shape) if axis < 0 else axis
    if not 0 <= a < len(shape):
        raise ValueError(f"axis {axis} of a {len(shape)}-D input")
    return a


def split_params(
    shape: tuple[int, ...], out_shapes: list[tuple[int, ...]], axis: int, elem_size: int
) -> list[dict]:
    """One tfle_strided_copy_params per output of SPLIT / SPLIT_V along `axis`."""
    a = _axis(shape, axis)
    for s in out_shapes:
        if len(s) != len(shape) or any(
            int(s[d]) != int(shape[d]) for d in range(len(shape)) if d != a
        ):
            raise ValueError(f"an output of shape {tuple(s)} split from {tuple(shape)}")
    if sum(int(s[a]) for s in out_shapes) != int(shape[a]):
        raise ValueError(f"outputs {[tuple(s) for s in out_shapes]} that do not sum to {shape}")
    outer, inner = _outer_inner(shape, a)
    row = int(shape[a]) * inner
    out, offset = [], 0
    for s in out_shapes:
        n = int(s[a]) * inner
        out.append(copy_params([outer, n], [row, 1], [n, 1], offset, 0, elem_size))
        offset += n
    return out


def _emit_split(ctx: EmitContext, x, axis: int) -> str:
    ys = ctx.outputs
    dtype = require_quantized(ctx, x, *ys, dtypes=DTYPES)
    shapes = [tuple(y.shape) for y in ys]
    values = guard(ctx, split_params, tuple(x.shape), shapes, axis, dtype.itemsize)
    return "\n".join(
        copy_call(ctx, f"split{i}", v, x.expr, y.expr)
        for i, (v, y) in enumerate(zip(values, ys, strict=True))
    )


@register_op("SPLIT", dtypes=DTYPES)
def _emit_split_op(ctx: EmitContext) -> str:
    axis, x = (ctx.inputs + [None] * 2)[:2]
    a = constant_ints(ctx, axis, "the axis")
    if len(a) != 1:
        ctx.unsupported(f"an axis tensor of {len(a)} values")
    if len({tuple(y.shape) for y in ctx.outputs}) != 1:
        ctx.unsupported("outputs of different shapes (TFLM's SPLIT sizes all as the first)")
    return _emit_split(ctx, x, a[0])


@register_op("SPLIT_V", dtypes=DTYPES)
def _emit_split_v(ctx: EmitContext) -> str:
    x, _sizes, axis = (ctx.inputs + [None] * 3)[:3]
    a = constant_ints(ctx, axis, "the axis")
    if len(a) != 1:
        ctx.unsupported(f"an axis tensor of {len(a)} values")
    return _emit_split(ctx, x, a[0])


def unpack_params(shape: tuple[int, ...], num: int, axis: int, elem_size: int) -> list[dict]:
    """One tfle_strided_copy_params per output of UNPACK: slice i along `axis`."""
    a = _axis(shape, axis)
    if num != int(shape[a]):
        raise ValueError(f"{num} outputs unpacked from a dimension of {shape[a]}")
    outer, inner = _outer_inner(shape, a)
    return [
        copy_params([outer, inner], [num * inner, 1], [inner, 1], i * inner, 0, elem_size)
        for i in range(num)
    ]


@register_op("UNPACK", dtypes=DTYPES)
def _emit_unpack(ctx: EmitContext) -> str:
    x, ys = ctx.inputs[0], ctx.outputs
    dtype = require_quantized(ctx, x, *ys, dtypes=DTYPES)
    num, axis = int(ctx.options.get("num", 0)), int(ctx.options.get("axis", 0))
    if num != len(ys):
        ctx.unsupported(f"num={num} with {len(ys)} outputs")
    values = guard(ctx, unpack_params, tuple(x.shape), num, axis, dtype.itemsize)
    a = axis + len(x.shape) if axis < 0 else axis
    want = tuple(x.shape[:a]) + tuple(x.shape[a + 1 :])
    for y in ys:
        if tuple(y.shape) != want:
            ctx.unsupported(f"an output of shape {tuple(y.shape)} unpacked from {x.shape}")
    return "\n".join(
        copy_call(ctx, f"unpack{i}", v, x.expr, y.expr)
        for i, (v, y) in enumerate(zip(values, ys, strict=True))
    )
