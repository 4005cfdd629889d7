"""ADD and MUL, int8, with numpy broadcasting (TFLM's CalculateOpDataAdd / ...Mul)."""

from __future__ import annotations

import numpy as np

from ...model import Tensor
from ...model.quant import (
    activation_bounds,
    quantize_multiplier,
    quantize_multiplier_smaller_than_one,
    tensor_scale,
    tensor_zero_point,
)
from ..operands import check_shape, fused_activation, guard, require_quantized_int8
from ..params import EXTRA_HEADER, MAX_DIMS, declare_struct, ints
from ..registry import EmitContext, register_op

declare_struct(
    "tfle_bcast",
    [
        *ints("broadcast size"),
        ("dims", "i", MAX_DIMS),
        ("stride1", "i", MAX_DIMS),
        ("stride2", "i", MAX_DIMS),
    ],
    header=EXTRA_HEADER,
)
declare_struct(
    "tfle_add_params",
    ints(
        "input1_offset input2_offset output_offset left_shift input1_multiplier input1_shift "
        "input2_multiplier input2_shift output_multiplier output_shift act_min act_max"
    ),
    header=EXTRA_HEADER,
)
declare_struct(
    "tfle_mul_params",
    ints(
        "input1_offset input2_offset output_offset output_multiplier output_shift act_min act_max"
    ),
    header=EXTRA_HEADER,
)


def broadcast_params(s1: tuple[int, ...], s2: tuple[int, ...], out: tuple[int, ...]) -> dict:
    """tfle_bcast for two input shapes broadcast (numpy rules) to the output shape."""
    size = int(np.prod(out, dtype=np.int64))
    if tuple(s1) == tuple(s2) == tuple(out) or (
        int(np.prod(s1, dtype=np.int64)) == size == int(np.prod(s2, dtype=np.int64))
        and np.broadcast_shapes(tuple(s1), tuple(s2)) == tuple(out)
    ):
        zeros = [0] * MAX_DIMS
        return {
            "broadcast": 0,
            "size": size,
            "dims": [1] * MAX_DIMS,
            "stride1": zeros,
            "stride2": zeros,
        }
    if len(out) > MAX_DIMS:
        raise ValueError(f"broadcasting over {len(out)} dimensions (at most {MAX_DIMS})")
    dims = [1] * (MAX_DIMS - len(out)) + list(out)

    def strides(shape: tuple[int, ...]) -> list[int]:
        ext = [1] * (MAX_DIMS - len(shape)) + list(shape)
        st, acc = [0] * MAX_DIMS, 1
        for d in range(MAX_DIMS - 1, -1, -1):
            st[d] = 0 if ext[d] == 1 and dims[d] != 1 else acc
            acc *= ext[d]
        return st

    return {
        "broadcast": 1,
        "size": size,
        "dims": dims,
        "stride1": strides(s1),
        "stride2": strides(s2),
    }


def add_params(in1: Tensor, in2: Tensor, out: Tensor, activation: str | None) -> dict:
    """tfle_add_params as TFLM's CalculateOpDataAdd computes them (int8, left_shift 20)."""
    s1, s2, so = tensor_scale(in1), tensor_scale(in2), tensor_scale(out)
    left_shift = 20
    twice_max = 2 * float(max(s1, s2))
    m1, sh1 = quantize_multiplier_smaller_than_one(float(s1) / twice_max)
    m2, sh2 = quantize_multiplier_smaller_than_one(float(s2) / twice_max)
    mo, sho = quantize_multiplier_smaller_than_one(twice_max / ((1 << left_shift) * float(so)))
    lo, hi = activation_bounds(activation, out)
    return {
        "input1_offset": -tensor_zero_point(in1),
        "input2_offset": -tensor_zero_point(in2),
        "output_offset": tensor_zero_point(out),
        "left_shift": left_shift,
        "input1_multiplier": m1,
        "input1_shift": sh1,
        "input2_multiplier": m2,
        "input2_shift": sh2,
        "output_multiplier": mo,
        "output_shift": sho,
        "act_min": lo,
        "act_max": hi,
    }


def mul_params(in1: Tensor, in2: Tensor, out: Tensor, activation: str | None) -> dict:
    """tfle_mul_params as TFLM's CalculateOpDataMul computes them."""
    real = float(tensor_scale(in1)) * float(tensor_scale(in2)) / float(tensor_scale(out))
    m, s = quantize_multiplier(real)
    lo, hi = activation_bounds(activation, out)
    return {
        "input1_offset": -tensor_zero_point(in1),
        "input2_offset": -tensor_zero_point(in2),
        "output_offset": tensor_zero_point(out),
        "output_multiplier": m,
        "output_shift": s,
        "act_min": lo,
        "act_max": hi,
    }


def _binary(ctx: EmitContext, kind: str) -> str:
    a, b = ctx.inputs[0], ctx.inputs[1]
    y = ctx.outputs[0]
    require_quantized_int8(ctx, a, b, y)
    if a.quant.per_channel or b.quant.per_channel:
        ctx.unsupported("per-channel quantized inputs")
    try:
        expected = tuple(np.broadcast_shapes(tuple(a.shape), tuple(b.shape)))
    except ValueError:
        expected = None
    check_shape(ctx, expected, f"broadcasting {tuple(a.shape)} with {tuple(b.shape)}")
    act = fused_activation(ctx)
    fn = add_params if kind == "add" else mul_params
    p = ctx.param_struct(
        kind, f"tfle_{kind}_params", guard(ctx, fn, a.tensor, b.tensor, y.tensor, act)
    )
    bc = guard(ctx, broadcast_params, a.shape, b.shape, y.shape)
    bp = ctx.param_struct("bcast", "tfle_bcast", bc)
    return f"tfle_{kind}_s8(&{p}, &{bp}, {a.expr}, {b.expr}, {y.expr});"


@register_op("ADD")
def _emit_add(ctx: EmitContext) -> str:
    return _binary(ctx, "add")


@register_op("MUL")
def _emit_mul(ctx: EmitContext) -> str:
    return _binary(ctx, "mul")
