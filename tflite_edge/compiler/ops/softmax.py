"""SOFTMAX: int8 in, int8 out (output scale 1/256, zero point -128), int8 in, int16 out (output
scale 1/65536, zero point -32768: the same gemmlowp arithmetic, TFLM's reference Softmax with
an int16 OutputT), and int16 in, int16 out (zero points 0, output scale 1/32768) with TFLM's
two interpolated lookup tables."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from ...model.quant import quantize_multiplier, softmax_params, tflite_round
from ..operands import require_int8, require_quantized
from ..params import CORE_HEADER, EXTRA_HEADER, declare_struct, ints
from ..registry import EmitContext, register_op

declare_struct(
    "tfle_softmax_params",
    ints("outer depth input_multiplier input_left_shift diff_min"),
    header=CORE_HEADER,
)
declare_struct(
    "tfle_softmax16_params",
    ints("outer depth input_multiplier input_left_shift"),
    header=EXTRA_HEADER,
)

F32 = np.float32
S8_S16_HEADER = "tfle_softmax_s8_s16.h"  # tfle_softmax_s8_s16 (its params: tfle_softmax_params)


def _expf(v: np.float32) -> np.float32:
    """std::exp of a float as float32: exp in double rounded to float32, the correctly
    rounded value (glibc's expf and numpy's float32 exp give the same table)."""
    return F32(math.exp(float(v)))


def _round_f32(v: np.float32) -> np.float32:
    return F32(tflite_round(float(v)))


def lut_populate_int16(
    input_scale: float,
    input_zp: int,
    output_scale: float,
    output_zp: int,
    fn: Callable[[np.float32], np.float32],
) -> np.ndarray:
    """TFLM's LUTPopulate<int16_t> (LUTPopulateInt16<float>), every step in float32: 512
    samples over the input range, each lowered by half its interpolation error at the
    midpoint, and a 513th for the last slope."""
    lo, hi = F32(-32768), F32(32767)
    input_min = F32(input_scale) * F32(-32768 - input_zp)
    input_max = F32(input_scale) * F32(32767 - input_zp)
    output_min = F32(output_scale) * F32(-32768 - output_zp)
    output_max = F32(output_scale) * F32(32767 - output_zp)
    nb_steps = 512
    step = (input_max - input_min) / F32(nb_steps)
    half_step = step / F32(2)
    scaling_inv = F32(65536) / (output_max - output_min)
    lut = np.zeros(nb_steps + 1, np.int16)
    for i in range(nb_steps):
        x = input_min + F32(i) * step
        val = fn(x)
        val_midpoint = fn(x + half_step)
        val_next = fn(input_min + F32(i + 1) * step)
        sample = _round_f32(val * scaling_inv)
        midpoint_interp = _round_f32(
            (val_next * scaling_inv + _round_f32(val * scaling_inv)) / F32(2)
        )
        midpoint = _round_f32(val_midpoint * scaling_inv)
        bias = _round_f32((midpoint_interp - midpoint) / F32(2))
        lut[i] = int(min(max(sample - bias, lo), hi))
    lut[nb_steps] = int(min(max(_round_f32(fn(input_max) * scaling_inv), lo), hi))
    return lut


@functools.cache
def softmax16_tables() -> tuple[np.ndarray, np.ndarray]:
    """(exp_lut, one_over_one_plus_x_lut) as TFLM's SOFTMAX Prepare fills them for int16:
    exp on [-10, 0] and 1 / (1 + x) on [0, 1], both to [-1, 1) in Q0.15."""
    rng = F32(65535)
    exp_lut = lut_populate_int16(F32(10.0) / rng, 32767, F32(2.0) / rng, 0, _expf)
    recip = lut_populate_int16(
        F32(1.0) / rng, -32768, F32(2.0) / rng, 0, lambda v: F32(1.0) / (F32(1.0) + v)
    )
    return exp_lut, recip


def softmax16_params(input_scale: float, beta: float, outer: int, depth: int) -> dict:
    """tfle_softmax16_params: input_scale * beta / (10 / 65535) as a QuantizeMultiplier."""
    real = float(F32(input_scale)) * float(F32(beta)) / (10.0 / 65535.0)
    mult, shift = quantize_multiplier(real)
    return {"outer": outer, "depth": depth, "input_multiplier": mult, "input_left_shift": shift}


def _softmax16(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    if x.zero_point != 0 or y.zero_point != 0:
        ctx.unsupported("int16 zero points other than 0 (TFLM requires 0)")
    if abs(y.scale - 1.0 / 32768) > 0.001 / 32768:
        ctx.unsupported(f"an int16 output with scale {y.scale} (TFLM requires 1/32768)")
    depth = x.shape[-1] if x.shape else 1
    outer = x.size // max(depth, 1)
    values = softmax16_params(x.scale, float(ctx.options.get("beta", 1.0)), outer, depth)
    p = ctx.param_struct("params", "tfle_softmax16_params", values)
    exp_lut, recip_lut = softmax16_tables()
    e = ctx.const_array("exp_lut", exp_lut, align=2)
    r = ctx.const_array("recip_lut", recip_lut, align=2)
    return f"tfle_softmax_s16(&{p}, {e}, {r}, {x.expr}, {y.expr});"


def _softmax_s8_params(ctx: EmitContext) -> dict:
    """tfle_softmax_params of an int8 input (PreprocessSoftmaxScaling, CalculateInputRadius)."""
    x = ctx.inputs[0]
    depth = x.shape[-1] if x.shape else 1
    mult, shift, diff_min = softmax_params(x.scale, float(ctx.options.get("beta", 1.0)))
    return {
        "outer": x.size // max(depth, 1),
        "depth": depth,
        "input_multiplier": mult,
        "input_left_shift": shift,
        "diff_min": diff_min,
    }


def _softmax_s8_s16(ctx: EmitContext) -> str:
    """int8 -> int16: TFLM's Prepare requires output zero point -32768 and a scale within
    0.001 / 65536 of 1 / 65536 (TF_LITE_ENSURE_NEAR, in float)."""
    x, y = ctx.inputs[0], ctx.outputs[0]
    if x.quant is None or y.quant is None:
        ctx.unsupported("int8 input with an int16 output: unquantized tensors")
    if y.zero_point != -32768 or abs(F32(y.scale) - F32(1.0 / 65536)) > F32(0.001 / 65536):
        ctx.unsupported(
            f"int8 input with an int16 output of scale {y.scale} and zero point "
            f"{y.zero_point} (TFLM requires 1/65536 and -32768)"
        )
    p = ctx.param_struct("params", "tfle_softmax_params", _softmax_s8_params(ctx))
    ctx.require_header(S8_S16_HEADER)
    return f"tfle_softmax_s8_s16(&{p}, {x.expr}, {y.expr});"


@register_op("SOFTMAX", dtypes=("int8", "int16"))
def _softmax(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    if x is not None and y is not None and (x.dtype, y.dtype) == (np.int8, np.int16):
        return _softmax_s8_s16(ctx)
    if require_quantized(ctx, x, y, dtypes=("int8", "int16")) == np.int16:
        return _softmax16(ctx)
    require_int8(ctx, x, y)
    # TFLM's Prepare: output->params.scale == 1.f / 256, exactly (no tolerance on int8)
    if y.zero_point != -128 or F32(y.scale) != F32(1.0 / 256):
        ctx.unsupported(
            f"an int8 output with scale {y.scale} and zero point {y.zero_point} "
            "(TFLM requires 1/256 and -128)"
        )
    params = ctx.param_struct("params", "tfle_softmax_params", _softmax_s8_params(ctx))
    return f"tfle_softmax_s8(&{params}, {x.expr}, {y.expr});"
