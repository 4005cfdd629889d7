"""RESIZE_NEAREST_NEIGHBOR (int8, int16) and RESIZE_BILINEAR (int8; TFLM has no int16
bilinear kernel): source rows, columns and weights computed here as TFLM computes them at run
time, passed to the kernels as tables."""

from __future__ import annotations

import math

import numpy as np

from ...model.quant import tflite_round
from ..operands import check_shape, require_quantized
from ..params import declare_struct, ints
from ..registry import EmitContext, register_op

HEADER = "tfle_resize.h"

declare_struct(
    "tfle_resize_nearest_params",
    ints("batches out_h out_w pixel_bytes batch_bytes"),
    header=HEADER,
)
declare_struct(
    "tfle_resize_bilinear_params",
    ints("batches out_h out_w depth batch_size"),
    header=HEADER,
)


def _c_div(a: int, b: int) -> int:
    """C integer division (truncating toward zero), b > 0."""
    q = abs(a) // b
    return q if a >= 0 else -q


def nearest_indices(in_size: int, out_size: int, align_corners: bool, half_pixel: bool) -> list:
    """The source index of every output index (TFLM's GetNearestNeighbor, float32 math)."""
    f32 = np.float32
    if align_corners and out_size > 1:
        scale = f32(in_size - 1) / f32(out_size - 1)
    else:
        scale = f32(in_size) / f32(out_size)
    offset = f32(0.5) if half_pixel else f32(0.0)
    out = []
    for i in range(out_size):
        v = float((f32(i) + offset) * scale)
        src = tflite_round(v) if align_corners else math.floor(v)
        src = min(src, in_size - 1)
        if half_pixel:
            src = max(0, src)
        out.append(int(src))
    return out


def bilinear_terms(in_size: int, out_size: int, align_corners: bool, half_pixel: bool) -> list:
    """(lower, upper, input_pos - 1024 * lower) for every output index, in TFLM's integer
    arithmetic (ResizeBilinearInteger, ComputeInterpolationValuesInteger)."""
    scale = ((1 << 10) * in_size + out_size // 2) // out_size
    if align_corners and out_size > 1:
        scale = ((1 << 10) * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    terms = []
    for i in range(out_size):
        pos = i * scale + scale // 2 - (1 << 9) if half_pixel else i * scale
        lower = max(_c_div(pos, 1 << 10), 0)
        upper = min(_c_div(pos + (1 << 10) - 1, 1 << 10), in_size - 1)
        terms.append((lower, upper, pos - (1 << 10) * lower))
    return terms


def _operands(ctx: EmitContext, dtypes: tuple[str, ...]):
    x, size, y = ctx.inputs[0], ctx.inputs[1], ctx.outputs[0]
    dtype = require_quantized(ctx, x, y, dtypes=dtypes)
    if len(x.shape) != 4:
        ctx.unsupported(f"a {len(x.shape)}-D input (TFLM resizes 4-D NHWC tensors)")
    if size is None or not size.is_constant or size.dtype != np.int32 or size.size != 2:
        ctx.unsupported("an output size that is not a constant int32 tensor of 2 values")
    out_h, out_w = (int(v) for v in np.asarray(size.data).ravel())
    if out_h <= 0 or out_w <= 0:
        ctx.unsupported(f"an output size {out_h}x{out_w}")
    n, ih, iw, c = (int(d) for d in x.shape)
    check_shape(ctx, (n, out_h, out_w, c), f"resizing {tuple(x.shape)} to {out_h}x{out_w}")
    align = bool(ctx.options.get("alignCorners", False))
    half = bool(ctx.options.get("halfPixelCenters", False))
    return x, y, dtype, (n, ih, iw, c, out_h, out_w), align, half


@register_op("RESIZE_NEAREST_NEIGHBOR", dtypes=("int8", "int16"))
def _resize_nearest(ctx: EmitContext) -> str:
    x, y, dtype, (n, ih, iw, c, oh, ow), align, half = _operands(ctx, ("int8", "int16"))
    pixel = c * dtype.itemsize
    rows = [i * iw * pixel for i in nearest_indices(ih, oh, align, half)]
    cols = [i * pixel for i in nearest_indices(iw, ow, align, half)]
    params = ctx.param_struct(
        "params",
        "tfle_resize_nearest_params",
        {"batches": n, "out_h": oh, "out_w": ow, "pixel_bytes": pixel,
         "batch_bytes": ih * iw * pixel},
    )  # fmt: skip
    row_t = ctx.const_array("rows", np.asarray(rows, dtype=np.int32))
    col_t = ctx.const_array("cols", np.asarray(cols, dtype=np.int32))
    return f"tfle_resize_nearest(&{params}, {x.expr}, {row_t}, {col_t}, {y.expr});"


@register_op("RESIZE_BILINEAR", dtypes=("int8",))
def _resize_bilinear(ctx: EmitContext) -> str:
    x = ctx.inputs[0]
    if x is not None and x.dtype == np.int16:
        ctx.unsupported("int16 activations (TFLM's RESIZE_BILINEAR is float32 and int8 only)")
    x, y, _, (n, ih, iw, c, oh, ow), align, half = _operands(ctx, ("int8",))
    if align and half:
        ctx.unsupported("align_corners together with half_pixel_centers (TFLM refuses both)")
    table = []
    for size, out, stride in ((ih, oh, iw * c), (iw, ow, c)):
        terms = bilinear_terms(size, out, align, half)
        if any(not (0 <= lo < size and 0 <= hi < size) for lo, hi, _ in terms):
            ctx.unsupported(f"resizing {size} to {out} reads outside the input")
        table.append(np.array([(lo * stride, hi * stride, w) for lo, hi, w in terms], np.int32))
    params = ctx.param_struct(
        "params",
        "tfle_resize_bilinear_params",
        {"batches": n, "out_h": oh, "out_w": ow, "depth": c, "batch_size": ih * iw * c},
    )
    row_t = ctx.const_array("rows", table[0].ravel())
    col_t = ctx.const_array("cols", table[1].ravel())
    return f"tfle_resize_bilinear_s8(&{params}, {x.expr}, {row_t}, {col_t}, {y.expr});"
