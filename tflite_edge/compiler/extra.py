"""AOT emitters for the element-wise, activation, reduction and data-movement ops.

ADD, MUL, QUANTIZE, DEQUANTIZE, LOGISTIC, TANH, RELU, RELU6, LEAKY_RELU, HARD_SWISH,
CONCATENATION, PAD (and PADV2), MEAN, REDUCE_MAX, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND, and the
aliases EXPAND_DIMS and SQUEEZE. The C kernels are firmware/kernels/tfle_extra*.c; their
parameter blocks (tfle_extra.h) are computed here exactly as TFLM's Prepare() computes them,
including which arithmetic is float32 and which is double, so the generated C is bit-exact.

The `*_params` functions are plain functions of tensors and options (no compiler state); the
tests call them to drive the kernels directly. `STRUCTS` describes each C struct's fields so
that the same dict renders a C initializer here and a ctypes structure in the tests.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..model import Tensor
from ..model.quant import quantize_multiplier
from . import EmitContext, activation_range, register_op

MAX_DIMS = 6  # TFLE_X_MAX_DIMS
HEADER = "tfle_extra.h"


def _ints(names: str) -> list[tuple[str, str, int]]:
    return [(name, "i", 1) for name in names.split()]


# C struct layouts of tfle_extra.h: (field, kind, count); kind "i" = int32_t, "f" = float.
STRUCTS: dict[str, list[tuple[str, str, int]]] = {
    "tfle_bcast": [
        *_ints("broadcast size"),
        ("dims", "i", MAX_DIMS),
        ("stride1", "i", MAX_DIMS),
        ("stride2", "i", MAX_DIMS),
    ],
    "tfle_add_params": _ints(
        "input1_offset input2_offset output_offset left_shift input1_multiplier input1_shift "
        "input2_multiplier input2_shift output_multiplier output_shift act_min act_max"
    ),
    "tfle_mul_params": _ints(
        "input1_offset input2_offset output_offset output_multiplier output_shift act_min act_max"
    ),
    "tfle_requant_params": _ints("size input_zp output_zp multiplier shift act_min act_max"),
    "tfle_affine_params": [*_ints("size zero_point"), ("scale", "f", 1)],
    "tfle_leaky_relu_params": _ints(
        "size input_zp output_zp multiplier_identity shift_identity multiplier_alpha shift_alpha"
    ),
    "tfle_hard_swish_params": _ints(
        "size input_zp output_zp output_multiplier_fixedpoint_int16 output_multiplier_exponent "
        "reluish_multiplier_fixedpoint_int16 reluish_multiplier_exponent"
    ),
    "tfle_sigmoid_params": _ints(
        "size input_zp input_range_radius input_multiplier input_left_shift"
    ),
    "tfle_reduce_shape": [
        *_ints("n_kept"),
        ("kept_dims", "i", MAX_DIMS),
        ("kept_strides", "i", MAX_DIMS),
        *_ints("n_reduced"),
        ("reduced_dims", "i", MAX_DIMS),
        ("reduced_strides", "i", MAX_DIMS),
        *_ints("num_reduced"),
    ],
    "tfle_mean_params": _ints("input_zp output_zp multiplier shift"),
    "tfle_pad_params": [
        ("in_dims", "i", MAX_DIMS),
        ("before", "i", MAX_DIMS),
        ("after", "i", MAX_DIMS),
        *_ints("pad_value"),
    ],
    "tfle_space_batch_params": [
        ("in_dims", "i", 4),
        ("out_dims", "i", 4),
        *_ints("block_h block_w pad_top pad_left pad_value"),
    ],
}


# --------------------------------------------------------------------------- C text


def _c_float(value: float) -> str:
    """An exact C99 float literal (hexadecimal) of a float32 value."""
    v = float(np.float32(value))
    if not math.isfinite(v):
        raise ValueError(f"cannot emit the non-finite float {v} as a kernel parameter")
    return v.hex() + "f"


def _c_int(value: int) -> str:
    v = int(value)
    return "(-2147483647 - 1)" if v == -(2**31) else str(v)


def c_initializer(struct: str, values: dict[str, Any]) -> str:
    """The C initializer `{...}` of one tfle_extra.h struct from a dict of its fields."""
    items = []
    for name, kind, count in STRUCTS[struct]:
        v = values[name]
        fmt = _c_float if kind == "f" else _c_int
        if count == 1:
            items.append(fmt(v))
        else:
            seq = list(v)
            if len(seq) != count:
                raise ValueError(f"{struct}.{name} needs {count} values, got {len(seq)}")
            items.append("{" + ", ".join(fmt(x) for x in seq) + "}")
    return "{" + ", ".join(items) + "}"


# --------------------------------------------------------------------------- TFLM's Prepare math


def _scale(t: Tensor) -> np.float32:
    if t.quantization is None:
        raise ValueError(f"tensor {t.name!r} is not quantized")
    return np.float32(t.quantization.scale.ravel()[0])


def _zp(t: Tensor) -> int:
    return int(t.quantization.zero_point.ravel()[0]) if t.quantization is not None else 0


def _tflite_round(x: float) -> int:
    """TfLiteRound / std::round: half away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def _quantize(value: float, t: Tensor) -> int:
    """zero_point + round(value / scale) with the float32 division TFLM uses."""
    return _zp(t) + _tflite_round(float(np.float32(value) / _scale(t)))


