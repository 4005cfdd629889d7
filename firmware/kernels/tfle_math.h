/* tflite-edge int8 kernels: the integer arithmetic of TensorFlow Lite Micro, in portable C99.
 *
 * Requantization (MultiplyByQuantizedMultiplier) and gemmlowp's fixed-point helpers, written
 * to round exactly as TFLM's reference kernels do, so that outputs match bit for bit.
 * Everything here is `static inline` so each kernel file can use it without a link cost.
 *
 * TFLM builds with double rounding by default (TFLITE_SINGLE_ROUNDING undefined or 0); define
 * TFLE_SINGLE_ROUNDING=1 to match a TFLM built with TFLITE_SINGLE_ROUNDING=1.
 */
#ifndef TFLE_MATH_H
#define TFLE_MATH_H

#include <stdint.h>
#include <string.h>

/* Cortex-M4/M7/M33/M55 have the DSP extension's dual 16-bit multiply-accumulate (SMLAD);
 * the dot product below uses it there, and plain C elsewhere (Cortex-M3, hosts). */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__ARM_FEATURE_UNALIGNED)
#include <arm_acle.h>
#define TFLE_HAVE_SMLAD 1
#else
#define TFLE_HAVE_SMLAD 0
#endif

#ifndef TFLE_SINGLE_ROUNDING
#define TFLE_SINGLE_ROUNDING 0
#endif

static inline int32_t tfle_min_i32(int32_t a, int32_t b) { return a < b ? a : b; }
static inline int32_t tfle_max_i32(int32_t a, int32_t b) { return a > b ? a : b; }

