"""AVERAGE_POOL_2D and MAX_POOL_2D, int8 or int16 (input and output share quantization)."""

from __future__ import annotations

import numpy as np

from ..operands import activation_range, conv_padding, require_quantized
from ..params import CORE_HEADER, S16_HEADER, declare_struct, ints
from ..registry import EmitContext, register_op

declare_struct(
    "tfle_pool_params",
    ints("batches in_h in_w channels out_h out_w f_h f_w stride_h stride_w pad_h pad_w "
         "act_min act_max"),
    header=CORE_HEADER,
)  # fmt: skip


def _pool(ctx: EmitContext, kind: str) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    dtype = require_quantized(ctx, x, y, dtypes=("int8", "int16"))
    if len(x.shape) != 4 or len(y.shape) != 4:
        ctx.unsupported(f"input/output ranks {len(x.shape)}/{len(y.shape)}")
    # TFLM's Prepare allows scales 1e-6 apart; the kernels do not rescale, so we ask equality
    if x.scale != y.scale or x.zero_point != y.zero_point:
        ctx.unsupported("different input and output quantization")
    n, ih, iw, c = x.shape
    _, oh, ow, _ = y.shape
    o = ctx.options
    fh, fw = o.get("filterHeight", 1), o.get("filterWidth", 1)
    sh, sw = o.get("strideH", 1), o.get("strideW", 1)
    ph = conv_padding(o.get("padding", "VALID"), ih, fh, sh, 1, oh)
    pw = conv_padding(o.get("padding", "VALID"), iw, fw, sw, 1, ow)
    amin, amax = activation_range(o.get("fusedActivationFunction"), y)
    params = ctx.param_struct(
        "params",
        "tfle_pool_params",
        {
            "batches": n, "in_h": ih, "in_w": iw, "channels": c, "out_h": oh, "out_w": ow,
            "f_h": fh, "f_w": fw, "stride_h": sh, "stride_w": sw, "pad_h": ph, "pad_w": pw,
            "act_min": amin, "act_max": amax,
        },
    )  # fmt: skip
    if dtype == np.int16:
        ctx.require_header(S16_HEADER)
        return f"tfle_{kind}_pool_s16(&{params}, {x.expr}, {y.expr});"
    return f"tfle_{kind}_pool_s8(&{params}, {x.expr}, {y.expr});"


@register_op("AVERAGE_POOL_2D", dtypes=("int8", "int16"))
def _average_pool(ctx: EmitContext) -> str:
    return _pool(ctx, "average")


@register_op("MAX_POOL_2D", dtypes=("int8", "int16"))
def _max_pool(ctx: EmitContext) -> str:
    return _pool(ctx, "max")
