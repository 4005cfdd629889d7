"""DIV, int8 (TFLM's only quantized DIV), with broadcasting up to 5-D and a fused
activation, as TFLM's reference DivElementwise / BroadcastDivSlowQuantized."""

from __future__ import annotations

import numpy as np

from ...model import quant
from ..operands import activation_range, fused_activation, require_quantized
from ..params import declare_struct, ints
from ..registry import EmitContext, register_op
from .elementwise import broadcast_struct

declare_struct(
    "tfle_div_params",
    ints("input1_offset input2_offset output_offset multiplier shift act_min act_max"),
    header="tfle_div.h",
)


def div_params(s1, z1, s2, z2, so, zo, act_min: int, act_max: int) -> dict:
    """TFLM's CalculateOpDataDiv: QuantizeMultiplier(s1 / (s2 * s_out)), the scales' product
    and quotient in double (as the host TFLM computes them)."""
    a, b, c = (float(np.float32(s)) for s in (s1, s2, so))
    m, s = quant.quantize_multiplier(a / (b * c))
    return {
        "input1_offset": -int(z1), "input2_offset": -int(z2), "output_offset": int(zo),
        "multiplier": m, "shift": s, "act_min": int(act_min), "act_max": int(act_max),
    }  # fmt: skip


@register_op("DIV", dtypes=("int8",))
def _emit_div(ctx: EmitContext) -> str:
    a, b = (ctx.inputs + [None] * 2)[:2]
    y = ctx.outputs[0]
    require_quantized(ctx, a, b, y, dtypes=("int8",))
    for v in (a, b, y):
        if np.asarray(v.quant.scale).size > 1:
            ctx.unsupported(f"per-channel quantization of {v.name!r}")
    bp = broadcast_struct(ctx, a, b, y, max_dims=5)
    lo, hi = activation_range(fused_activation(ctx), y)
    values = div_params(a.scale, a.zero_point, b.scale, b.zero_point, y.scale, y.zero_point, lo, hi)
    if values["shift"] > 23:
        # |dividend| <= 255 keeps 23 bits of headroom: a larger shift leaves TFLM's final
        # rounding shift negative (undefined in its RoundingDivideByPOT)
        ctx.unsupported(f"scales whose quotient {a.scale} / ({b.scale} * {y.scale}) is too large")
    p = ctx.param_struct("div", "tfle_div_params", values)
    return f"tfle_div_s8(&{p}, &{bp}, {a.expr}, {b.expr}, {y.expr});"
