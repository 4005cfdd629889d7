/* RELU6 (a clamp), LEAKY_RELU, HARD_SWISH, LOGISTIC and TANH, int8; RELU, RELU6, LEAKY_RELU,
 * LOGISTIC and TANH, int16 (TFLM has no int16 HARD_SWISH).
 *
 * Bit-exact with TensorFlow Lite Micro's reference kernels: requantization and gemmlowp's
 * fixed-point math come from tfle_math.h; LOGISTIC/TANH follow gemmlowp's logistic()/tanh(),
 * HARD_SWISH TFLM's int16 path. Right shifts of negative values are arithmetic, as TFLM also
 * assumes. (RELU is tfle_requant_s8 in tfle_quantize.c.)
 */
#include "tfle_extra.h"

#include "tfle_math.h"

/* ---------------------------------------------------------------- fixed point */

/* gemmlowp one_minus_x_over_one_plus_x_for_x_in_0_1 (tanh's Newton-Raphson division) */
static int32_t x_one_minus_x_over_one_plus_x(int32_t a) {
  const int32_t one_q2 = (int32_t)1 << 29;
  const int32_t half_denominator = tfle_rounding_half_sum(a, TFLE_FP_ONE_Q0);
  int32_t x = tfle_wrap_add(1515870810, tfle_doubling_high_mul(half_denominator, -1010580540));
  int i;
  for (i = 0; i < 3; ++i) {
    const int32_t half_denominator_times_x = tfle_doubling_high_mul(half_denominator, x);
    const int32_t one_minus = tfle_wrap_sub(one_q2, half_denominator_times_x);
    x = tfle_wrap_add(x, tfle_mul_pow2_sat(tfle_doubling_high_mul(x, one_minus), 2));
  }
  return tfle_mul_pow2_sat(tfle_wrap_sub(x, one_q2), 2);
}

static int32_t x_logistic(int32_t a, int integer_bits) {
  const int32_t abs_input = a > 0 ? a : -a;
  const int32_t if_positive =
    tfle_one_over_one_plus_x_for_x_in_0_1(tfle_exp_on_negative_values(-abs_input, integer_bits));
  if (a == 0) {
    return (int32_t)1 << 30;
  }
  return a > 0 ? if_positive : TFLE_FP_ONE_Q0 - if_positive;
}

static int32_t x_tanh(int32_t a, int integer_bits) {
  const int32_t n = a < 0 ? a : -a;
  /* ExactMulByPot<1>: same raw value read with one more integer bit */
  const int32_t t = x_one_minus_x_over_one_plus_x(tfle_exp_on_negative_values(n, integer_bits + 1));
  if (a == 0) {
    return 0;
  }
  return a < 0 ? -t : t;
}

/* ---------------------------------------------------------------- int16 helpers (HARD_SWISH) */

/* gemmlowp SaturatingRoundingDoublingHighMul for int16_t: (a * b * 2) >> 16, rounded */
static int16_t x_doubling_high_mul16(int16_t a, int16_t b) {
  int32_t ab;
  int16_t nudge;
  if (a == b && a == -32768) {
    return 32767;
  }
  ab = (int32_t)a * (int32_t)b;
  nudge = ab >= 0 ? (int16_t)(1 << 14) : (int16_t)(1 - (1 << 14));
  return (int16_t)((ab + nudge) / (1 << 15));
}

/* TFLM SaturatingDoublingHighMul (int16_t): like x_doubling_high_mul16, rounding toward zero */
static int16_t x_doubling_high_mul16_trunc(int16_t a, int16_t b) {
  int32_t ab;
  if (a == b && a == -32768) {
    return 32767;
  }
  ab = (int32_t)a * (int32_t)b;
  return (int16_t)(ab / (1 << 15));
}

/* gemmlowp RoundingDivideByPOT instantiated for int16_t (mask and threshold are int16_t) */
static int16_t x_div_pow2_round16(int16_t x, int exponent) {
  const int16_t mask = (int16_t)(((int64_t)1 << exponent) - 1);
  const int16_t zero = 0;
  const int16_t one = 1;
  const int16_t remainder = (int16_t)(x & mask);
  const int16_t threshold = (int16_t)((mask >> 1) + ((x < zero) ? one : zero));
  return (int16_t)((x >> exponent) + ((remainder > threshold) ? one : zero));
}

