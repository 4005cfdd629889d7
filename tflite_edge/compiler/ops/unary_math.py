"""Elementwise quantized math, as TFLM's kernels compute it: ABS (int8, int16 with zero
points 0), RSQRT (int8; TFLM's Prepare refuses int16) and ELU (int8, a 256-entry table that
TFLM's Prepare fills in float32 and we fill at compile time the same way).

Not here, because TFLM has no quantized kernel for them: EXP, NEG, SQUARE, SQRT, LOG, SIN,
COS (float only in TFLM); they are refused as ops AOT does not know."""

from __future__ import annotations

import math

import numpy as np

from ...model import quant
from ..operands import require_quantized
from ..params import declare_struct, ints
from ..registry import EmitContext, register_op

HEADER = "tfle_unary_math.h"

declare_struct(
    "tfle_unary_math_params",
    ints("size input_zp output_zp needs_rescale multiplier shift qmin qmax"),
    header=HEADER,
)


def _operands(ctx: EmitContext, dtypes: tuple[str, ...]):
    x, y = ctx.inputs[0], ctx.outputs[0]
    dtype = require_quantized(ctx, x, y, dtypes=dtypes)
    for v in (x, y):
        if np.asarray(v.quant.scale).size > 1:
            ctx.unsupported(f"per-channel quantization of {v.name!r}")
    if x.size != y.size:
        ctx.unsupported(f"an output {tuple(y.shape)} for an input {tuple(x.shape)}")
    return x, y, dtype


def abs_params(size, x_scale, x_zp, y_scale, y_zp, dtype) -> dict:
    """TFLM's PrepareAbsRsqrt for ABS: rescale only when the float32 scales differ, by
    QuantizeMultiplier(double(float32 input_scale / output_scale))."""
    xs, ys = np.float32(x_scale), np.float32(y_scale)
    needs = bool(xs != ys)
    m, s = quant.quantize_multiplier(float(xs) / float(ys)) if needs else (0, 0)
    info = np.iinfo(dtype)
    return {
        "size": int(size), "input_zp": int(x_zp), "output_zp": int(y_zp),
        "needs_rescale": int(needs), "multiplier": m, "shift": s,
        "qmin": int(info.min), "qmax": int(info.max),
    }  # fmt: skip


def rsqrt_params(size, x_scale, x_zp, y_scale, y_zp) -> dict:
    """TFLM's SetRsqrtOutputMultiplier: 1 / double(sqrtf(input_scale) * output_scale)."""
    xs, ys = np.float32(x_scale), np.float32(y_scale)
    m, s = quant.quantize_multiplier(1.0 / float(np.float32(np.sqrt(xs) * ys)))
    return {
        "size": int(size), "input_zp": int(x_zp), "output_zp": int(y_zp),
        "needs_rescale": 1, "multiplier": m, "shift": s, "qmin": -128, "qmax": 127,
    }  # fmt: skip


def _expf(v: np.float32) -> np.float32:
    """expf, correctly rounded (exp in double, then to float32)."""
    return np.float32(math.exp(float(v)))


def elu_table(x_scale, x_zp, y_scale, y_zp) -> np.ndarray:
    """TFLM elu.cc's PopulateLookupTable<int8_t>, entry i for the input (int8)(uint8)i: every
    step in float32 as there (dequantize, exp(x) - 1 below zero, times 1 / output_scale,
    TfLiteRound, + zero point, clamp)."""
    xs, ys = np.float32(x_scale), np.float32(y_scale)
    inverse = np.float32(1.0) / ys
    table = np.zeros(256, np.int8)
    for val in range(-128, 128):
        d = np.float32(xs * np.float32(val - int(x_zp)))
        t = np.float32(_expf(d) - np.float32(1.0)) if d < 0 else d
        r = np.float32(quant.tflite_round(float(np.float32(t * inverse))))
        q = int(np.float32(r + np.float32(int(y_zp))))
        table[val & 0xFF] = max(-128, min(127, q))
    return table


@register_op("ABS", dtypes=("int8", "int16"))
def _emit_abs(ctx: EmitContext) -> str:
    x, y, dtype = _operands(ctx, ("int8", "int16"))
    if dtype == np.int16 and (x.zero_point != 0 or y.zero_point != 0):
        ctx.unsupported("int16 zero points other than 0 (TFLM requires 0)")
    values = abs_params(x.size, x.scale, x.zero_point, y.scale, y.zero_point, dtype)
    p = ctx.param_struct("abs", "tfle_unary_math_params", values)
    suffix = "s8" if dtype.itemsize == 1 else "s16"
    return f"tfle_abs_{suffix}(&{p}, {x.expr}, {y.expr});"


@register_op("RSQRT", dtypes=("int8",))
def _emit_rsqrt(ctx: EmitContext) -> str:
    x, y, _ = _operands(ctx, ("int8",))
    values = rsqrt_params(x.size, x.scale, x.zero_point, y.scale, y.zero_point)
    p = ctx.param_struct("rsqrt", "tfle_unary_math_params", values)
    return f"tfle_rsqrt_s8(&{p}, {x.expr}, {y.expr});"


@register_op("ELU", dtypes=("int8",))
def _emit_elu(ctx: EmitContext) -> str:
    x, y, _ = _operands(ctx, ("int8",))
    table = ctx.const_array("elu_lut", elu_table(x.scale, x.zero_point, y.scale, y.zero_point))
    ctx.require_header(HEADER)
    return f"tfle_lut_s8({x.size}, {table}, {x.expr}, {y.expr});"
