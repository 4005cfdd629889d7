"""Quantization arithmetic shared by the AOT compiler and its tests (TFLM's integer rules)."""

from __future__ import annotations

import math

import numpy as np


def quantize_multiplier(real: float) -> tuple[int, int]:
    """A real multiplier as (int32 Q31 multiplier, shift), as TFLM's QuantizeMultiplier does.

    real == multiplier * 2**(shift - 31); shift > 0 is a left shift.
    """
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)  # real = q * 2**shift, q in [0.5, 1)
    # TFLM rounds with TfLiteRound (half away from zero)
    q_fixed = int(np.sign(q) * math.floor(abs(q) * (1 << 31) + 0.5))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        shift = 30
        q_fixed = (1 << 31) - 1
    return int(q_fixed), int(shift)


def per_channel_multipliers(
    input_scale: float, filter_scales: np.ndarray, output_scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel (multiplier, shift) arrays for conv / depthwise / fully connected.

    TFLM computes the effective scale in double from float32 scales.
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
