"""TRANSPOSE_CONV (Keras Conv2DTranspose): int8, and 16x8 (int16 activations, int8 filter,
int64 bias), gathered per output value without TFLM's scratch accumulator."""

from __future__ import annotations

import numpy as np

from ..operands import activation_range, channel_multipliers, require_quantized
from ..params import declare_struct, ints
from ..registry import EmitContext, register_op

HEADER = "tfle_transpose_conv.h"

declare_struct(
    "tfle_transpose_conv_params",
    ints(
        "batches in_h in_w in_c out_h out_w out_c k_h k_w stride_h stride_w pad_h pad_w "
        "input_offset output_offset act_min act_max per_channel"
    ),
    header=HEADER,
)


def _c_div(a: int, b: int) -> int:
    """C integer division (truncating toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _out_size(padding: str, size: int, k: int, stride: int) -> int | None:
    """TFLM's ComputeOutSizeChecked (dilation 1); None where it fails."""
    if size < 0 or k <= 0 or stride <= 0:
        return None
    if padding == "SAME":
        value = _c_div(size + stride - 1, stride)
    else:
        value = _c_div(size + stride - k, stride)
    return None if value < 0 else value


def _padding(stride: int, size: int, k: int, out: int) -> int:
    """TFLM's ComputePaddingWithOffsetChecked (dilation 1): the leading padding."""
    total = max((out - 1) * stride + k - size, 0)
    return total // 2


def transpose_conv_padding(
    padding: str, out_h: int, out_w: int, k_h: int, k_w: int, s_h: int, s_w: int
) -> tuple[int, int]:
    """(pad_h, pad_w) as TFLM's TRANSPOSE_CONV computes them: ComputePaddingHeightWidth on
    the OUTPUT size (its "input" there), both 0 where its size checks fail."""
    if padding not in ("SAME", "VALID"):
        raise ValueError(f"padding {padding!r}")
    ow = _out_size(padding, out_w, k_w, s_w)
    if ow is None:
        return 0, 0
    oh = _out_size(padding, out_h, k_h, s_h)
    if oh is None:
        return 0, 0
    return _padding(s_h, out_h, k_h, oh), _padding(s_w, out_w, k_w, ow)


@register_op("TRANSPOSE_CONV", dtypes=("int8", "int16"))
def _transpose_conv(ctx: EmitContext) -> str:
    shape_t, w, x = ctx.inputs[:3]
    b = ctx.inputs[3] if len(ctx.inputs) > 3 else None
    y = ctx.outputs[0]
    dtype = require_quantized(ctx, x, y, dtypes=("int8", "int16"))
    if w is None or w.dtype != np.int8 or w.quant is None or not w.is_constant:
        ctx.unsupported("a filter that is not a constant quantized int8 tensor")
    if len(x.shape) != 4 or len(w.shape) != 4 or len(y.shape) != 4:
        ctx.unsupported(f"input/filter/output ranks {len(x.shape)}/{len(w.shape)}/{len(y.shape)}")
    n, ih, iw, ic = (int(d) for d in x.shape)
    oc, kh, kw, fic = (int(d) for d in w.shape)
    yn, oh, ow, yc = (int(d) for d in y.shape)
    if fic != ic or yc != oc or yn != n:
        ctx.unsupported(f"filter {tuple(w.shape)} for input {x.shape} and output {y.shape}")
    if shape_t is not None and shape_t.is_constant:
        if [int(v) for v in np.asarray(shape_t.data).ravel()] != [yn, oh, ow, yc]:
            ctx.unsupported(
                f"an output_shape {np.asarray(shape_t.data).tolist()} other than the output "
                f"tensor's {list(y.shape)}"
            )
    if np.asarray(w.quant.scale).size > 1 and int(w.quant.axis) != 0:
        ctx.unsupported(f"filter scales along axis {w.quant.axis} (TFLM's are per output channel)")
    if np.any(np.asarray(w.quant.zero_point) != 0):
        ctx.unsupported("filter zero points other than 0 (TFLM's kernel ignores them)")
    if dtype == np.int16 and (x.zero_point != 0 or y.zero_point != 0):
        ctx.unsupported("int16 activations with zero points other than 0 (TFLM ignores them)")
    o = ctx.options
    sh, sw = int(o.get("strideH", 1)), int(o.get("strideW", 1))
    if sh < 1 or sw < 1:
        ctx.unsupported(f"strides {sh}x{sw}")
    try:
        ph, pw = transpose_conv_padding(o.get("padding", "VALID"), oh, ow, kh, kw, sh, sw)
    except ValueError as err:
        ctx.unsupported(str(err))
    amin, amax = activation_range(o.get("fusedActivationFunction"), y)
    mult, shift, per_channel = channel_multipliers(ctx, x, w, y, oc)
    values = {
        "batches": n, "in_h": ih, "in_w": iw, "in_c": ic, "out_h": oh, "out_w": ow,
        "out_c": oc, "k_h": kh, "k_w": kw, "stride_h": sh, "stride_w": sw, "pad_h": ph,
        "pad_w": pw, "input_offset": -x.zero_point, "output_offset": y.zero_point,
        "act_min": amin, "act_max": amax, "per_channel": per_channel,
    }  # fmt: skip
    params = ctx.param_struct("params", "tfle_transpose_conv_params", values)
    filt = ctx.const_array("filter", np.asarray(w.data, dtype=np.int8), align=4)
    if dtype == np.int8:
        bias = "(const int32_t *)0"
        if b is not None:
            if not b.is_constant or b.dtype != np.int32 or b.size != oc:
                ctx.unsupported(f"a bias of type {b.dtype} and {b.size} values (int32 wanted)")
            bias = ctx.const_array("bias", np.asarray(b.data, dtype=np.int32).ravel())
        sums = np.asarray(w.data, dtype=np.int32).sum(axis=3, dtype=np.int64)
        filter_sum = ctx.const_array("filter_sum", sums.astype(np.int32).ravel())
        return (
            f"tfle_transpose_conv_s8(&{params}, {x.expr}, {filt}, {filter_sum}, {bias}, "
            f"{mult}, {shift}, {y.expr});"
        )
    bias = "(const int64_t *)0"
    if b is not None:
        # TFLM widens an int16 bias to int64 at run time; int32 it would misread
        if not b.is_constant or b.dtype not in (np.int64, np.int16) or b.size != oc:
            ctx.unsupported(f"a 16x8 bias of type {b.dtype} and {b.size} values (int64 wanted)")
        bias = ctx.const_array("bias", np.asarray(b.data, dtype=np.int64).ravel())
    return (
        f"tfle_transpose_conv_s16(&{params}, {x.expr}, {filt}, {bias}, {mult}, {shift}, {y.expr});"
    )