def activation_bounds(activation: str | None, out: Tensor) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for an int8 output (aot.activation_range's rule)."""
    if (activation or "NONE") not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
        raise ValueError(f"a fused {activation} activation (TFLM clamps only NONE/RELU*)")
    view = SimpleNamespace(dtype=np.dtype(np.int8), scale=float(_scale(out)), zero_point=_zp(out))
    return activation_range(activation, view)


def _smaller_than_one(real: float) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp."""
    m, s = quantize_multiplier(real)
    if s > 0:
        raise ValueError(f"multiplier {real} is not smaller than one")
    return m, s


def broadcast_params(s1: tuple[int, ...], s2: tuple[int, ...], out: tuple[int, ...]) -> dict:
    """tfle_bcast for two input shapes broadcast (numpy rules) to the output shape."""
    size = int(np.prod(out, dtype=np.int64))
    if tuple(s1) == tuple(s2) == tuple(out) or (
        int(np.prod(s1, dtype=np.int64)) == size == int(np.prod(s2, dtype=np.int64))
        and np.broadcast_shapes(tuple(s1), tuple(s2)) == tuple(out)
    ):
        zeros = [0] * MAX_DIMS
        return {
            "broadcast": 0,
            "size": size,
            "dims": [1] * MAX_DIMS,
            "stride1": zeros,
            "stride2": zeros,
        }
    if len(out) > MAX_DIMS:
        raise ValueError(f"broadcasting over {len(out)} dimensions (at most {MAX_DIMS})")
    dims = [1] * (MAX_DIMS - len(out)) + list(out)

    def strides(shape: tuple[int, ...]) -> list[int]:
        ext = [1] * (MAX_DIMS - len(shape)) + list(shape)
        st, acc = [0] * MAX_DIMS, 1
        for d in range(MAX_DIMS - 1, -1, -1):
            st[d] = 0 if ext[d] == 1 and dims[d] != 1 else acc
            acc *= ext[d]
        return st

    return {
        "broadcast": 1,
        "size": size,
        "dims": dims,
        "stride1": strides(s1),
        "stride2": strides(s2),
    }


def add_params(in1: Tensor, in2: Tensor, out: Tensor, activation: str | None) -> dict:
    """tfle_add_params as TFLM's CalculateOpDataAdd computes them (int8, left_shift 20)."""
    s1, s2, so = _scale(in1), _scale(in2), _scale(out)
    left_shift = 20
    twice_max = 2 * float(max(s1, s2))
    m1, sh1 = _smaller_than_one(float(s1) / twice_max)
    m2, sh2 = _smaller_than_one(float(s2) / twice_max)
    mo, sho = _smaller_than_one(twice_max / ((1 << left_shift) * float(so)))
    lo, hi = activation_bounds(activation, out)
    return {
        "input1_offset": -_zp(in1),
        "input2_offset": -_zp(in2),
        "output_offset": _zp(out),
        "left_shift": left_shift,
        "input1_multiplier": m1,
        "input1_shift": sh1,
        "input2_multiplier": m2,
        "input2_shift": sh2,
        "output_multiplier": mo,
        "output_shift": sho,
        "act_min": lo,
        "act_max": hi,
    }


def mul_params(in1: Tensor, in2: Tensor, out: Tensor, activation: str | None) -> dict:
    """tfle_mul_params as TFLM's CalculateOpDataMul computes them."""
    real = float(_scale(in1)) * float(_scale(in2)) / float(_scale(out))
    m, s = quantize_multiplier(real)
    lo, hi = activation_bounds(activation, out)
    return {
        "input1_offset": -_zp(in1),
        "input2_offset": -_zp(in2),
        "output_offset": _zp(out),
        "output_multiplier": m,
        "output_shift": s,
        "act_min": lo,
        "act_max": hi,
    }


def requant_params(inp: Tensor, out: Tensor, *, relu: bool = False) -> dict:
    """tfle_requant_params: QUANTIZE int8->int8 (Requantize) or RELU (CalculateReluOpData)."""
    m, s = quantize_multiplier(float(_scale(inp)) / float(_scale(out)))
    lo = max(-128, _quantize(0.0, out)) if relu else -128
    return {
        "size": inp.size,
        "input_zp": _zp(inp),
        "output_zp": _zp(out),
        "multiplier": m,
        "shift": s,
        "act_min": lo,
        "act_max": 127,
    }


def relu6_bounds(inp: Tensor) -> tuple[int, int]:
    """Relu6Prepare: zero and FloatToQuantizedType(6.0) in the input's quantization."""
    six = _zp(inp) + _tflite_round(float(np.float32(6.0) / _scale(inp)))
    return _zp(inp), max(-128, min(127, six))


def affine_params(t: Tensor, size: int) -> dict:
    """tfle_affine_params: the int8 side's scale (float32) and zero point."""
    return {"size": size, "zero_point": _zp(t), "scale": float(_scale(t))}


def leaky_relu_params(inp: Tensor, out: Tensor, alpha: float) -> dict:
    """LeakyReluPrepare: both multipliers from float32 products, as TFLM computes them."""
    si, so, a = _scale(inp), _scale(out), np.float32(alpha)
    m_alpha, s_alpha = quantize_multiplier(float(si * a / so))
    m_id, s_id = quantize_multiplier(float(si / so))
    return {
        "size": inp.size,
        "input_zp": _zp(inp),
        "output_zp": _zp(out),
        "multiplier_identity": m_id,
        "shift_identity": s_id,
        "multiplier_alpha": m_alpha,
        "shift_alpha": s_alpha,
    }


def _downscale_int16(m32: int) -> int:
    """DownScaleInt32ToInt16Multiplier."""
    if m32 >= (2**31 - 1) - (1 << 15):
        return 32767
    return (m32 + (1 << 15)) >> 16


def hard_swish_params(inp: Tensor, out: Tensor) -> dict:
    """HardSwishPrepare: float32 scales, int16 fixed-point multipliers."""
    hires = np.float32(np.float32(1.0 / 128.0) * _scale(inp))
    reluish_scale = np.float32(3.0) / np.float32(32768.0)
    om, oe = quantize_multiplier(float(np.float32(hires / _scale(out))))
    rm, re_ = quantize_multiplier(float(np.float32(hires / reluish_scale)))
    if oe > 0:
        raise ValueError(
            f"HARD_SWISH output multiplier exponent {oe} > 0: TFLM rejects this quantization"
        )
    return {
        "size": inp.size,
        "input_zp": _zp(inp),
        "output_zp": _zp(out),
        "output_multiplier_fixedpoint_int16": _downscale_int16(om),
        "output_multiplier_exponent": oe,
        "reluish_multiplier_fixedpoint_int16": _downscale_int16(rm),
        "reluish_multiplier_exponent": re_,
    }


def sigmoid_params(inp: Tensor) -> dict:
    """LOGISTIC / TANH int8 Prepare: Q4.27 input multiplier and the saturation radius."""
    input_integer_bits = 4
    real = float(_scale(inp)) * float(1 << (31 - input_integer_bits))
    q, left_shift = math.frexp(real)
    mult = _tflite_round(q * (1 << 31))
    if mult == 1 << 31:  # TFLM's static_cast<int32_t> wraps this (x86 behaviour)
        mult = -(1 << 31)
    # CalculateInputRadius(4, left_shift, 31)
    max_input_rescaled = (
        1.0 * ((1 << input_integer_bits) - 1) * float(1 << (31 - input_integer_bits))
    ) / math.ldexp(1.0, left_shift)
    return {
        "size": inp.size,
        "input_zp": _zp(inp),
        "input_range_radius": int(math.floor(max_input_rescaled)),
        "input_multiplier": mult,
        "input_left_shift": left_shift,
    }


def resolve_axes(axes: Any, ndim: int) -> list[int]:
    """Reduction axes made non-negative, duplicates dropped, order kept (TFLM ResolveAxis)."""
    out: list[int] = []
    for a in np.asarray(axes).ravel().tolist():
        a = int(a) + ndim if int(a) < 0 else int(a)
        if not 0 <= a < ndim:
            raise ValueError(f"reduction axis {a} is outside a {ndim}-D tensor")
        if a not in out:
            out.append(a)
    return out


def reduce_shape(shape: tuple[int, ...], axes: list[int]) -> dict:
    """tfle_reduce_shape: the input split into kept and reduced dims with their strides."""
    if len(shape) > MAX_DIMS:
        raise ValueError(f"reductions over {len(shape)}-D tensors (at most {MAX_DIMS})")
    strides, acc = [0] * len(shape), 1
    for d in range(len(shape) - 1, -1, -1):
        strides[d] = acc
        acc *= shape[d]
    kept = [d for d in range(len(shape)) if d not in axes]
    red = [d for d in range(len(shape)) if d in axes]
    pad = [0] * MAX_DIMS
    return {
        "n_kept": len(kept),
        "kept_dims": ([shape[d] for d in kept] + pad)[:MAX_DIMS],
        "kept_strides": ([strides[d] for d in kept] + pad)[:MAX_DIMS],
        "n_reduced": len(red),
        "reduced_dims": ([shape[d] for d in red] + pad)[:MAX_DIMS],
        "reduced_strides": ([strides[d] for d in red] + pad)[:MAX_DIMS],
        "num_reduced": int(np.prod([shape[d] for d in red], dtype=np.int64)),
    }


def mean_params(inp: Tensor, out: Tensor, num_reduced: int) -> dict:
    """TFLM's integer MEAN: input/output multiplier with 1/num_reduced folded in.

    PrepareMeanOrSum quantizes input_scale / output_scale; QuantizedMeanOrSum then shifts
    the multiplier left by floor(log2(n)) (at most 32, at most 31 + shift) and divides it by n.
    """
    m, s = quantize_multiplier(float(_scale(inp)) / float(_scale(out)))
    n = int(num_reduced)
    if n < 1:
        raise ValueError("a MEAN over an empty axis")
    shift = min(n.bit_length() - 1, 32, 31 + s)
    return {
        "input_zp": _zp(inp),
        "output_zp": _zp(out),
        "multiplier": (m << shift) // n if m >= 0 else -((-m << shift) // n),
        "shift": s - shift,
    }


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


def space_batch_params(
    in_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    block: np.ndarray,
    pads: np.ndarray,
    pad_value: int,
) -> dict:
    """tfle_space_batch_params for 3-D (NHC) or 4-D (NHWC) tensors."""
    block = np.asarray(block).ravel().astype(int).tolist()
    pads = np.asarray(pads).reshape(-1, 2).astype(int)
    if len(in_shape) not in (3, 4) or len(out_shape) != len(in_shape):
        raise ValueError(f"space/batch ops need 3-D or 4-D tensors, not {in_shape}")
    if len(block) != len(in_shape) - 2 or pads.shape[0] != len(block):
        raise ValueError(f"block shape {block} does not fit a {len(in_shape)}-D tensor")

    def ext(s: tuple[int, ...]) -> list[int]:
        return [int(s[0]), int(s[1]), 1, int(s[2])] if len(s) == 3 else [int(v) for v in s]

    return {
        "in_dims": ext(in_shape),
        "out_dims": ext(out_shape),
        "block_h": block[0],
        "block_w": block[1] if len(block) == 2 else 1,
        "pad_top": int(pads[0, 0]),
        "pad_left": int(pads[1, 0]) if len(block) == 2 else 0,
        "pad_value": int(pad_value),
    }


def space_batch_output_shape(
    kind: str, in_shape: tuple[int, ...], block: np.ndarray, pads: np.ndarray
) -> tuple[int, ...] | None:
    """The output shape SPACE_TO_BATCH_ND (paddings) or BATCH_TO_SPACE_ND (crops) computes.

    None when the input does not divide by the block.
    """
    block = [int(v) for v in np.asarray(block).ravel()]
    pads = np.asarray(pads).reshape(-1, 2).astype(int)
    n = int(np.prod(block))
    spatial = list(in_shape[1 : 1 + len(block)])
    if kind == "space_to_batch":
        sizes = [s + int(p[0]) + int(p[1]) for s, p in zip(spatial, pads, strict=True)]
        if any(sz % bl for sz, bl in zip(sizes, block, strict=True)):
            return None
        return (
            in_shape[0] * n,
            *[sz // bl for sz, bl in zip(sizes, block, strict=True)],
            *in_shape[1 + len(block) :],
        )
    if in_shape[0] % n:
        return None
    sizes = [s * bl - int(p[0]) - int(p[1]) for s, bl, p in zip(spatial, block, pads, strict=True)]
    return (in_shape[0] // n, *sizes, *in_shape[1 + len(block) :])


def concat_params(
    shapes: list[tuple[int, ...]], out_shape: tuple[int, ...], axis: int, itemsize: int
) -> tuple[int, list[int]]:
    """(outer rows, bytes copied from each input per row) of a concatenation."""
    ndim = len(out_shape)
    axis = axis + ndim if axis < 0 else axis
    if not 0 <= axis < ndim:
        raise ValueError(f"concatenation axis {axis} is outside a {ndim}-D tensor")
    outer = int(np.prod(out_shape[:axis], dtype=np.int64))
    copy = [int(np.prod(s[axis:], dtype=np.int64)) * itemsize for s in shapes]
    return outer, copy


# --------------------------------------------------------------------------- emitters


def _struct(ctx: EmitContext, hint: str, struct: str, values: dict) -> str:
    ctx.require_header(HEADER)
    return ctx.const_struct(hint, struct, c_initializer(struct, values))


def _int8(ctx: EmitContext, *views: Any) -> None:
    for v in views:
        if v is None or v.dtype != np.int8 or v.quant is None:
            found = "absent" if v is None else f"{v.dtype}"
            ctx.unsupported(f"expected quantized int8 tensors, found {found}")


def _activation(ctx: EmitContext) -> str:
    return ctx.options.get("fusedActivationFunction", "NONE") or "NONE"


def _guard(ctx: EmitContext, fn: Any, *args: Any, **kw: Any) -> Any:
    """Run a parameter function, turning its ValueError into the op's unsupported error."""
    try:
        return fn(*args, **kw)
    except ValueError as err:
        ctx.unsupported(str(err))


def _check_shape(ctx: EmitContext, expected: tuple[int, ...] | None, what: str) -> None:
    """Refuse an op whose output shape in the model does not follow from its inputs."""
    y = ctx.outputs[0]
    if expected is None or tuple(int(d) for d in expected) != tuple(y.shape):
        ctx.unsupported(
            f"an output shape {tuple(y.shape)} that does not follow from {what} "
            f"(expected {expected}); the model's shapes are inconsistent, as after a conversion "
            "with a dynamic batch dimension, whose placeholder shapes TFLM fixes at run time: "
            "convert the Keras model with a fixed batch size of 1"
        )


def _binary(ctx: EmitContext, kind: str) -> str:
    a, b = ctx.inputs[0], ctx.inputs[1]
    y = ctx.outputs[0]
    _int8(ctx, a, b, y)
    if a.quant.per_channel or b.quant.per_channel:
        ctx.unsupported("per-channel quantized inputs")
    try:
        expected = tuple(np.broadcast_shapes(tuple(a.shape), tuple(b.shape)))
    except ValueError:
        expected = None
    _check_shape(ctx, expected, f"broadcasting {tuple(a.shape)} with {tuple(b.shape)}")
    act = _activation(ctx)
    fn = add_params if kind == "add" else mul_params
    p = _struct(
        ctx, kind, f"tfle_{kind}_params", _guard(ctx, fn, a.tensor, b.tensor, y.tensor, act)
    )
    bc = _guard(ctx, broadcast_params, a.shape, b.shape, y.shape)
    bp = _struct(ctx, "bcast", "tfle_bcast", bc)
    return f"tfle_{kind}_s8(&{p}, &{bp}, {a.expr}, {b.expr}, {y.expr});"


@register_op("ADD")
def _emit_add(ctx: EmitContext) -> str:
    return _binary(ctx, "add")


@register_op("MUL")
def _emit_mul(ctx: EmitContext) -> str:
    return _binary(ctx, "mul")


@register_op("QUANTIZE")
def _emit_quantize(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    _int8(ctx, y)
    if x.dtype == np.float32:
        p = _struct(ctx, "quant", "tfle_affine_params", affine_params(y.tensor, y.size))
        return f"tfle_quantize_f32_s8(&{p}, {x.expr}, {y.expr});"
    _int8(ctx, x)
    p = _struct(ctx, "requant", "tfle_requant_params", requant_params(x.tensor, y.tensor))
    return f"tfle_requant_s8(&{p}, {x.expr}, {y.expr});"


@register_op("DEQUANTIZE")
def _emit_dequantize(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    _int8(ctx, x)
    if y.dtype != np.float32:
        ctx.unsupported(f"DEQUANTIZE to {y.dtype} (only int8 -> float32)")
    p = _struct(ctx, "dequant", "tfle_affine_params", affine_params(x.tensor, x.size))
    return f"tfle_dequantize_s8_f32(&{p}, {x.expr}, {y.expr});"


@register_op("RELU")
def _emit_relu(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    _int8(ctx, x, y)
    p = _struct(ctx, "relu", "tfle_requant_params", requant_params(x.tensor, y.tensor, relu=True))
    return f"tfle_requant_s8(&{p}, {x.expr}, {y.expr});"


@register_op("RELU6")
def _emit_relu6(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    _int8(ctx, x, y)
    lo, hi = relu6_bounds(x.tensor)
    ctx.require_header(HEADER)  # no parameter struct here to pull the header in
    return f"tfle_clamp_s8({x.size}, {lo}, {hi}, {x.expr}, {y.expr});"


@register_op("LEAKY_RELU")
def _emit_leaky_relu(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    _int8(ctx, x, y)
    alpha = float(ctx.options.get("alpha", 0.2))
    p = _struct(
        ctx, "leaky", "tfle_leaky_relu_params", leaky_relu_params(x.tensor, y.tensor, alpha)
    )
    return f"tfle_leaky_relu_s8(&{p}, {x.expr}, {y.expr});"


@register_op("HARD_SWISH")
def _emit_hard_swish(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    _int8(ctx, x, y)
    values = _guard(ctx, hard_swish_params, x.tensor, y.tensor)
    p = _struct(ctx, "hswish", "tfle_hard_swish_params", values)
    return f"tfle_hard_swish_s8(&{p}, {x.expr}, {y.expr});"


def _sigmoid(ctx: EmitContext, kind: str, out_scale: float, out_zp: int) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    _int8(ctx, x, y)
    if y.zero_point != out_zp or np.float32(y.scale) != np.float32(out_scale):
        ctx.unsupported(
            f"{kind} output quantized with scale {y.scale} zero point {y.zero_point} "
            f"(TFLM requires {out_scale} and {out_zp})"
        )
    p = _struct(ctx, kind, "tfle_sigmoid_params", sigmoid_params(x.tensor))
    return f"tfle_{kind}_s8(&{p}, {x.expr}, {y.expr});"


@register_op("LOGISTIC")
def _emit_logistic(ctx: EmitContext) -> str:
    return _sigmoid(ctx, "logistic", 1.0 / 256.0, -128)


@register_op("TANH")
def _emit_tanh(ctx: EmitContext) -> str:
    return _sigmoid(ctx, "tanh", 1.0 / 128.0, 0)


@register_op("CONCATENATION")
def _emit_concatenation(ctx: EmitContext) -> str:
    ins = [v for v in ctx.inputs if v is not None]
    y = ctx.outputs[0]
    if _activation(ctx) != "NONE":
        ctx.unsupported(f"a fused {_activation(ctx)} activation (TFLM allows none)")
    if any(v.dtype != y.dtype for v in ins):
        ctx.unsupported("inputs of different types")
    axis = int(ctx.options.get("axis", 0))
    outer, copy = _guard(
        ctx, concat_params, [v.shape for v in ins], y.shape, axis, y.dtype.itemsize
    )
    axis = axis + len(y.shape) if axis < 0 else axis
    if any(len(v.shape) != len(y.shape) for v in ins):
        ctx.unsupported("inputs of different ranks")
    expected = list(ins[0].shape)
    expected[axis] = sum(int(v.shape[axis]) for v in ins)
    _check_shape(ctx, tuple(expected), f"concatenating {[tuple(v.shape) for v in ins]}")
    ctx.require_header(HEADER)
    sizes = ctx.const_array("concat", np.array(copy, dtype=np.int32))
    return _concat_call([v.expr for v in ins], sizes, outer, y.expr)


def _concat_call(inputs: list[str], sizes: str, outer: int, out: str) -> str:
    ptrs = ", ".join(f"(const void *){e}" for e in inputs)
    return (
        "{\n"
        f"  const void *const in[{len(inputs)}] = {{{ptrs}}};\n"
        f"  tfle_concat({len(inputs)}, in, {sizes}, {outer}, (void *){out});\n"
        "}"
    )


def _emit_pad_common(ctx: EmitContext) -> str:
    x, paddings, y = ctx.inputs[0], ctx.inputs[1], ctx.outputs[0]
    _int8(ctx, x, y)
    if paddings is None or not paddings.is_constant:
        ctx.unsupported("paddings computed at run time (they must be a constant tensor)")
    value = y.zero_point
    if len(ctx.inputs) > 2 and ctx.inputs[2] is not None:
        cv = ctx.inputs[2]
        if not cv.is_constant:
            ctx.unsupported("a pad value computed at run time")
        value = int(np.asarray(cv.data).ravel()[0])
    values = _guard(ctx, pad_params, x.shape, paddings.data, value)
    lead = MAX_DIMS - len(x.shape)
    expected = tuple(
        i + b + a
        for i, b, a in zip(values["in_dims"], values["before"], values["after"], strict=True)
    )[lead:]
    _check_shape(ctx, expected, f"padding {tuple(x.shape)}")
    p = _struct(ctx, "pad", "tfle_pad_params", values)
    return f"tfle_pad_s8(&{p}, {x.expr}, {y.expr});"


@register_op("PAD")
def _emit_pad(ctx: EmitContext) -> str:
    return _emit_pad_common(ctx)


@register_op("PADV2")
def _emit_padv2(ctx: EmitContext) -> str:
    return _emit_pad_common(ctx)


def _reduce_shape_of(ctx: EmitContext) -> dict:
    x, axes = ctx.inputs[0], ctx.inputs[1]
    if axes is None or not axes.is_constant:
        ctx.unsupported("reduction axes computed at run time (they must be a constant tensor)")
    resolved = _guard(ctx, resolve_axes, axes.data, len(x.shape))
    shape = _guard(ctx, reduce_shape, x.shape, resolved)
    kept = int(np.prod(shape["kept_dims"][: shape["n_kept"]], dtype=np.int64))
    if kept != ctx.outputs[0].size:
        ctx.unsupported(
            f"an output of {ctx.outputs[0].size} elements from reducing {tuple(x.shape)} "
            f"over axes {resolved} (expected {kept})"
        )
    return shape


@register_op("MEAN")
def _emit_mean(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    _int8(ctx, x, y)
    # no axes: TFLM requantizes each element (a sum over one), which the kernel does too
    shape = _reduce_shape_of(ctx)
    s = _struct(ctx, "rshape", "tfle_reduce_shape", shape)
    p = _struct(
        ctx, "mean", "tfle_mean_params", mean_params(x.tensor, y.tensor, shape["num_reduced"])
    )
    return f"tfle_mean_s8(&{p}, &{s}, {x.expr}, {y.expr});"


@register_op("REDUCE_MAX")
def _emit_reduce_max(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    _int8(ctx, x, y)
    if x.zero_point != y.zero_point or np.float32(x.scale) != np.float32(y.scale):
        ctx.unsupported("different input and output quantization (TFLM requires the same)")
    s = _struct(ctx, "rshape", "tfle_reduce_shape", _reduce_shape_of(ctx))
    return f"tfle_reduce_max_s8(&{s}, {x.expr}, {y.expr});"


def _space_batch(ctx: EmitContext, kind: str) -> str:
    x, block, pads = ctx.inputs[0], ctx.inputs[1], ctx.inputs[2]
    y = ctx.outputs[0]
    _int8(ctx, x, y)
    if not (block.is_constant and pads.is_constant):
        ctx.unsupported("block shape or paddings computed at run time")
    values = _guard(ctx, space_batch_params, x.shape, y.shape, block.data, pads.data, y.zero_point)
    expected = space_batch_output_shape(kind, tuple(x.shape), block.data, pads.data)
    what = f"the input shape {tuple(x.shape)} and block {np.asarray(block.data).ravel().tolist()}"
    _check_shape(ctx, expected, what)
    p = _struct(ctx, kind, "tfle_space_batch_params", values)
    return f"tfle_{kind}_s8(&{p}, {x.expr}, {y.expr});"


@register_op("SPACE_TO_BATCH_ND")
def _emit_space_to_batch(ctx: EmitContext) -> str:
    return _space_batch(ctx, "space_to_batch")


@register_op("BATCH_TO_SPACE_ND")
def _emit_batch_to_space(ctx: EmitContext) -> str:
    return _space_batch(ctx, "batch_to_space")


def _alias(ctx: EmitContext) -> str:
    x, y = ctx.inputs[0], ctx.outputs[0]
    if x.nbytes != y.nbytes:
        ctx.unsupported(f"an output of {y.nbytes} bytes from an input of {x.nbytes} bytes")
    return ""


@register_op("EXPAND_DIMS", alias=True)
def _emit_expand_dims(ctx: EmitContext) -> str:
    return _alias(ctx)


@register_op("SQUEEZE", alias=True)
def _emit_squeeze(ctx: EmitContext) -> str:
    return _alias(ctx)