/* gemmlowp SaturatingLeftShift for int16_t: value * 2^amount, saturated */
static int16_t x_shl_sat16(int16_t value, int amount) {
  int64_t result = (int64_t)value * ((int64_t)1 << amount);
  if (result > 32767) {
    result = 32767;
  }
  if (result < -32768) {
    result = -32768;
  }
  return (int16_t)result;
}

/* ---------------------------------------------------------------- unary */

/* Typed copies (int8 and int16) of the raw-value clamp (RELU / RELU6 when input and output
 * quantization agree) and LEAKY_RELU (TFLM's QuantizeLeakyRelu: identity or alpha multiplier
 * on the zero-point-free input, clamped to the type's range LO..HI). */
#define X_CLAMP(NAME, T)                                                           \
  void NAME(int32_t size, int32_t lo, int32_t hi, const T *x, T *y) {              \
    int32_t i;                                                                     \
    for (i = 0; i < size; ++i) {                                                   \
      y[i] = (T)tfle_clamp_i32(x[i], lo, hi);                                      \
    }                                                                              \
  }

#define X_LEAKY_RELU(NAME, T, LO, HI)                                                   \
  void NAME(const tfle_leaky_relu_params *p, const T *x, T *y) {                        \
    int32_t i;                                                                          \
    for (i = 0; i < p->size; ++i) {                                                     \
      const int32_t v = (int32_t)x[i] - p->input_zp;                                    \
      int32_t out;                                                                      \
      if (v >= 0) {                                                                     \
        out = p->output_zp + tfle_quant_mul(v, p->multiplier_identity, p->shift_identity); \
      } else {                                                                          \
        out = p->output_zp + tfle_quant_mul(v, p->multiplier_alpha, p->shift_alpha);    \
      }                                                                                 \
      y[i] = (T)tfle_clamp_i32(out, LO, HI);                                            \
    }                                                                                   \
  }

X_CLAMP(tfle_clamp_s8, int8_t)
X_LEAKY_RELU(tfle_leaky_relu_s8, int8_t, -128, 127)

void tfle_hard_swish_s8(const tfle_hard_swish_params *p, const int8_t *x, int8_t *y) {
  const int16_t out_mult = (int16_t)p->output_multiplier_fixedpoint_int16;
  const int16_t relu_mult = (int16_t)p->reluish_multiplier_fixedpoint_int16;
  const int relu_exp = (int)p->reluish_multiplier_exponent;
  const int out_exp = (int)p->output_multiplier_exponent;
  int32_t i;
  for (i = 0; i < p->size; ++i) {
    const int16_t input_value = (int16_t)((int32_t)x[i] - p->input_zp);
    const int16_t hires = (int16_t)(input_value * (1 << 7));
    const int16_t preshift_output_scale = x_doubling_high_mul16(hires, out_mult);
    int16_t reluish = hires;
    int16_t preshift_output_value;
    int16_t output_value;
    if (relu_exp > 0) {
      reluish = x_shl_sat16(reluish, relu_exp - 1);
    }
    reluish = x_doubling_high_mul16(reluish, relu_mult);
    if (relu_exp > 0) {
      reluish = x_shl_sat16(reluish, 1);
    }
    if (relu_exp < 0) {
      reluish = x_div_pow2_round16(reluish, -relu_exp);
    }
    reluish = (int16_t)((reluish + (1 << 15)) >> 1);
    preshift_output_value = x_doubling_high_mul16_trunc(reluish, preshift_output_scale);
    output_value = x_div_pow2_round16(preshift_output_value, -out_exp);
    output_value = (int16_t)(output_value + p->output_zp);
    y[i] = (int8_t)tfle_clamp_i32(output_value, -128, 127);
  }
}

void tfle_logistic_s8(const tfle_sigmoid_params *p, const int8_t *x, int8_t *y) {
  int32_t i;
  for (i = 0; i < p->size; ++i) {
    const int32_t input = (int32_t)x[i] - p->input_zp;
    if (input <= -p->input_range_radius) {
      y[i] = -128;
    } else if (input >= p->input_range_radius) {
      y[i] = 127;
    } else {
      const int32_t in_q4 = tfle_quant_mul(input, p->input_multiplier, p->input_left_shift);
      const int32_t out_q0 = x_logistic(in_q4, 4);
      const int32_t out = tfle_div_pow2_round(out_q0, 31 - 8) - 128;
      y[i] = (int8_t)tfle_clamp_i32(out, -128, 127);
    }
  }
}

