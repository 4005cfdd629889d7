"""CONCATENATION of inputs of one type along an axis (a row-by-row byte copy): int8, int16
(zero points 0, as TFLM requires) or any other element type."""

from __future__ import annotations

import numpy as np

from ..operands import check_shape, fused_activation, guard
from ..params import EXTRA_HEADER
from ..registry import EmitContext, register_op


def concat_params(
    shapes: list[tuple[int, ...]], out_shape: tuple[int, ...], axis: int, itemsize: int
) -> tuple[int, list[int]]:
    """(outer rows, bytes copied from each input per row) of a concatenation."""
    ndim = len(out_shape)
    axis = axis + ndim if axis < 0 else axis
    if not 0 <= axis < ndim:
        raise ValueError(f"concatenation axis {axis} is outside a {ndim}-D tensor")
    outer = int(np.prod(out_shape[:axis], dtype=np.int64))
    copy = [int(np.prod(s[axis:], dtype=np.int64)) * itemsize for s in shapes]
    return outer, copy


@register_op("CONCATENATION", dtypes=("int8", "int16", "int32", "float32"))
def _emit_concatenation(ctx: EmitContext) -> str:
    ins = [v for v in ctx.inputs if v is not None]
    y = ctx.outputs[0]
    if fused_activation(ctx) != "NONE":
        ctx.unsupported(f"a fused {fused_activation(ctx)} activation (TFLM allows none)")
    if any(v.dtype != y.dtype for v in ins):
        ctx.unsupported("inputs of different types")
    if y.dtype == np.int16 and any(v.zero_point != 0 for v in [*ins, y]):
        ctx.unsupported(
            "int16 tensors with a nonzero zero point (TFLM's int16 CONCATENATION needs 0)"
        )
    axis = int(ctx.options.get("axis", 0))
    outer, copy = guard(ctx, concat_params, [v.shape for v in ins], y.shape, axis, y.dtype.itemsize)
    axis = axis + len(y.shape) if axis < 0 else axis
    if any(len(v.shape) != len(y.shape) for v in ins):
        ctx.unsupported("inputs of different ranks")
    expected = list(ins[0].shape)
    expected[axis] = sum(int(v.shape[axis]) for v in ins)
    check_shape(ctx, tuple(expected), f"concatenating {[tuple(v.shape) for v in ins]}")
    ctx.require_header(EXTRA_HEADER)
    sizes = ctx.const_array("concat", np.array(copy, dtype=np.int32))
    return _concat_call([v.expr for v in ins], sizes, outer, y.expr)


def _concat_call(inputs: list[str], sizes: str, outer: int, out: str) -> str:
    ptrs = ", ".join(f"(const void *){e}" for e in inputs)
    return (
        "{\n"
        f"  const void *const in[{len(inputs)}] = {{{ptrs}}};\n"
        f"  tfle_concat({len(inputs)}, in, {sizes}, {outer}, (void *){out});\n"
        "}"
    )
