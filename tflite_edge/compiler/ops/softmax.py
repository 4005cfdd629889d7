"""SOFTMAX, int8 in, int8 out (output scale 1/256, zero point -128)."""

from __future__ import annotations

from ...model.quant import softmax_params
from ..operands import require_int8
from ..params import CORE_HEADER, declare_struct, ints
from ..registry import EmitContext, register_op

declare_struct(
    "tfle_softmax_params",
    ints("outer depth input_multiplier input_left_shift diff_min"),
    header=CORE_HEADER,
)


@register_op("SOFTMAX")
def _softmax(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    require_int8(ctx, x, y)
    if y.zero_point != -128 or abs(y.scale - 1.0 / 256) > 1e-8 * 256:
        ctx.unsupported(
            f"an int8 output with scale {y.scale} and zero point {y.zero_point} "
            "(TFLM requires 1/256 and -128)"
        )
    depth = x.shape[-1] if x.shape else 1
    outer = x.size // max(depth, 1)
    mult, shift, diff_min = softmax_params(x.scale, float(ctx.options.get("beta", 1.0)))
    params = ctx.param_struct(
        "params",
        "tfle_softmax_params",
        {
            "outer": outer,
            "depth": depth,
            "input_multiplier": mult,
            "input_left_shift": shift,
            "diff_min": diff_min,
        },
    )
    return f"tfle_softmax_s8(&{params}, {x.expr}, {y.expr});"