static inline int32_t tfle_clamp_i32(int32_t x, int32_t lo, int32_t hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

/* Wrapping int32 arithmetic: TFLM's accumulators wrap in practice; signed overflow is
 * undefined in C, so go through uint32_t. */
static inline int32_t tfle_wrap_add(int32_t a, int32_t b) {
  return (int32_t)((uint32_t)a + (uint32_t)b);
}

static inline int32_t tfle_wrap_sub(int32_t a, int32_t b) {
  return (int32_t)((uint32_t)a - (uint32_t)b);
}

static inline int32_t tfle_wrap_shl(int32_t x, int shift) {
  return (int32_t)((uint32_t)x << shift);
}

/* sum(a[i] * b[i]) over n int8 pairs, in int32 (exact: the sums wrap like TFLM's). */
static inline int32_t tfle_dot_s8(const int8_t *a, const int8_t *b, int32_t n) {
  int32_t acc = 0;
  int32_t i = 0;
#if TFLE_HAVE_SMLAD
  for (; i + 4 <= n; i += 4) {
    uint32_t x, y;
    memcpy(&x, a + i, 4);
    memcpy(&y, b + i, 4);
    /* bytes 0 and 2, then bytes 1 and 3, as pairs of signed halfwords */
    acc = __smlad(__sxtb16(x), __sxtb16(y), acc);
    acc = __smlad(__sxtb16(x >> 8), __sxtb16(y >> 8), acc);
  }
#else
  for (; i + 4 <= n; i += 4) {
    acc += (int32_t)a[i] * b[i] + (int32_t)a[i + 1] * b[i + 1] + (int32_t)a[i + 2] * b[i + 2] +
           (int32_t)a[i + 3] * b[i + 3];
  }
#endif
  for (; i < n; i++) acc += (int32_t)a[i] * b[i];
  return acc;
}

/* Number of leading zero bits; 32 for 0 (TFLM's CountLeadingZeros). */
static inline int tfle_clz32(uint32_t x) {
  int n = 0;
  if (x == 0) return 32;
  while ((x & 0x80000000u) == 0) {
    x <<= 1;
    n++;
  }
  return n;
}

/* gemmlowp SaturatingRoundingDoublingHighMul: (a * b * 2) >> 32, rounded, saturated. */
static inline int32_t tfle_doubling_high_mul(int32_t a, int32_t b) {
  int64_t ab;
  int64_t nudge;
  if (a == b && a == INT32_MIN) return INT32_MAX;
  ab = (int64_t)a * (int64_t)b;
  nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  /* C99 division truncates toward zero, as the C++ original does */
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from zero. */
static inline int32_t tfle_div_pow2_round(int32_t x, int exponent) {
  const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* gemmlowp SaturatingRoundingMultiplyByPOT for a run-time exponent of either sign. */
static inline int32_t tfle_mul_pow2_sat(int32_t x, int exponent) {
  if (exponent > 0) {
    const int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1u);
    if (x > threshold) return INT32_MAX;
    if (x < -threshold) return INT32_MIN;
    return tfle_wrap_shl(x, exponent);
  }
  if (exponent < 0) return tfle_div_pow2_round(x, -exponent);
  return x;
}

/* TFLM MultiplyByQuantizedMultiplier: x * multiplier * 2^(shift - 31), rounded. */
static inline int32_t tfle_quant_mul(int32_t x, int32_t multiplier, int32_t shift) {
#if TFLE_SINGLE_ROUNDING
  const int total_shift = 31 - shift;
  const int64_t round = (int64_t)1 << (total_shift - 1);
  return (int32_t)(((int64_t)x * multiplier + round) >> total_shift);
#else
  const int left_shift = shift > 0 ? shift : 0;
  const int right_shift = shift > 0 ? 0 : -shift;
  return tfle_div_pow2_round(tfle_doubling_high_mul(tfle_wrap_shl(x, left_shift), multiplier),
                             right_shift);
#endif
}

/* tfle_quant_mul for the kernels' hot path: the same result for every multiplier but INT32_MIN
 * (quantized multipliers are in [0, 2^31), so that case never arises). SRDHM's nudge-and-
 * truncate equals (a * b + 2^30) >> 31 for every product (one SMLAL on Cortex-M), and neither
 * shift needs a branch on the sign of `shift`. */
static inline int32_t tfle_requantize(int32_t x, int32_t multiplier, int32_t shift) {
#if TFLE_SINGLE_ROUNDING
  return tfle_quant_mul(x, multiplier, shift);
#else
  const int32_t left_shift = shift & ~(shift >> 31); /* max(shift, 0) */
  const int32_t right_shift = left_shift - shift;    /* max(-shift, 0) */
  const int64_t ab = (int64_t)tfle_wrap_shl(x, left_shift) * multiplier + ((int64_t)1 << 30);
  const int32_t high = (int32_t)(ab >> 31);
  const int32_t mask = (int32_t)((1u << right_shift) - 1u);
  const int32_t threshold = (mask >> 1) + (int32_t)((uint32_t)high >> 31);
  return (high >> right_shift) + ((high & mask) > threshold ? 1 : 0);
#endif
}

/* TFLM MultiplyByQuantizedMultiplierGreaterThanOne (left_shift >= 0). */
static inline int32_t tfle_quant_mul_gt_one(int32_t x, int32_t multiplier, int32_t left_shift) {
#if TFLE_SINGLE_ROUNDING
  return tfle_quant_mul(x, multiplier, left_shift);
#else
  return tfle_doubling_high_mul(tfle_wrap_shl(x, left_shift), multiplier);
#endif
}

/* TFLM MultiplyByQuantizedMultiplierSmallerThanOneExp (left_shift <= 0). */
static inline int32_t tfle_quant_mul_lt_one(int32_t x, int32_t multiplier, int32_t left_shift) {
#if TFLE_SINGLE_ROUNDING
  return tfle_quant_mul(x, multiplier, left_shift);
#else
  return tfle_div_pow2_round(tfle_doubling_high_mul(x, multiplier), -left_shift);
#endif
}

/* ---- gemmlowp fixed point (raw int32 values; "Qm" = m integer bits, 31 - m fraction) ---- */

#define TFLE_FP_ONE_Q0 INT32_MAX /* gemmlowp FixedPoint<int32_t, 0>::One() */

/* RoundingHalfSum: (a + b) / 2, rounded away from zero. */
static inline int32_t tfle_rounding_half_sum(int32_t a, int32_t b) {
  const int64_t sum = (int64_t)a + (int64_t)b;
  const int64_t sign = sum >= 0 ? 1 : -1;
  return (int32_t)((sum + sign) / 2);
}

/* exp(a) for a (Q0) in [-1/4, 0). */
static inline int32_t tfle_exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a) {
  const int32_t constant_term = 1895147668;    /* exp(-1/8) */
  const int32_t constant_1_over_3 = 715827883; /* 1/3 */
  const int32_t x = tfle_wrap_add(a, (int32_t)1 << 28);
  const int32_t x2 = tfle_doubling_high_mul(x, x);
  const int32_t x3 = tfle_doubling_high_mul(x2, x);
  const int32_t x4 = tfle_doubling_high_mul(x2, x2);
  const int32_t x4_over_4 = tfle_div_pow2_round(x4, 2);
  const int32_t poly = tfle_div_pow2_round(
      tfle_wrap_add(tfle_doubling_high_mul(tfle_wrap_add(x4_over_4, x3), constant_1_over_3), x2),
      1);
  return tfle_wrap_add(constant_term,
                       tfle_doubling_high_mul(constant_term, tfle_wrap_add(x, poly)));
}

/* exp(a) (Q0 result) for a <= 0 given with `integer_bits` integer bits. */
static inline int32_t tfle_exp_on_negative_values(int32_t a, int integer_bits) {
  static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308,
                                         39332535,   720401,     242};
  const int fractional_bits = 31 - integer_bits;
  const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
  const int32_t mask = one_quarter - 1;
  const int32_t a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter;
  int32_t result = tfle_exp_on_interval_between_negative_one_quarter_and_0_excl(
      tfle_mul_pow2_sat(a_mod_quarter_minus_one_quarter, integer_bits));
  const int32_t remainder = tfle_wrap_sub(a_mod_quarter_minus_one_quarter, a);
  int exponent;
  for (exponent = -2; exponent <= 4; exponent++) {
    if (integer_bits > exponent) {
      const int shift_amount = fractional_bits + exponent;
      if (remainder & ((int32_t)1 << shift_amount)) {
        result = tfle_doubling_high_mul(result, multipliers[exponent + 2]);
      }
    }
  }
  if (integer_bits > 5) {
    const int32_t clamp = -((int32_t)1 << (36 - integer_bits));
    if (a < clamp) result = 0;
  }
  if (a == 0) result = TFLE_FP_ONE_Q0;
  return result;
}

