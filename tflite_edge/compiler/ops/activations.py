"""RELU, RELU6, LEAKY_RELU, HARD_SWISH, LOGISTIC and TANH, int8, and all but HARD_SWISH
(which TFLM runs in int8 only) in int16 (TFLM's Prepare math)."""

from __future__ import annotations

import functools
import math

import numpy as np

from ...model import Tensor
from ...model.quant import (
    calculate_input_radius,
    downscale_int16_multiplier,
    quantize_multiplier,
    quantize_value,
    tensor_scale,
    tensor_zero_point,
    tflite_round,
)
from ..operands import guard, require_quantized, require_quantized_int8
from ..params import EXTRA_HEADER, declare_struct, ints
from ..registry import EmitContext, register_op
from .quantize import requant_params

declare_struct(
    "tfle_leaky_relu_params",
    ints("size input_zp output_zp multiplier_identity shift_identity multiplier_alpha "
         "shift_alpha"),
    header=EXTRA_HEADER,
)  # fmt: skip
declare_struct(
    "tfle_hard_swish_params",
    ints(
        "size input_zp output_zp output_multiplier_fixedpoint_int16 output_multiplier_exponent "
        "reluish_multiplier_fixedpoint_int16 reluish_multiplier_exponent"
    ),
    header=EXTRA_HEADER,
)
declare_struct(
    "tfle_sigmoid16_params", ints("size input_multiplier input_left_shift"), header=EXTRA_HEADER
)
declare_struct(
    "tfle_sigmoid_params",
    ints("size input_zp input_range_radius input_multiplier input_left_shift"),
    header=EXTRA_HEADER,
)


def relu6_bounds(inp: Tensor) -> tuple[int, int]:
    """Relu6Prepare: zero and FloatToQuantizedType(6.0) in the input's quantization."""
    zp = tensor_zero_point(inp)
    six = quantize_value(6.0, tensor_scale(inp), zp)
    return zp, max(-128, min(127, six))


def leaky_relu_params(inp: Tensor, out: Tensor, alpha: float) -> dict:
    """LeakyReluPrepare (int8 and int16): both multipliers from the float32 scales and alpha
    multiplied and divided in double. (The pinned TFLM source writes float32 products, but
    the TFLM interpreter the tests compare with rounds as double arithmetic does: on inputs
    that land on a rounding tie only the double multipliers agree with it.)"""
    si, so, a = float(tensor_scale(inp)), float(tensor_scale(out)), float(np.float32(alpha))
    m_alpha, s_alpha = quantize_multiplier(si * a / so)
    m_id, s_id = quantize_multiplier(si / so)
    return {
        "size": inp.size,
        "input_zp": tensor_zero_point(inp),
        "output_zp": tensor_zero_point(out),
        "multiplier_identity": m_id,
        "shift_identity": s_id,
        "multiplier_alpha": m_alpha,
        "shift_alpha": s_alpha,
    }


def hard_swish_params(inp: Tensor, out: Tensor) -> dict:
    """HardSwishPrepare: float32 scales, int16 fixed-point multipliers."""
    hires = np.float32(np.float32(1.0 / 128.0) * tensor_scale(inp))
    reluish_scale = np.float32(3.0) / np.float32(32768.0)
    om, oe = quantize_multiplier(float(np.float32(hires / tensor_scale(out))))
    rm, re_ = quantize_multiplier(float(np.float32(hires / reluish_scale)))
    if oe > 0:
        raise ValueError(
            f"HARD_SWISH output multiplier exponent {oe} > 0: TFLM rejects this quantization"
        )
    return {
        "size": inp.size,
        "input_zp": tensor_zero_point(inp),
        "output_zp": tensor_zero_point(out),
        "output_multiplier_fixedpoint_int16": downscale_int16_multiplier(om),
        "output_multiplier_exponent": oe,
        "reluish_multiplier_fixedpoint_int16": downscale_int16_multiplier(rm),
        "reluish_multiplier_exponent": re_,
    }


