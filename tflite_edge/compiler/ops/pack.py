"""PACK, int8 and int16: one strided copy per input into its place in the output."""

from __future__ import annotations

from ..operands import check_shape, guard, require_quantized
from ..registry import EmitContext, register_op
from .slicing import DTYPES, copy_call, copy_params


def pack_params(
    in_shapes: list[tuple[int, ...]], axis: int, elem_size: int
) -> tuple[list[dict], tuple[int, ...]]:
    """(one tfle_strided_copy_params per input, the output shape) of PACK along `axis` of the
    output (TFLM's PackImpl: input i fills rows i, i + n, i + 2n, ... of copy_size)."""
    shape = tuple(int(d) for d in in_shapes[0])
    if any(tuple(s) != shape for s in in_shapes):
        raise ValueError(f"inputs of different shapes {[tuple(s) for s in in_shapes]}")
    n = len(in_shapes)
    a = axis + len(shape) + 1 if axis < 0 else axis
    if not 0 <= a <= len(shape):
        raise ValueError(f"axis {axis} packing {len(shape)}-D inputs")
    out = shape[:a] + (n,) + shape[a:]
    outer = copy = 1
    for d in shape[:a]:
        outer *= d
    for d in shape[a:]:
        copy *= d
    values = [
        copy_params([outer, copy], [copy, 1], [n * copy, 1], 0, i * copy, elem_size)
        for i in range(n)
    ]
    return values, out


@register_op("PACK", dtypes=DTYPES)
def _emit_pack(ctx: EmitContext) -> str:
    xs, y = ctx.inputs, ctx.outputs[0]
    dtype = require_quantized(ctx, *xs, y, dtypes=DTYPES)
    if int(ctx.options.get("valuesCount", len(xs))) != len(xs):
        ctx.unsupported(f"valuesCount={ctx.options.get('valuesCount')} with {len(xs)} inputs")
    shapes = [tuple(x.shape) for x in xs]
    axis = int(ctx.options.get("axis", 0))
    values, out = guard(ctx, pack_params, shapes, axis, dtype.itemsize)
    check_shape(ctx, out, f"packing {len(xs)} tensors of {shapes[0]} on axis {axis}")
    return "\n".join(
        copy_call(ctx, f"pack{i}", v, x.expr, y.expr)
        for i, (v, x) in enumerate(zip(values, xs, strict=True))
    )