/* 1 / (1 + a) for a (Q0) in [0, 1): Newton-Raphson, Q0 result. */
static inline int32_t tfle_one_over_one_plus_x_for_x_in_0_1(int32_t a) {
  const int32_t half_denominator = tfle_rounding_half_sum(a, TFLE_FP_ONE_Q0);
  const int32_t constant_48_over_17 = 1515870810;     /* Q2 */
  const int32_t constant_neg_32_over_17 = -1010580540; /* Q2 */
  const int32_t one_q2 = (int32_t)1 << 29;
  int32_t x = tfle_wrap_add(constant_48_over_17,
                            tfle_doubling_high_mul(half_denominator, constant_neg_32_over_17));
  int i;
  for (i = 0; i < 3; i++) {
    const int32_t half_denominator_times_x = tfle_doubling_high_mul(half_denominator, x);
    const int32_t one_minus = tfle_wrap_sub(one_q2, half_denominator_times_x);
    /* Rescale<2> of a Q4 product: multiply by 2^(4 - 2) with saturation */
    x = tfle_wrap_add(x, tfle_mul_pow2_sat(tfle_doubling_high_mul(x, one_minus), 2));
  }
  /* ExactMulByPot<-1> then Rescale<0> from Q1: multiply by 2^1 with saturation */
  return tfle_mul_pow2_sat(x, 1);
}

/* TFLM GetReciprocal: 1 / x for x with x_integer_digits integer bits. */
static inline int32_t tfle_get_reciprocal(int32_t x, int x_integer_digits, int *num_bits_over_unit) {
  const int headroom_plus_one = tfle_clz32((uint32_t)x);
  const int32_t shifted_sum_minus_one =
      (int32_t)(((uint32_t)x << headroom_plus_one) - ((uint32_t)1 << 31));
  *num_bits_over_unit = x_integer_digits - headroom_plus_one;
  return tfle_one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
}

#endif /* TFLE_MATH_H */
