"""MEAN (int8, int16) and REDUCE_MAX (int8) over constant axes (TFLM's integer MEAN)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...model import Tensor
from ...model.quant import quantize_multiplier, tensor_scale, tensor_zero_point
from ..operands import guard, require_quantized, require_quantized_int8
from ..params import EXTRA_HEADER, MAX_DIMS, declare_struct, ints
from ..registry import EmitContext, register_op

declare_struct(
    "tfle_reduce_shape",
    [
        *ints("n_kept"),
        ("kept_dims", "i", MAX_DIMS),
        ("kept_strides", "i", MAX_DIMS),
        *ints("n_reduced"),
        ("reduced_dims", "i", MAX_DIMS),
        ("reduced_strides", "i", MAX_DIMS),
        *ints("num_reduced"),
    ],
    header=EXTRA_HEADER,
)
declare_struct("tfle_mean_params", ints("input_zp output_zp multiplier shift"), header=EXTRA_HEADER)


def resolve_axes(axes: Any, ndim: int) -> list[int]:
    """Reduction axes made non-negative, duplicates dropped, order kept (TFLM ResolveAxis)."""
    out: list[int] = []
    for a in np.asarray(axes).ravel().tolist():
        a = int(a) + ndim if int(a) < 0 else int(a)
        if not 0 <= a < ndim:
            raise ValueError(f"reduction axis {a} is outside a {ndim}-D tensor")
        if a not in out:
            out.append(a)
    return out


def reduce_shape(shape: tuple[int, ...], axes: list[int]) -> dict:
    """tfle_reduce_shape: the input split into kept and reduced dims with their strides."""
    if len(shape) > MAX_DIMS:
        raise ValueError(f"reductions over {len(shape)}-D tensors (at most {MAX_DIMS})")
    strides, acc = [0] * len(shape), 1
    for d in range(len(shape) - 1, -1, -1):
        strides[d] = acc
        acc *= shape[d]
    kept = [d for d in range(len(shape)) if d not in axes]
    red = [d for d in range(len(shape)) if d in axes]
    pad = [0] * MAX_DIMS
    return {
        "n_kept": len(kept),
        "kept_dims": ([shape[d] for d in kept] + pad)[:MAX_DIMS],
        "kept_strides": ([strides[d] for d in kept] + pad)[:MAX_DIMS],
        "n_reduced": len(red),
        "reduced_dims": ([shape[d] for d in red] + pad)[:MAX_DIMS],
        "reduced_strides": ([strides[d] for d in red] + pad)[:MAX_DIMS],
        "num_reduced": int(np.prod([shape[d] for d in red], dtype=np.int64)),
    }


def mean_params(inp: Tensor, out: Tensor, num_reduced: int) -> dict:
    """TFLM's integer MEAN: input/output multiplier with 1/num_reduced folded in.

    PrepareMeanOrSum quantizes input_scale / output_scale; QuantizedMeanOrSum then shifts
    the multiplier left by floor(log2(n)) (at most 32, at most 31 + shift) and divides it by n.
    """
    m, s = quantize_multiplier(float(tensor_scale(inp)) / float(tensor_scale(out)))
    n = int(num_reduced)
    if n < 1:
        raise ValueError("a MEAN over an empty axis")
    shift = min(n.bit_length() - 1, 32, 31 + s)
    return {
        "input_zp": tensor_zero_point(inp),
        "output_zp": tensor_zero_point(out),
        "multiplier": (m << shift) // n if m >= 0 else -((-m << shift) // n),
        "shift": s - shift,
    }


def _reduce_shape_of(ctx: EmitContext) -> dict:
    x, axes = ctx.inputs[0], ctx.inputs[1]
    if axes is None or not axes.is_constant:
        ctx.unsupported("reduction axes computed at run time (they must be a constant tensor)")
    resolved = guard(ctx, resolve_axes, axes.data, len(x.shape))
    shape = guard(ctx, reduce_shape, x.shape, resolved)
    kept = int(np.prod(shape["kept_dims"][: shape["n_kept"]], dtype=np.int64))
    if kept != ctx.outputs[0].size:
        ctx.unsupported(
            f"an output of {ctx.outputs[0].size} elements from reducing {tuple(x.shape)} "
            f"over axes {resolved} (expected {kept})"
        )
    return shape


@register_op("MEAN", dtypes=("int8", "int16"))
def _emit_mean(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    dtype = require_quantized(ctx, x, y, dtypes=("int8", "int16"))
    # no axes: TFLM requantizes each element (a sum over one), which the kernel does too
    shape = _reduce_shape_of(ctx)
    s = ctx.param_struct("rshape", "tfle_reduce_shape", shape)
    p = ctx.param_struct(
        "mean", "tfle_mean_params", mean_params(x.tensor, y.tensor, shape["num_reduced"])
    )
    suffix = "s16" if dtype == np.int16 else "s8"
    return f"tfle_mean_{suffix}(&{p}, &{s}, {x.expr}, {y.expr});"


@register_op("REDUCE_MAX")
def _emit_reduce_max(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    if x is not None and x.dtype == np.int16:
        ctx.unsupported("int16 REDUCE_MAX (TFLM's REDUCE_MAX kernel is float32 and int8 only)")
    require_quantized_int8(ctx, x, y)
    if x.zero_point != y.zero_point or np.float32(x.scale) != np.float32(y.scale):
        ctx.unsupported("different input and output quantization (TFLM requires the same)")
    s = ctx.param_struct("rshape", "tfle_reduce_shape", _reduce_shape_of(ctx))
    return f"tfle_reduce_max_s8(&{s}, {x.expr}, {y.expr});"
