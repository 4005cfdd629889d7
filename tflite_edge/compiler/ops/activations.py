"""RELU, RELU6, LEAKY_RELU, HARD_SWISH, LOGISTIC and TANH, int8 (TFLM's Prepare math)."""

from __future__ import annotations

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
from ..operands import guard, require_quantized_int8
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
    """LeakyReluPrepare: both multipliers from float32 products, as TFLM computes them."""
    si, so, a = tensor_scale(inp), tensor_scale(out), np.float32(alpha)
    m_alpha, s_alpha = quantize_multiplier(float(si * a / so))
    m_id, s_id = quantize_multiplier(float(si / so))
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


@register_op("RELU")
def _emit_relu(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    require_quantized_int8(ctx, x, y)
    p = ctx.param_struct(
        "relu", "tfle_requant_params", requant_params(x.tensor, y.tensor, relu=True)
    )
    return f"tfle_requant_s8(&{p}, {x.expr}, {y.expr});"


@register_op("RELU6")
def _emit_relu6(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    require_quantized_int8(ctx, x, y)
    lo, hi = relu6_bounds(x.tensor)
    ctx.require_header(EXTRA_HEADER)  # no parameter struct here to pull the header in
    return f"tfle_clamp_s8({x.size}, {lo}, {hi}, {x.expr}, {y.expr});"


@register_op("LEAKY_RELU")
def _emit_leaky_relu(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    require_quantized_int8(ctx, x, y)
    alpha = float(ctx.options.get("alpha", 0.2))
    p = ctx.param_struct(
        "leaky", "tfle_leaky_relu_params", leaky_relu_params(x.tensor, y.tensor, alpha)
    )
    return f"tfle_leaky_relu_s8(&{p}, {x.expr}, {y.expr});"


@register_op("HARD_SWISH")
def _emit_hard_swish(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    require_quantized_int8(ctx, x, y)
    values = guard(ctx, hard_swish_params, x.tensor, y.tensor)
    p = ctx.param_struct("hswish", "tfle_hard_swish_params", values)
    return f"tfle_hard_swish_s8(&{p}, {x.expr}, {y.expr});"


def _sigmoid(ctx: EmitContext, kind: str, out_scale: float, out_zp: int) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    require_quantized_int8(ctx, x, y)
    if y.zero_point != out_zp or np.float32(y.scale) != np.float32(out_scale):
        ctx.unsupported(
            f"{kind} output quantized with scale {y.scale} zero point {y.zero_point} "
            f"(TFLM requires {out_scale} and {out_zp})"
        )
    p = ctx.param_struct(kind, "tfle_sigmoid_params", sigmoid_params(x.tensor))
    return f"tfle_{kind}_s8(&{p}, {x.expr}, {y.expr});"


@register_op("LOGISTIC")
def _emit_logistic(ctx: EmitContext) -> str:
    return _sigmoid(ctx, "logistic", 1.0 / 256.0, -128)


@register_op("TANH")
def _emit_tanh(ctx: EmitContext) -> str:
    return _sigmoid(ctx, "tanh", 1.0 / 128.0, 0)
