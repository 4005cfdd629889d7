"""TFLM's quantization arithmetic, once each: rounding, multipliers, activation ranges.

Every function mirrors one TFLM (or gemmlowp) helper, named in its comment, with the same
float32/double choices, so that parameters computed here at compile time are bit-exact with
what TFLM's Prepare() computes at run time. Shared by the AOT compiler and its tests.
"""

from __future__ import annotations

import math

import numpy as np

from .reader import Tensor

# The fused activations TFLM clamps to (CalculateActivationRangeQuantized).
FUSED_ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


def tflite_round(x: float) -> int:
    """Round half away from zero (TFLM's TfLiteRound, std::round)."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_value(value: float, scale: float, zero_point: int) -> int:
    """zero_point + round(value / scale) with float32 division (TFLM's Quantize in
    CalculateActivationRangeQuantizedImpl, FloatToQuantizedType)."""
    return int(zero_point) + tflite_round(float(np.float32(value) / np.float32(scale)))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """A real multiplier as (int32 Q31 multiplier, shift), as TFLM's QuantizeMultiplier does.

    real == multiplier * 2**(shift - 31); shift > 0 is a left shift.
    """
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)  # real = q * 2**shift, q in [0.5, 1)
    q_fixed = tflite_round(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        shift = 30
        q_fixed = (1 << 31) - 1
    return int(q_fixed), int(shift)


def quantize_multiplier_greater_than_one(real: float) -> tuple[int, int]:
    """QuantizeMultiplier for real > 1: the shift is a left shift (TFLM's
    QuantizeMultiplierGreaterThanOne)."""
    m, s = quantize_multiplier(real)
    if s < 0:
        raise ValueError(f"multiplier {real} is not greater than one")
    return m, s


def quantize_multiplier_smaller_than_one(real: float) -> tuple[int, int]:
    """QuantizeMultiplier for real < 1: the shift is a right shift (TFLM's
    QuantizeMultiplierSmallerThanOneExp)."""
    m, s = quantize_multiplier(real)
    if s > 0:
        raise ValueError(f"multiplier {real} is not smaller than one")
    return m, s


def per_channel_multipliers(
    input_scale: float, filter_scales: np.ndarray, output_scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel (multiplier, shift) arrays for conv / depthwise / fully connected.

    TFLM's PopulateConvolutionQuantizationParams: the effective scale in double from float32
    scales, then QuantizeMultiplier per channel.
    """
    mults, shifts = [], []
    for fs in np.asarray(filter_scales, dtype=np.float32).ravel():
        eff = (
            float(np.float32(input_scale)) * float(np.float32(fs)) / float(np.float32(output_scale))
        )
        m, s = quantize_multiplier(eff)
        mults.append(m)
        shifts.append(s)
    return np.array(mults, dtype=np.int32), np.array(shifts, dtype=np.int32)


def downscale_int16_multiplier(m32: int) -> int:
    """A Q31 multiplier as a Q15 one (TFLM's DownScaleInt32ToInt16Multiplier)."""
    if m32 >= (2**31 - 1) - (1 << 15):
        return 32767
    return (m32 + (1 << 15)) >> 16


def calculate_input_radius(integer_bits: int, left_shift: int, total_signed_bits: int = 31) -> int:
    """The largest input difference a fixed-point exp/sigmoid sees (TFLM's
    CalculateInputRadius)."""
    max_input_rescaled = (
        1.0 * ((1 << integer_bits) - 1) * float(1 << (total_signed_bits - integer_bits))
    ) / math.ldexp(1.0, left_shift)
    return int(math.floor(max_input_rescaled))


def softmax_params(input_scale: float, beta: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, diff_min) of TFLM's int8 softmax.

    TFLM's PreprocessSoftmaxScaling with 5 integer bits of scaled difference, then
    diff_min = -CalculateInputRadius(5, left_shift).
    """
    integer_bits = 5
    real = min(
        float(beta) * float(np.float32(input_scale)) * float(1 << (31 - integer_bits)),
        float((1 << 31) - 1),
    )
    mult, shift = quantize_multiplier_greater_than_one(real)
    return mult, shift, -calculate_input_radius(integer_bits, shift)


def activation_range(
    activation: str | None, dtype: np.dtype, scale: float, zero_point: int
) -> tuple[int, int]:
    """Clamp range of a fused activation in the output's quantized domain (TFLM's
    CalculateActivationRangeQuantized): act_min = max(qmin, zp + round(0 / scale)) and so
    on, with float32 division and round-half-away-from-zero.

    Raises ValueError for an activation TFLM does not clamp to.
    """
    info = np.iinfo(dtype)
    qmin, qmax = int(info.min), int(info.max)

    def q(x: float) -> int:
        return quantize_value(x, scale, zero_point)

    act = activation or "NONE"
    if act == "NONE":
        return qmin, qmax
    if act == "RELU":
        return max(qmin, q(0.0)), qmax
    if act == "RELU6":
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if act == "RELU_N1_TO_1":
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    raise ValueError(f"the fused activation {act}")


def tensor_scale(t: Tensor) -> np.float32:
    """A quantized tensor's (first) scale as float32, the type TFLM keeps it in."""
    if t.quantization is None:
        raise ValueError(f"tensor {t.name!r} is not quantized")
    return np.float32(t.quantization.scale.ravel()[0])


def tensor_zero_point(t: Tensor) -> int:
    """A tensor's (first) zero point; 0 for an unquantized tensor."""
    return int(t.quantization.zero_point.ravel()[0]) if t.quantization is not None else 0


def activation_bounds(activation: str | None, out: Tensor) -> tuple[int, int]:
    """activation_range for an int8 output tensor; ValueError for an activation TFLM does
    not clamp to (CalculateActivationRangeQuantized)."""
    if (activation or "NONE") not in FUSED_ACTIVATIONS:
        raise ValueError(f"a fused {activation} activation (TFLM clamps only NONE/RELU*)")
    return activation_range(
        activation, np.dtype(np.int8), float(tensor_scale(out)), tensor_zero_point(out)
    )
