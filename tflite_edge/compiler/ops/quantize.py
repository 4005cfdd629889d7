"""QUANTIZE (float32 -> int8/int16, int8 -> int8/int16/int32, int16 -> int8/int16/int32,
int32 -> int8/int16) and DEQUANTIZE (int8/int16 -> float32), as TFLM's quantize.cc and
dequantize.cc."""

from __future__ import annotations

import numpy as np

from ...model import Tensor
from ...model.quant import quantize_multiplier, quantize_value, tensor_scale, tensor_zero_point
from ..operands import require_quantized, require_quantized_int8
from ..params import EXTRA_HEADER, S16_HEADER, declare_struct, ints
from ..registry import EmitContext, register_op

declare_struct(
    "tfle_affine_params", [*ints("size zero_point"), ("scale", "f", 1)], header=EXTRA_HEADER
)


def requant_params(inp: Tensor, out: Tensor, *, relu: bool = False) -> dict:
    """tfle_requant_params: QUANTIZE int8->int8 (Requantize) or RELU (CalculateReluOpData)."""
    m, s = quantize_multiplier(float(tensor_scale(inp)) / float(tensor_scale(out)))
    out_zp = tensor_zero_point(out)
    lo = max(-128, quantize_value(0.0, tensor_scale(out), out_zp)) if relu else -128
    return {
        "size": inp.size,
        "input_zp": tensor_zero_point(inp),
        "output_zp": out_zp,
        "multiplier": m,
        "shift": s,
        "act_min": lo,
        "act_max": 127,
    }


def requant_between(inp: Tensor, out: Tensor) -> dict:
    """tfle_requant_params of QUANTIZE between int8/int16 tensors (TFLM's Requantize: the
    multiplier of the double ratio of the float32 scales, clamped to the output type)."""
    info = np.iinfo(np.dtype(out.dtype))
    m, s = quantize_multiplier(float(tensor_scale(inp)) / float(tensor_scale(out)))
    return {
        "size": inp.size,
        "input_zp": tensor_zero_point(inp),
        "output_zp": tensor_zero_point(out),
        "multiplier": m,
        "shift": s,
        "act_min": int(info.min),
        "act_max": int(info.max),
    }


def affine_params(t: Tensor, size: int) -> dict:
    """tfle_affine_params: the int8 side's scale (float32) and zero point."""
    return {"size": size, "zero_point": tensor_zero_point(t), "scale": float(tensor_scale(t))}


_SUFFIX = {"int8": "s8", "int16": "s16", "int32": "s32"}
S32_HEADER = "tfle_quantize_s32.h"  # tfle_requant_{s8,s16}_s32, tfle_requant_s32_{s8,s16}


def requant_to_s32(inp: Tensor, out: Tensor) -> dict:
    """tfle_requant_params of QUANTIZE int8/int16 -> int32 (TFLM's Prepare: QuantizeMultiplier
    of the double ratio of the float32 scales; the int32 clamp is the identity)."""
    return {**requant_between(inp, out), "act_min": -(2**31), "act_max": 2**31 - 1}


def _quantize_s32(ctx: EmitContext) -> str:
    """int8 -> int32 and int16 -> int32 (TFLM has no float32 -> int32 QUANTIZE)."""
    x, y = ctx.inputs[0], ctx.outputs[0]
    if x.dtype not in (np.int8, np.int16):
        ctx.unsupported(f"QUANTIZE {x.dtype} -> int32 (TFLM requantizes only int8/int16 to int32)")
    require_quantized(ctx, x, dtypes=("int8", "int16"))
    require_quantized(ctx, y, dtypes=("int32",))
    if len(np.atleast_1d(y.quant.scale)) != 1:
        ctx.unsupported("a per-channel int32 output (TFLM requires one scale)")
    p = ctx.param_struct("requant", "tfle_requant_params", requant_to_s32(x.tensor, y.tensor))
    ctx.require_header(S32_HEADER)
    return f"tfle_requant_{_SUFFIX[x.dtype.name]}_s32(&{p}, {x.expr}, {y.expr});"


def _quantize_s16(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    require_quantized(ctx, y, dtypes=("int8", "int16"))
    ctx.require_header(S16_HEADER)
    if x.dtype == np.float32:  # here y is int16
        p = ctx.param_struct("quant", "tfle_affine_params", affine_params(y.tensor, y.size))
        return f"tfle_quantize_f32_s16(&{p}, {x.expr}, {y.expr});"
    require_quantized(ctx, x, dtypes=("int8", "int16"))
    p = ctx.param_struct("requant", "tfle_requant_params", requant_between(x.tensor, y.tensor))
    fn = f"tfle_requant_{_SUFFIX[x.dtype.name]}_{_SUFFIX[y.dtype.name]}"
    return f"{fn}(&{p}, {x.expr}, {y.expr});"


def _quantize_from_s32(ctx: EmitContext) -> str:
    """int32 -> int8 and int32 -> int16 (TFLM's Requantize, clamped to the output type)."""
    x, y = ctx.inputs[0], ctx.outputs[0]
    require_quantized(ctx, x, dtypes=("int32",))
    require_quantized(ctx, y, dtypes=("int8", "int16"))
    p = ctx.param_struct("requant", "tfle_requant_params", requant_between(x.tensor, y.tensor))
    ctx.require_header(S32_HEADER)
    return f"tfle_requant_s32_{_SUFFIX[y.dtype.name]}(&{p}, {x.expr}, {y.expr});"


@register_op("QUANTIZE", dtypes=("int8", "int16", "int32", "float32"))
def _emit_quantize(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    if y.dtype == np.int32:
        return _quantize_s32(ctx)
    if x.dtype == np.int32:
        return _quantize_from_s32(ctx)
    if np.int16 in (x.dtype, y.dtype):
        return _quantize_s16(ctx)
    require_quantized_int8(ctx, y)
    if x.dtype == np.float32:
        p = ctx.param_struct("quant", "tfle_affine_params", affine_params(y.tensor, y.size))
        return f"tfle_quantize_f32_s8(&{p}, {x.expr}, {y.expr});"
    require_quantized_int8(ctx, x)
    p = ctx.param_struct("requant", "tfle_requant_params", requant_params(x.tensor, y.tensor))
    return f"tfle_requant_s8(&{p}, {x.expr}, {y.expr});"


@register_op("DEQUANTIZE", dtypes=("int8", "int16"))
def _emit_dequantize(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    dtype = require_quantized(ctx, x, dtypes=("int8", "int16"))
    if y.dtype != np.float32:
        ctx.unsupported(f"DEQUANTIZE to {y.dtype} (only int8/int16 -> float32)")
    p = ctx.param_struct("dequant", "tfle_affine_params", affine_params(x.tensor, x.size))
    if dtype == np.int16:
        ctx.require_header(S16_HEADER)
        return f"tfle_dequantize_s16_f32(&{p}, {x.expr}, {y.expr});"
    return f"tfle_dequantize_s8_f32(&{p}, {x.expr}, {y.expr});"