void tfle_tanh_s8(const tfle_sigmoid_params *p, const int8_t *x, int8_t *y) {
  int32_t i;
  for (i = 0; i < p->size; ++i) {
    const int32_t input = (int32_t)x[i] - p->input_zp;
    if (input <= -p->input_range_radius) {
      y[i] = -128;
    } else if (input >= p->input_range_radius) {
      y[i] = 127;
    } else {
      const int32_t in_q4 = tfle_quant_mul(input, p->input_multiplier, p->input_left_shift);
      const int32_t out_q0 = x_tanh(in_q4, 4);
      const int32_t out = tfle_div_pow2_round(out_q0, 31 - 7);
      y[i] = (int8_t)tfle_clamp_i32(out, -128, 127);
    }
  }
}

/* ---------------------------------------------------------------- int16 */

X_CLAMP(tfle_clamp_s16, int16_t)

/* TFLM's ReluQuantized<int16_t>: requantize, then clamp to [act_min, act_max]. */
void tfle_relu_s16(const tfle_requant_params *p, const int16_t *x, int16_t *y) {
  int32_t i;
  for (i = 0; i < p->size; ++i) {
    const int32_t v =
      p->output_zp + tfle_quant_mul((int32_t)x[i] - p->input_zp, p->multiplier, p->shift);
    y[i] = (int16_t)tfle_clamp_i32(v, p->act_min, p->act_max);
  }
}

X_LEAKY_RELU(tfle_leaky_relu_s16, int16_t, -32768, 32767)

/* The input in the table's scale (3 * 4096 per unit): (x * multiplier + round) >> shift,
 * where a power-of-two input scale was folded into the multiplier at compile time. */
static int32_t x_sigmoid16_input(const tfle_sigmoid16_params *p, int16_t x) {
  const int32_t shift = p->input_left_shift;
  const int32_t round = shift > 0 ? (int32_t)1 << (shift - 1) : 0;
  return ((int32_t)x * p->input_multiplier + round) >> shift;
}

/* TFLM's reference_integer_ops::Logistic for int16: linear interpolation on |x| in the
 * 256-entry sigmoid table (unsigned Q0.16 samples of sigmoid(i / 24), made at compile time)
 * with 9 fraction bits, mirrored for negative inputs; output scale 2^-15, zero point 0. */
void tfle_logistic_s16(const tfle_sigmoid16_params *p, const uint16_t *table, const int16_t *x,
               int16_t *y) {
  int32_t i;
  for (i = 0; i < p->size; ++i) {
    const int32_t input = x_sigmoid16_input(p, x[i]);
    const uint32_t abs_input = (uint32_t)(input < 0 ? -input : input);
    const uint32_t uh = abs_input >> 9;
    uint32_t result;
    if (uh >= 255) {
      result = (uint32_t)0x7FFF << 10;
    } else {
      const uint32_t ua = table[uh];
      const uint32_t ub = table[uh + 1];
      const uint32_t ut = abs_input & 0x1ff;
      result = (ua << 9) + ut * (ub - ua);
    }
    result = input >= 0 ? result + (1u << 9) : (1u << (16 + 9)) - result + (1u << 9) - 1u;
    y[i] = (int16_t)(result >> 10);
  }
}

/* TFLM's reference_integer_ops::Tanh for int16: tanh(x) = 2 * sigmoid(2x) - 1 from the same
 * table, 8 fraction bits; output scale 2^-15, zero point 0. */
void tfle_tanh_s16(const tfle_sigmoid16_params *p, const uint16_t *table, const int16_t *x,
           int16_t *y) {
  int32_t i;
  for (i = 0; i < p->size; ++i) {
    const int32_t input = x_sigmoid16_input(p, x[i]);
    const uint32_t abs_input = (uint32_t)(input < 0 ? -input : input);
    const uint32_t uh = abs_input >> 8;
    int32_t result;
    if (uh >= 255) {
      result = (int32_t)((uint32_t)0xFFFF << 8);
    } else {
      const uint32_t ua = table[uh];
      const uint32_t ub = table[uh + 1];
      const uint32_t ut = abs_input & 0xFF;
      result = (int32_t)((ua << 8) + ut * (ub - ua));
    }
    result = input >= 0 ? result - (1 << (14 + 9)) + (1 << (9 - 2))
                        : -result + (1 << (14 + 9)) + (1 << (9 - 2)) - 1;
    y[i] = (int16_t)(result >> (9 - 1));
  }
}
