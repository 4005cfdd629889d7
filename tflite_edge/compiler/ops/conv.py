"""CONV_2D: packed GEMM, pointwise as fully connected, sparse, row-blocked or general (int8);
int16 activations with int8 weights (16x8) take the general tfle_conv2d_s16."""

from __future__ import annotations

import numpy as np

from ..operands import (
    channel_multipliers,
    conv_geometry,
    conv_operands,
    conv_params,
    require_quantized,
    window_clipped,
)
from ..packing import (
    SPARSE_WINDOW,
    bias_s64,
    fits_gather,
    folded_bias,
    maybe_sparse,
    maybe_sparse_taps,
    pack_pairs,
    raw_bias,
)
from ..params import S16_HEADER
from ..registry import EmitContext, TensorView, register_op


def s16_operands(ctx: EmitContext) -> tuple[TensorView, TensorView, TensorView | None, TensorView]:
    """A 16x8 convolution's int16 input and output (zero point 0, as TFLM's int16 kernels
    ignore zero points), constant int8 filter (zero point 0) and optional bias, all 4-D."""
    x, w, b = (ctx.inputs + [None])[:3]
    y = ctx.outputs[0]
    require_quantized(ctx, x, y, dtypes=("int16",))
    if w is None or w.dtype != np.int8 or w.quant is None:
        ctx.unsupported("int16 activations with weights that are not quantized int8")
    if not w.is_constant:
        ctx.unsupported("a filter that is not a constant")
    if x.zero_point != 0 or y.zero_point != 0:
        ctx.unsupported(
            f"int16 input/output zero points {x.zero_point}/{y.zero_point} (TFLM's int16 "
            "kernels need 0: symmetric 16x8 quantization)"
        )
    if np.any(np.asarray(w.quant.zero_point) != 0):
        ctx.unsupported("int8 weights with a nonzero zero point")
    if len(x.shape) != 4 or len(w.shape) != 4 or len(y.shape) != 4:
        ctx.unsupported(f"input/filter/output ranks {len(x.shape)}/{len(w.shape)}/{len(y.shape)}")
    return x, w, b, y


def _conv2d_s16(ctx: EmitContext) -> str:
    x, w, b, y = s16_operands(ctx)
    ic = x.shape[3]
    oc, kh, kw, fic = w.shape
    if y.shape[3] != oc or ic % fic != 0 or oc % (ic // fic) != 0:
        ctx.unsupported(f"filter {w.shape} for input {x.shape} and output {y.shape}")
    g = conv_geometry(ctx, x, kh, kw, y)
    mult, shift, per_channel = channel_multipliers(ctx, x, w, y, oc)
    bias = bias_s64(ctx, b, oc)
    values = conv_params(x, y, kh, kw, fic, g, per_channel, 1)
    params = ctx.param_struct("params", "tfle_conv_params", values)
    ctx.require_header(S16_HEADER)
    return f"tfle_conv2d_s16(&{params}, {x.expr}, {w.expr}, {bias}, {mult}, {shift}, {y.expr});"


@register_op("CONV_2D", dtypes=("int8", "int16"))
def _conv2d(ctx: EmitContext) -> str:
    if ctx.inputs[0] is not None and ctx.inputs[0].dtype == np.int16:
        return _conv2d_s16(ctx)
    x, w, b, y = conv_operands(ctx)
    n, ih, iw, ic = x.shape
    oc, kh, kw, fic = w.shape
    _, oh, ow, yc = y.shape
    if yc != oc or ic % fic != 0 or oc % (ic // fic) != 0:
        ctx.unsupported(f"filter {w.shape} for input {x.shape} and output {y.shape}")
    g = conv_geometry(ctx, x, kh, kw, y)
    mult, shift, per_channel = channel_multipliers(ctx, x, w, y, oc)
    rows = np.asarray(w.data).reshape(oc, -1)
    bias = folded_bias(ctx, b, x, rows)
    by_taps = fic == ic and rows.shape[1] <= SPARSE_WINDOW
    sparse = maybe_sparse_taps(ctx, rows) if by_taps else maybe_sparse(ctx, rows)
    values = conv_params(x, y, kh, kw, fic, g, per_channel, 1)
    if not sparse and fic == ic and fits_gather(kh * kw * ic):
        # windows gathered two pixels at a time, one GEMM with the packed filter
        packed = ctx.const_array("filter", pack_pairs(rows), align=4)
        params = ctx.param_struct("params", "tfle_conv_params", values)
        return (
            f"tfle_conv2d_packed_s8(&{params}, {x.expr}, {packed}, {bias}, {mult}, {shift}, "
            f"{y.expr});"
        )
    sh, sw = g["sh"], g["sw"]
    if not sparse and kh == kw == 1 and sh == sw == 1 and fic == ic and (oh, ow) == (ih, iw):
        # a pointwise conv is a GEMM of pixels by channels: the fully connected kernel
        fc = ctx.param_struct(
            "params",
            "tfle_fc_params",
            {
                "batches": n * oh * ow, "in_depth": ic, "out_depth": oc,
                "input_offset": -x.zero_point, "filter_offset": 0,
                "output_offset": y.zero_point, "act_min": g["amin"], "act_max": g["amax"],
                "per_channel": per_channel,
            },
        )  # fmt: skip
        return (
            f"tfle_fully_connected_s8(&{fc}, {x.expr}, {w.expr}, {bias}, {mult}, {shift}, "
            f"{y.expr});"
        )
    params = ctx.param_struct("params", "tfle_conv_params", values)
    if sparse and by_taps:
        return (
            f"tfle_conv2d_sparse_taps_s8(&{params}, {x.expr}, &{sparse}, {bias}, {mult}, "
            f"{shift}, {y.expr});"
        )
    if sparse:
        return f"tfle_conv2d_sparse_s8(&{params}, {x.expr}, &{sparse}, {bias}, {mult}, {shift}, {y.expr});"
    if fic == ic and g["dw"] == 1:
        # every filter row (kx, ic) is contiguous in the input: the blocked kernel
        clipped = window_clipped(ih, kh, sh, g["dh"], g["ph"], oh) or window_clipped(
            iw, kw, sw, 1, g["pw"], ow
        )
        raw = raw_bias(ctx, b, oc) if clipped else bias
        return (
            f"tfle_conv2d_rows_s8(&{params}, {x.expr}, {w.expr}, {bias}, {raw}, {mult}, "
            f"{shift}, {y.expr});"
        )
    return f"tfle_conv2d_s8(&{params}, {x.expr}, {w.expr}, {bias}, {mult}, {shift}, {y.expr});"