def sigmoid_params(inp: Tensor) -> dict:
    """LOGISTIC / TANH int8 Prepare: Q4.27 input multiplier and the saturation radius."""
    input_integer_bits = 4
    real = float(tensor_scale(inp)) * float(1 << (31 - input_integer_bits))
    q, left_shift = math.frexp(real)
    mult = tflite_round(q * (1 << 31))
    if mult == 1 << 31:  # TFLM's static_cast<int32_t> wraps this (x86 behaviour)
        mult = -(1 << 31)
    return {
        "size": inp.size,
        "input_zp": tensor_zero_point(inp),
        "input_range_radius": calculate_input_radius(input_integer_bits, left_shift, 31),
        "input_multiplier": mult,
        "input_left_shift": left_shift,
    }


def relu16_params(inp: Tensor, out: Tensor) -> dict:
    """tfle_requant_params of an int16 RELU (CalculateReluOpData<int16_t>): the multiplier of
    the scales' quotient in double (as for int8: the interpreter agrees with it, not with a
    float32 quotient, on rounding ties), act_min = max(-32768, output zero point)."""
    m, s = quantize_multiplier(float(tensor_scale(inp)) / float(tensor_scale(out)))
    out_zp = tensor_zero_point(out)
    return {
        "size": inp.size,
        "input_zp": tensor_zero_point(inp),
        "output_zp": out_zp,
        "multiplier": m,
        "shift": s,
        "act_min": max(-32768, out_zp),
        "act_max": 32767,
    }


def checked_log2(x: float) -> tuple[bool, int]:
    """TFLM's CheckedLog2 in float32: (x is a power of two within 1e-3 in log2, round(log2 x))."""
    f32 = np.float32
    x_log2 = f32(np.log(f32(x))) * (f32(1.0) / f32(np.log(f32(2.0))))
    rounded = tflite_round(float(x_log2))
    return bool(abs(float(x_log2 - f32(rounded))) < float(f32(1e-3))), rounded


def sigmoid16_params(inp: Tensor, out: Tensor, kind: str) -> dict:
    """tfle_sigmoid16_params as TFLM's int16 LOGISTIC / TANH Prepare computes them (3 integer
    bits): a power-of-two input scale 2^-12 (LOGISTIC; 2^-12 or 2^-11 for TANH) becomes the
    multiplier 3 << shift that the kernel would substitute; any other scale is multiplied by
    3 * 4096 and doubled into [16383.5, 32767] with a left shift, then truncated."""
    if tensor_zero_point(inp) != 0 or tensor_zero_point(out) != 0:
        raise ValueError("int16 zero points other than 0 (TFLM requires 0)")
    pot, log2_in = checked_log2(float(tensor_scale(inp)))
    left_shift = (15 - 3) + log2_in
    pot = pot and (left_shift == 0 if kind == "logistic" else left_shift in (0, 1))
    if pot:
        mult, left_shift = 3 << left_shift, 0
    else:
        multiplier = float(tensor_scale(inp)) * 4096.0 * 3.0
        left_shift = 0
        while multiplier <= 32767.0 / 2.0 and left_shift <= 30:
            left_shift += 1
            multiplier *= 2.0
        mult = int(multiplier)
        if mult > 32767:
            raise ValueError(f"an input scale {float(tensor_scale(inp))} too large (above 8/3)")
    out_pot, log2_out = checked_log2(float(tensor_scale(out)))
    if not out_pot or log2_out != -15:
        raise ValueError(
            f"an output scale {float(tensor_scale(out))} other than 2^-15 (TFLM requires it)"
        )
    return {"size": inp.size, "input_multiplier": mult, "input_left_shift": left_shift}


@functools.cache
def sigmoid16_table() -> np.ndarray:
    """The 256-entry table of TFLM's int16 LOGISTIC and TANH (sigmoid_table_uint16, a
    constant of TFLM's source): 65536 * sigmoid(i / 24) raised by half its linear-interpolation
    error at the midpoint of [i, i + 1] and rounded, which gives TFLM's value of entries
    0-254; the last is 65535 there (the formula gives 65534)."""
    i = np.arange(256, dtype=np.float64)

    def f(v):
        return 65536.0 / (1.0 + np.exp(-v / 24.0))

    midpoint_error = f(i + 0.5) - (f(i) + f(i + 1.0)) / 2.0
    v = f(i) + 0.5 * midpoint_error
    table = np.floor(v + 0.5)  # all positive: round half away from zero
    table[255] = 65535
    return table.astype(np.uint16)


