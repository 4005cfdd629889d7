"""DEPTHWISE_CONV_2D: depth multiplier 1 by blocks of 4 channels, one input channel as a
CONV_2D, sparse, or the general kernel (int8); int16 activations with int8 weights (16x8)
take tfle_depthwise_conv2d_s16."""

from __future__ import annotations

import numpy as np

from ..operands import (
    channel_multipliers,
    conv_geometry,
    conv_operands,
    conv_params,
    window_clipped,
)
from ..packing import (
    bias_s64,
    fits_gather,
    folded_bias,
    maybe_sparse,
    pack_depthwise,
    pack_pairs,
    raw_bias,
)
from ..params import S16_HEADER
from ..registry import EmitContext, register_op
from .conv import s16_operands


def _depthwise_s16(ctx: EmitContext) -> str:
    x, w, b, y = s16_operands(ctx)
    ic = x.shape[3]
    _, kh, kw, oc = w.shape
    if w.shape[0] != 1 or y.shape[3] != oc or ic == 0 or oc % ic != 0:
        ctx.unsupported(f"filter {w.shape} for input {x.shape} and output {y.shape}")
    g = conv_geometry(ctx, x, kh, kw, y)
    mult, shift, per_channel = channel_multipliers(ctx, x, w, y, oc)
    bias = bias_s64(ctx, b, oc)
    values = conv_params(x, y, kh, kw, 1, g, per_channel, oc // ic)
    params = ctx.param_struct("params", "tfle_conv_params", values)
    ctx.require_header(S16_HEADER)
    return (
        f"tfle_depthwise_conv2d_s16(&{params}, {x.expr}, {w.expr}, {bias}, {mult}, {shift}, "
        f"{y.expr});"
    )


@register_op("DEPTHWISE_CONV_2D", dtypes=("int8", "int16"))
def _depthwise(ctx: EmitContext) -> str:
    if ctx.inputs[0] is not None and ctx.inputs[0].dtype == np.int16:
        return _depthwise_s16(ctx)
    x, w, b, y = conv_operands(ctx)
    n, ih, iw, ic = x.shape
    _, kh, kw, oc = w.shape
    _, oh, ow, yc = y.shape
    mult_d = ctx.options.get("depthMultiplier", 1) or 1
    if ic * mult_d != oc:
        # TFLM derives the multiplier from the shapes; the option can be stale
        if ic and oc % ic == 0:
            mult_d = oc // ic
        else:
            ctx.unsupported(f"filter {w.shape} for input {x.shape}")
    if yc != oc:
        ctx.unsupported(f"filter {w.shape} for output {y.shape}")
    g = conv_geometry(ctx, x, kh, kw, y)
    mult, shift, per_channel = channel_multipliers(ctx, x, w, y, oc)
    # rows = output channels over the (ky, kx) positions
    rows = np.asarray(w.data).reshape(kh * kw, oc).T
    bias = folded_bias(ctx, b, x, rows)
    sparse = maybe_sparse(ctx, rows)
    params = ctx.param_struct(
        "params", "tfle_conv_params", conv_params(x, y, kh, kw, 1, g, per_channel, mult_d)
    )
    if sparse:
        return (
            f"tfle_depthwise_conv2d_sparse_s8(&{params}, {x.expr}, &{sparse}, {bias}, "
            f"{mult}, {shift}, {y.expr});"
        )
    if ic == 1 and fits_gather(kh * kw):
        # one input channel: a CONV_2D whose filter rows are the depthwise filter's channels
        packed = ctx.const_array("filter", pack_pairs(rows), align=4)
        return (
            f"tfle_conv2d_packed_s8(&{params}, {x.expr}, {packed}, {bias}, {mult}, {shift}, "
            f"{y.expr});"
        )
    dw = g["dw"]
    clipped = window_clipped(ih, kh, g["sh"], g["dh"], g["ph"], oh) or window_clipped(
        iw, kw, g["sw"], dw, g["pw"], ow
    )
    raw = raw_bias(ctx, b, oc) if clipped and (ic == 1 and dw == 1 or mult_d == 1) else bias
    if ic == 1 and dw == 1:
        # one input channel: a CONV_2D whose filter is the depthwise one transposed to OHWI
        # (the conv kernel reads the same parameters and ignores the depth multiplier)
        filt = ctx.const_array("filter", np.transpose(np.asarray(w.data), (3, 1, 2, 0)))
        return (
            f"tfle_conv2d_rows_s8(&{params}, {x.expr}, {filt}, {bias}, {raw}, {mult}, "
            f"{shift}, {y.expr});"
        )
    if mult_d == 1:
        packed = ctx.const_array("filter", pack_depthwise(np.asarray(w.data)), align=4)
        return (
            f"tfle_depthwise_conv2d_dm1_s8(&{params}, {x.expr}, {packed}, {bias}, {raw}, "
            f"{mult}, {shift}, {y.expr});"
        )
    return (
        f"tfle_depthwise_conv2d_s8(&{params}, {x.expr}, {w.expr}, {bias}, {mult}, {shift}, "
        f"{y.expr});"
    )
