"""PAD and PADV2, int8 or int16 (constant paddings; PADV2's constant pad value)."""

from __future__ import annotations

import numpy as np

from ..operands import check_shape, guard, require_quantized
from ..params import EXTRA_HEADER, MAX_DIMS, S16_HEADER, declare_struct, ints
from ..registry import EmitContext, register_op

declare_struct(
    "tfle_pad_params",
    [
        ("in_dims", "i", MAX_DIMS),
        ("before", "i", MAX_DIMS),
        ("after", "i", MAX_DIMS),
        *ints("pad_value"),
    ],
    header=EXTRA_HEADER,
)


def pad_params(shape: tuple[int, ...], paddings: np.ndarray, pad_value: int) -> dict:
    """tfle_pad_params from the [ndim, 2] paddings tensor."""
    pads = np.asarray(paddings, dtype=np.int64).reshape(-1, 2)
    if len(shape) > MAX_DIMS or pads.shape[0] != len(shape):
        raise ValueError(f"paddings of shape {pads.shape} do not fit a {len(shape)}-D input")
    if (pads < 0).any():
        raise ValueError("negative paddings")
    lead = MAX_DIMS - len(shape)
    return {
        "in_dims": [1] * lead + [int(s) for s in shape],
        "before": [0] * lead + [int(v) for v in pads[:, 0]],
        "after": [0] * lead + [int(v) for v in pads[:, 1]],
        "pad_value": int(pad_value),
    }


def _emit_pad_common(ctx: EmitContext) -> str:
    x, paddings, y = ctx.inputs[0], ctx.inputs[1], ctx.outputs[0]
    dtype = require_quantized(ctx, x, y, dtypes=("int8", "int16"))
    if paddings is None or not paddings.is_constant:
        ctx.unsupported("paddings computed at run time (they must be a constant tensor)")
    # TFLM pads int8 with the output zero point, int16 with 0, without a PADV2 value
    value = y.zero_point if dtype == np.int8 else 0
    if len(ctx.inputs) > 2 and ctx.inputs[2] is not None:
        cv = ctx.inputs[2]
        if not cv.is_constant:
            ctx.unsupported("a pad value computed at run time")
        if cv.dtype != dtype:
            ctx.unsupported(f"a pad value of type {cv.dtype} for {dtype} tensors")
        value = int(np.asarray(cv.data).ravel()[0])
    values = guard(ctx, pad_params, x.shape, paddings.data, value)
    lead = MAX_DIMS - len(x.shape)
    expected = tuple(
        i + b + a
        for i, b, a in zip(values["in_dims"], values["before"], values["after"], strict=True)
    )[lead:]
    check_shape(ctx, expected, f"padding {tuple(x.shape)}")
    p = ctx.param_struct("pad", "tfle_pad_params", values)
    if dtype == np.int16:
        ctx.require_header(S16_HEADER)
        return f"tfle_pad_s16(&{p}, {x.expr}, {y.expr});"
    return f"tfle_pad_s8(&{p}, {x.expr}, {y.expr});"


@register_op("PAD", dtypes=("int8", "int16"))
def _emit_pad(ctx: EmitContext) -> str:
    return _emit_pad_common(ctx)


@register_op("PADV2", dtypes=("int8", "int16"))
def _emit_padv2(ctx: EmitContext) -> str:
    return _emit_pad_common(ctx)
