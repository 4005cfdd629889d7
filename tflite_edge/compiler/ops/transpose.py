"""TRANSPOSE (constant permutation, 1-D to 5-D as TFLM), int8 and int16: one strided copy."""

from __future__ import annotations

from ..operands import check_shape, guard, require_quantized
from ..registry import EmitContext, register_op
from .slicing import DTYPES, constant_ints, contiguous_strides, copy_call, copy_params


def transpose_params(shape: tuple[int, ...], perm: list[int], elem_size: int) -> dict:
    """tfle_strided_copy_params: output dimension d walks input dimension perm[d]."""
    rank = len(shape)
    if rank > 5:
        raise ValueError(f"a {rank}-D input (TFLM's TRANSPOSE takes 1-D to 5-D)")
    if sorted(perm) != list(range(rank)):
        raise ValueError(f"the permutation {perm} of a {rank}-D input")
    in_strides = contiguous_strides(shape)
    out = [int(shape[p]) for p in perm]
    return copy_params(out, [in_strides[p] for p in perm], contiguous_strides(out), 0, 0, elem_size)


@register_op("TRANSPOSE", dtypes=DTYPES)
def _emit_transpose(ctx: EmitContext) -> str:
    x, perm = (ctx.inputs + [None] * 2)[:2]
    y = ctx.outputs[0]
    dtype = require_quantized(ctx, x, y, dtypes=DTYPES)
    p = constant_ints(ctx, perm, "a permutation")
    values = guard(ctx, transpose_params, tuple(x.shape), p, dtype.itemsize)
    if len(p) == len(x.shape):
        check_shape(ctx, tuple(x.shape[i] for i in p), f"transposing {tuple(x.shape)} by {p}")
    return copy_call(ctx, "transpose", values, x.expr, y.expr)
