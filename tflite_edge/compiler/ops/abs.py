"""ABS, int8: |x - input zero point|, rescaled to the output (TFLM's elementwise ABS)."""

from __future__ import annotations

from ...model import Tensor
from ...model.quant import quantize_multiplier, tensor_scale, tensor_zero_point
from ..operands import require_quantized_int8
from ..params import declare_struct, ints
from ..registry import EmitContext, register_op

declare_struct(
    "tfle_abs_params",
    ints("size input_zp output_zp needs_rescale multiplier shift"),
    header="tfle_abs.h",
)


def abs_params(inp: Tensor, out: Tensor) -> dict:
    """tfle_abs_params as TFLM's GenericPrepare computes them for ABS.

    SetAbsOutputMultiplier quantizes input_scale / output_scale divided in float32; with
    equal scales TFLM skips the rescale (needs_rescale false).
    """
    si, so = tensor_scale(inp), tensor_scale(out)
    needs_rescale = bool(si != so)
    m, s = quantize_multiplier(float(si / so)) if needs_rescale else (0, 0)
    return {
        "size": inp.size,
        "input_zp": tensor_zero_point(inp),
        "output_zp": tensor_zero_point(out),
        "needs_rescale": int(needs_rescale),
        "multiplier": m,
        "shift": s,
    }


@register_op("ABS")
def _emit_abs(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    require_quantized_int8(ctx, x, y)
    p = ctx.param_struct("abs", "tfle_abs_params", abs_params(x.tensor, y.tensor))
    return f"tfle_abs_s8(&{p}, {x.expr}, {y.expr});"
