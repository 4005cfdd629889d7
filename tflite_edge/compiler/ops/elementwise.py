"""ADD, SUB, MUL and SQUARED_DIFFERENCE, int8 and int16, with numpy broadcasting (TFLM's
CalculateOpDataAdd / CalculateOpDataSub / CalculateOpDataMul / SquaredDifference Prepare)."""

from __future__ import annotations

import numpy as np

from ...model import Tensor
from ...model.quant import (
    FUSED_ACTIVATIONS,
    activation_range,
    quantize_multiplier,
    quantize_multiplier_smaller_than_one,
    tensor_scale,
    tensor_zero_point,
)
from ..operands import check_shape, fused_activation, guard, require_quantized
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


def output_bounds(activation: str | None, out: Tensor) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for an int8 or int16 output; ValueError for an
    activation TFLM does not clamp to."""
    if (activation or "NONE") not in FUSED_ACTIVATIONS:
        raise ValueError(f"a fused {activation} activation (TFLM clamps only NONE/RELU*)")
    return activation_range(
        activation, np.dtype(out.dtype), float(tensor_scale(out)), tensor_zero_point(out)
    )


def _rescale_params(
    in1: Tensor, in2: Tensor, left_shift: int, m1, m2, mo, lo_hi: tuple[int, int]
) -> dict:
    q1 = quantize_multiplier_smaller_than_one(m1)
    q2 = quantize_multiplier_smaller_than_one(m2)
    return {
        "input1_offset": -tensor_zero_point(in1),
        "input2_offset": -tensor_zero_point(in2),
        "left_shift": left_shift,
        "input1_multiplier": q1[0],
        "input1_shift": q1[1],
        "input2_multiplier": q2[0],
        "input2_shift": q2[1],
        "output_multiplier": mo[0],
        "output_shift": mo[1],
        "act_min": lo_hi[0],
        "act_max": lo_hi[1],
    }


def broadcast_struct(ctx: EmitContext, a, b, y, *, max_dims: int = MAX_DIMS) -> str:
    """The tfle_bcast of a binary op whose inputs `a` and `b` broadcast (numpy rules, at
    most `max_dims` dimensions, as TFLM's kernel of the op) to its output `y`; refuses any
    other shapes. Returns the struct's C name."""
    if max(len(a.shape), len(b.shape), len(y.shape)) > max_dims:
        ctx.unsupported(f"more than {max_dims} dimensions (TFLM broadcasts up to {max_dims}-D)")
    try:
        want = np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
    except ValueError:
        ctx.unsupported(f"shapes {tuple(a.shape)} and {tuple(b.shape)} that do not broadcast")
    if tuple(want) != tuple(y.shape):
        ctx.unsupported(f"an output {tuple(y.shape)} for inputs {a.shape} and {b.shape}")
    bc = guard(ctx, broadcast_params, tuple(a.shape), tuple(b.shape), tuple(y.shape))
    return ctx.param_struct("bcast", "tfle_bcast", bc)


def add_params(in1: Tensor, in2: Tensor, out: Tensor, activation: str | None) -> dict:
    """tfle_add_params as TFLM's CalculateOpDataAdd computes them: left_shift 20 (int8) or 15
    (int16), the scales' ratios in double. TFLM micro's int16 ADD takes the general path
    (AddGeneralParamScale, pot_scale false), the same arithmetic as int8."""
    s1, s2, so = tensor_scale(in1), tensor_scale(in2), tensor_scale(out)
    left_shift = 15 if np.dtype(out.dtype) == np.int16 else 20
    twice_max = 2 * float(max(s1, s2))
    mo = quantize_multiplier_smaller_than_one(twice_max / ((1 << left_shift) * float(so)))
    p = _rescale_params(
        in1, in2, left_shift, float(s1) / twice_max, float(s2) / twice_max, mo,
        output_bounds(activation, out),
    )  # fmt: skip
    return {**p, "output_offset": tensor_zero_point(out)}


def sub_params(in1: Tensor, in2: Tensor, out: Tensor, activation: str | None) -> dict:
    """tfle_add_params of SUB (TFLM's CalculateOpDataSub): ADD's, the ratios of the float32
    scales in double. (The pinned TFLM source divides in float32 for SUB, but the TFLM
    interpreter the tests compare with agrees with double quotients on every rounding tie
    and not with float32 ones; a test runs 65536-element inputs to tell them apart.)"""
    return add_params(in1, in2, out, activation)


def squared_difference_params(in1: Tensor, in2: Tensor, out: Tensor) -> dict:
    """tfle_add_params as TFLM's SquaredDifferencePrepare computes them: left_shift 7 (int8)
    or 0 (int16), an output multiplier (QuantizeMultiplier, possibly > 1) of
    twice_max^2 / (2^(2 * left_shift) * output scale), the type's full range."""
    s1, s2, so = tensor_scale(in1), tensor_scale(in2), tensor_scale(out)
    left_shift = 0 if np.dtype(out.dtype) == np.int16 else 7
    twice_max = 2.0 * float(max(s1, s2))
    # (1 << 2 * left_shift) * scale is a float product in TFLM (exact: a power of two)
    real_out = twice_max * twice_max / float(np.float32(1 << (2 * left_shift)) * so)
    info = np.iinfo(np.dtype(out.dtype))
    p = _rescale_params(
        in1, in2, left_shift, float(s1) / twice_max, float(s2) / twice_max,
        quantize_multiplier(real_out), (int(info.min), int(info.max)),
    )  # fmt: skip
    return {**p, "output_offset": tensor_zero_point(out)}


def mul_params(in1: Tensor, in2: Tensor, out: Tensor, activation: str | None) -> dict:
    """tfle_mul_params as TFLM's CalculateOpDataMul computes them (int8 or int16)."""
    real = float(tensor_scale(in1)) * float(tensor_scale(in2)) / float(tensor_scale(out))
    m, s = quantize_multiplier(real)
    lo, hi = output_bounds(activation, out)
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
    dtype = require_quantized(ctx, a, b, y, dtypes=("int8", "int16"))
    if a.quant.per_channel or b.quant.per_channel:
        ctx.unsupported("per-channel quantized inputs")
    zero_points_must_be_0 = kind == "mul" or kind == "squared_difference"
    if (
        dtype == np.int16
        and zero_points_must_be_0
        and (a.zero_point, b.zero_point, y.zero_point) != (0, 0, 0)
    ):
        ctx.unsupported(f"int16 {kind.upper()} with nonzero zero points (TFLM requires 0)")
    try:
        expected = tuple(np.broadcast_shapes(tuple(a.shape), tuple(b.shape)))
    except ValueError:
        expected = None
    check_shape(ctx, expected, f"broadcasting {tuple(a.shape)} with {tuple(b.shape)}")
    act = fused_activation(ctx)
    if kind == "squared_difference":
        values = guard(ctx, squared_difference_params, a.tensor, b.tensor, y.tensor)
    else:
        fn = {"add": add_params, "sub": sub_params, "mul": mul_params}[kind]
        values = guard(ctx, fn, a.tensor, b.tensor, y.tensor, act)
    struct = "tfle_mul_params" if kind == "mul" else "tfle_add_params"
    p = ctx.param_struct(kind, struct, values)
    bc = guard(ctx, broadcast_params, a.shape, b.shape, y.shape)
    bp = ctx.param_struct("bcast", "tfle_bcast", bc)
    suffix = "s16" if dtype == np.int16 else "s8"
    return f"tfle_{kind}_{suffix}(&{p}, &{bp}, {a.expr}, {b.expr}, {y.expr});"


@register_op("ADD", dtypes=("int8", "int16"))
def _emit_add(ctx: EmitContext) -> str:
    return _binary(ctx, "add")


@register_op("SUB", dtypes=("int8", "int16"))
def _emit_sub(ctx: EmitContext) -> str:
    return _binary(ctx, "sub")


@register_op("MUL", dtypes=("int8", "int16"))
def _emit_mul(ctx: EmitContext) -> str:
    return _binary(ctx, "mul")


@register_op("SQUARED_DIFFERENCE", dtypes=("int8", "int16"))
def _emit_squared_difference(ctx: EmitContext) -> str:
    return _binary(ctx, "squared_difference")