def _int16_unary(ctx: EmitContext) -> bool:
    """Whether the op's operands are int16 (both checked quantized, of one type)."""
    x, y = ctx.inputs[0], ctx.outputs[0]
    return require_quantized(ctx, x, y, dtypes=("int8", "int16")) == np.int16


def _emit_relu16(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    if x.zero_point != 0 or y.zero_point != 0:
        ctx.unsupported("int16 zero points other than 0 (TFLM requires 0)")
    p = ctx.param_struct("relu", "tfle_requant_params", relu16_params(x.tensor, y.tensor))
    return f"tfle_relu_s16(&{p}, {x.expr}, {y.expr});"


def _emit_relu6_16(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    zp = x.zero_point
    six = max(-32768, min(32767, quantize_value(6.0, float(tensor_scale(x.tensor)), zp)))
    ctx.require_header(EXTRA_HEADER)
    return f"tfle_clamp_s16({x.size}, {zp}, {six}, {x.expr}, {y.expr});"


@register_op("RELU", dtypes=("int8", "int16"))
def _emit_relu(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    if _int16_unary(ctx):
        return _emit_relu16(ctx)
    p = ctx.param_struct(
        "relu", "tfle_requant_params", requant_params(x.tensor, y.tensor, relu=True)
    )
    return f"tfle_requant_s8(&{p}, {x.expr}, {y.expr});"


@register_op("RELU6", dtypes=("int8", "int16"))
def _emit_relu6(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    if _int16_unary(ctx):
        return _emit_relu6_16(ctx)
    lo, hi = relu6_bounds(x.tensor)
    ctx.require_header(EXTRA_HEADER)  # no parameter struct here to pull the header in
    return f"tfle_clamp_s8({x.size}, {lo}, {hi}, {x.expr}, {y.expr});"


@register_op("LEAKY_RELU", dtypes=("int8", "int16"))
def _emit_leaky_relu(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    suffix = "s16" if _int16_unary(ctx) else "s8"
    alpha = float(ctx.options.get("alpha", 0.2))
    p = ctx.param_struct(
        "leaky", "tfle_leaky_relu_params", leaky_relu_params(x.tensor, y.tensor, alpha)
    )
    return f"tfle_leaky_relu_{suffix}(&{p}, {x.expr}, {y.expr});"


@register_op("HARD_SWISH")
def _emit_hard_swish(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    if x is not None and x.dtype == np.int16:
        ctx.unsupported("int16 HARD_SWISH (TFLM's HARD_SWISH kernel is float32 and int8 only)")
    require_quantized_int8(ctx, x, y)
    values = guard(ctx, hard_swish_params, x.tensor, y.tensor)
    p = ctx.param_struct("hswish", "tfle_hard_swish_params", values)
    return f"tfle_hard_swish_s8(&{p}, {x.expr}, {y.expr});"


def _sigmoid(ctx: EmitContext, kind: str, out_scale: float, out_zp: int) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    if _int16_unary(ctx):
        values = guard(ctx, sigmoid16_params, x.tensor, y.tensor, kind)
        p = ctx.param_struct(kind, "tfle_sigmoid16_params", values)
        table = ctx.const_array("sigmoid_lut", sigmoid16_table(), align=2)
        return f"tfle_{kind}_s16(&{p}, {table}, {x.expr}, {y.expr});"
    if y.zero_point != out_zp or np.float32(y.scale) != np.float32(out_scale):
        ctx.unsupported(
            f"{kind} output quantized with scale {y.scale} zero point {y.zero_point} "
            f"(TFLM requires {out_scale} and {out_zp})"
        )
    p = ctx.param_struct(kind, "tfle_sigmoid_params", sigmoid_params(x.tensor))
    return f"tfle_{kind}_s8(&{p}, {x.expr}, {y.expr});"


@register_op("LOGISTIC", dtypes=("int8", "int16"))
def _emit_logistic(ctx: EmitContext) -> str:
    return _sigmoid(ctx, "logistic", 1.0 / 256.0, -128)


@register_op("TANH", dtypes=("int8", "int16"))
def _emit_tanh(ctx: EmitContext) -> str:
    return _sigmoid(ctx, "tanh", 1.0 / 128.0, 0)
