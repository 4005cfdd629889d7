"""Checks and derived values that several op families share: int8 operands, fused
activations, padding, the requantization multipliers of the convolution-like ops."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..model import quant
from .registry import EmitContext, TensorView, unsupported_error


def activation_range(activation: str | None, view: Any) -> tuple[int, int]:
    """Clamp range of a fused activation in the output's quantized domain, as TFLM computes it
    (model.quant.activation_range); `view` has .dtype, .scale and .zero_point."""
    act = activation or "NONE"
    try:
        return quant.activation_range(act, view.dtype, view.scale, view.zero_point)
    except ValueError as err:
        raise unsupported_error(str(act), str(err)) from None


def conv_padding(
    padding: str, in_size: int, filter_size: int, stride: int, dilation: int, out_size: int
) -> int:
    """Leading padding of one spatial dimension (TFLM's ComputePaddingHeightWidth)."""
    effective = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        total = (out_size - 1) * stride + effective - in_size
        return max(total, 0) // 2
    return 0


def require_int8(ctx: EmitContext, *views: TensorView | None) -> None:
    """Refuse a present operand that is not quantized int8 (absent ones pass)."""
    for v in views:
        if v is not None and v.dtype != np.int8:
            ctx.unsupported(f"tensor {v.name!r} of type {v.dtype} (the AOT kernels are int8)")
        if v is not None and v.quant is None:
            ctx.unsupported(f"tensor {v.name!r} without quantization parameters")


def require_quantized_int8(ctx: EmitContext, *views: Any) -> None:
    """Refuse an operand that is absent, not int8 or not quantized."""
    for v in views:
        if v is None or v.dtype != np.int8 or v.quant is None:
            found = "absent" if v is None else f"{v.dtype}"
            ctx.unsupported(f"expected quantized int8 tensors, found {found}")


def require_quantized(
    ctx: EmitContext, *views: Any, dtypes: tuple[str, ...] = ("int8",)
) -> np.dtype:
    """Refuse an operand that is absent, not quantized, or not of one of `dtypes`, or
    operands of different types; returns their common dtype (e.g. int8 or int16)."""
    found: set[str] = set()
    for v in views:
        if v is None or v.quant is None or v.dtype.name not in dtypes:
            what = "absent" if v is None else f"{v.dtype}" + ("" if v.quant else " unquantized")
            ctx.unsupported(f"expected quantized {' or '.join(dtypes)} tensors, found {what}")
        found.add(v.dtype.name)
    if len(found) > 1:
        ctx.unsupported(f"operands of mixed types {sorted(found)}")
    return np.dtype(found.pop()) if found else np.dtype(dtypes[0])


def fused_activation(ctx: EmitContext) -> str:
    """The op's fused activation name ("NONE" when it has none)."""
    return ctx.options.get("fusedActivationFunction", "NONE") or "NONE"


def guard(ctx: EmitContext, fn: Any, *args: Any, **kw: Any) -> Any:
    """Run a parameter function, turning its ValueError into the op's unsupported error."""
    try:
        return fn(*args, **kw)
    except ValueError as err:
        ctx.unsupported(str(err))


def check_shape(ctx: EmitContext, expected: tuple[int, ...] | None, what: str) -> None:
    """Refuse an op whose output shape in the model does not follow from its inputs."""
    y = ctx.outputs[0]
    if expected is None or tuple(int(d) for d in expected) != tuple(y.shape):
        ctx.unsupported(
            f"an output shape {tuple(y.shape)} that does not follow from {what} "
            f"(expected {expected}); the model's shapes are inconsistent: convert the Keras "
            "model again with a fixed batch size of 1"
        )


def window_clipped(size: int, k: int, stride: int, dilation: int, pad: int, out: int) -> bool:
    """Whether any output's window along one dimension reaches into the padding."""
    last_end = (out - 1) * stride - pad + (k - 1) * dilation + 1
    return out > 0 and (pad > 0 or last_end > size)


def channel_multipliers(
    ctx: EmitContext, x: TensorView, w: TensorView, y: TensorView, channels: int
) -> tuple[str, str, int]:
    """(multiplier array name, shift array name, per_channel flag) as TFLM computes them."""
    scales = np.asarray(w.quant.scale, dtype=np.float32).ravel()
    if scales.size > 1:
        if scales.size != channels:
            ctx.unsupported(f"{scales.size} filter scales for {channels} output channels")
        mult, shift = quant.per_channel_multipliers(x.scale, scales, y.scale)
        per_channel = 1
    else:
        if ctx.op.op == "FULLY_CONNECTED":
            # TFLM's per-tensor FULLY_CONNECTED multiplies the scales in float32 first
            real = float(np.float32(x.scale) * np.float32(scales[0])) / float(np.float32(y.scale))
            m, s = quant.quantize_multiplier(real)
            mult, shift = np.array([m], np.int32), np.array([s], np.int32)
        else:
            mult, shift = quant.per_channel_multipliers(x.scale, scales[:1], y.scale)
        per_channel = 0
    # shifts fit in int8 (TFLM keeps them in [-31, 30]); 3 bytes of flash saved per channel
    shift8 = np.asarray(shift, dtype=np.int8)
    return ctx.const_array("mult", mult), ctx.const_array("shift", shift8), per_channel


def conv_operands(ctx: EmitContext) -> tuple[TensorView, TensorView, TensorView | None, TensorView]:
    """A convolution's input, constant filter, optional bias and output, all 4-D int8."""
    x, w, b = (ctx.inputs + [None])[:3]
    y = ctx.outputs[0]
    require_int8(ctx, x, w, y)
    if not w.is_constant:
        ctx.unsupported("a filter that is not a constant")
    if len(x.shape) != 4 or len(w.shape) != 4 or len(y.shape) != 4:
        ctx.unsupported(f"input/filter/output ranks {len(x.shape)}/{len(w.shape)}/{len(y.shape)}")
    return x, w, b, y


def conv_geometry(ctx: EmitContext, x: TensorView, kh: int, kw: int, y: TensorView) -> dict:
    """Strides, dilations, leading paddings and the activation range of a convolution."""
    o = ctx.options
    sh, sw = o.get("strideH", 1), o.get("strideW", 1)
    dh, dw = o.get("dilationHFactor", 1), o.get("dilationWFactor", 1)
    ph = conv_padding(o.get("padding", "VALID"), x.shape[1], kh, sh, dh, y.shape[1])
    pw = conv_padding(o.get("padding", "VALID"), x.shape[2], kw, sw, dw, y.shape[2])
    amin, amax = activation_range(o.get("fusedActivationFunction"), y)
    return {"sh": sh, "sw": sw, "dh": dh, "dw": dw, "ph": ph, "pw": pw, "amin": amin, "amax": amax}


def conv_params(
    x: TensorView,
    y: TensorView,
    kh: int,
    kw: int,
    filter_in_c: int,
    g: dict,
    per_channel: int,
    depth_multiplier: int,
) -> dict:
    """The fields of tfle_conv_params (CONV_2D and DEPTHWISE_CONV_2D)."""
    n, ih, iw, ic = x.shape
    _, oh, ow, oc = y.shape
    return {
        "batches": n, "in_h": ih, "in_w": iw, "in_c": ic, "out_h": oh, "out_w": ow,
        "out_c": oc, "k_h": kh, "k_w": kw, "filter_in_c": filter_in_c,
        "stride_h": g["sh"], "stride_w": g["sw"], "dil_h": g["dh"], "dil_w": g["dw"],
        "pad_h": g["ph"], "pad_w": g["pw"], "input_offset": -x.zero_point,
        "output_offset": y.zero_point, "act_min": g["amin"], "act_max": g["amax"],
        "per_channel": per_channel, "depth_multiplier": depth_multiplier,
    }  # fmt: skip
