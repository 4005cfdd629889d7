"""SVDF, int8 input/output with an int16 or int8 activation state (TFLM's svdf.cc and
svdf_common.cc: EvalIntegerSvdfReference, parameters as PrepareSvdf computes them).

The activation state (input 4) is a variable tensor: the planner gives it arena bytes of its
own for the model's lifetime, and the layer fills it once, on the first invocation, as TFLM
fills it when it allocates its arena (planner.state_init_code)."""

from __future__ import annotations

import numpy as np

from ...model import quant
from ..operands import require_quantized
from ..params import declare_struct, ints, pointers
from ..planner import state_init_code, variable_fill
from ..registry import EmitContext, TensorView, register_op

HEADER = "tfle_svdf.h"

declare_struct(
    "tfle_svdf_params",
    [
        *ints(
            "batches input_size num_filters num_units rank memory_size input_zp state_zp "
            "output_zp scale1_mult scale1_shift scale2_mult scale2_shift"
        ),
        *pointers("weights_feature weights_time bias"),
    ],
    header=HEADER,
)


def _f32(view: TensorView) -> np.float32:
    return np.float32(view.scale)


def svdf_scales(x, wf, wt, state, y) -> tuple[tuple[int, int], tuple[int, int]]:
    """(multiplier, shift) of input x feature weights -> state and of state x time weights
    -> output: PrepareSvdf's effective_scale_1/2, products and quotient in float32."""
    s1 = float(_f32(x) * _f32(wf) / _f32(state))
    s2 = float(_f32(state) * _f32(wt) / _f32(y))
    return quant.quantize_multiplier(s1), quant.quantize_multiplier(s2)


@register_op("SVDF", dtypes=("int8",))
def _emit_svdf(ctx: EmitContext) -> str:
    ins = (list(ctx.inputs) + [None] * 5)[:5]
    x, wf, wt, bias, state = ins
    y = ctx.outputs[0]
    require_quantized(ctx, x, y, dtypes=("int8",))
    if len(ctx.inputs) != 5:
        ctx.unsupported(f"{len(ctx.inputs)} inputs (TFLM's SVDF takes 5)")
    if wf is None or wt is None or not wf.is_constant or not wt.is_constant:
        ctx.unsupported("feature or time weights that are not constant tensors")
    if bias is None or not bias.is_constant or bias.dtype != np.int32 or bias.quant is None:
        # TFLM's PrepareSvdf reads the bias scale unconditionally: it needs a bias
        ctx.unsupported("a missing or non-constant int32 bias (TFLM's PrepareSvdf needs one)")
    if state is None or not state.tensor.is_variable or state.is_constant:
        ctx.unsupported("an activation state that is not a variable tensor")
    if wf.dtype != np.int8 or wf.quant is None:
        ctx.unsupported(f"feature weights of type {wf.dtype} (TFLM's integer SVDF takes int8)")
    if wt.dtype not in (np.int8, np.int16) or wt.quant is None:
        ctx.unsupported(f"time weights of type {wt.dtype} (int8 or int16)")
    if state.dtype != wt.dtype or state.quant is None:
        ctx.unsupported(
            f"an activation state of type {state.dtype} with {wt.dtype} time weights "
            "(TFLM reads both with the time weights' type)"
        )
    if wf.quant.scale.size > 1 or wt.quant.scale.size > 1:
        ctx.unsupported("per-channel quantized weights (TFLM's SVDF uses one scale)")
    if len(x.shape) != 2 or len(y.shape) != 2 or len(wf.shape) != 2 or len(wt.shape) != 2:
        ctx.unsupported("input, output and weights that are not 2-D")
    rank = int(ctx.options.get("rank", 0) or 0)
    batches, input_size = (int(d) for d in x.shape)
    num_filters, memory_size = int(wt.shape[0]), int(wt.shape[1])
    if rank <= 0 or num_filters % rank or int(wf.shape[0]) != num_filters:
        ctx.unsupported(f"rank {rank} with {num_filters} filters")
    num_units = num_filters // rank
    if int(wf.shape[1]) != input_size or tuple(y.shape) != (batches, num_units):
        ctx.unsupported(f"shapes {x.shape} x {wf.shape} -> {y.shape} that do not agree")
    if tuple(bias.shape) != (num_units,) or state.size != batches * memory_size * num_filters:
        ctx.unsupported(f"a bias {bias.shape} or state {state.shape} of the wrong size")
    bias_scale = float(np.float32(bias.quant.scale.ravel()[0]))
    if abs(bias_scale - float(_f32(state) * _f32(wt))) >= 1e-5:
        ctx.unsupported("a bias scale other than state scale x time weights scale")
    (m1, s1), (m2, s2) = svdf_scales(x, wf, wt, state, y)
    wide = state.dtype == np.int16
    values = {
        "batches": batches, "input_size": input_size, "num_filters": num_filters,
        "num_units": num_units, "rank": rank, "memory_size": memory_size,
        "input_zp": x.zero_point, "state_zp": state.zero_point, "output_zp": y.zero_point,
        "scale1_mult": m1, "scale1_shift": s1, "scale2_mult": m2, "scale2_shift": s2,
        "weights_feature": wf.expr, "weights_time": wt.expr, "bias": bias.expr,
    }  # fmt: skip
    p = ctx.param_struct("svdf", "tfle_svdf_params", values)
    scratch = ctx.scratch(4 * batches * (num_filters + num_units))
    init = state_init_code(
        f"{ctx.prefix}_state_ready",
        [(state.expr, state.nbytes, variable_fill(state.tensor))],
    )
    fn = "tfle_svdf_s8_s16" if wide else "tfle_svdf_s8_s8"
    return f"{init}\n{fn}(&{p}, {x.expr}, {state.expr}, (int32_t *)({scratch}), {y.expr});"
