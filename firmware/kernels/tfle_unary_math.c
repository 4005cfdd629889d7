/* ABS, RSQRT and the int8 lookup table: TFLM's elementwise.cc and elu.cc arithmetic. */
#include "tfle_unary_math.h"

#include "tfle_math.h"

static inline int32_t tfle_abs_one(const tfle_unary_math_params *p, int32_t xv) {
  int32_t v = xv - p->input_zp;
  v = v < 0 ? -v : v;
  if (p->needs_rescale) {
    v = tfle_quant_mul(v, p->multiplier, p->shift);
  }
  return tfle_clamp_i32(v + p->output_zp, p->qmin, p->qmax);
}

void tfle_abs_s8(const tfle_unary_math_params *p, const int8_t *x, int8_t *y) {
  int32_t i;
  for (i = 0; i < p->size; ++i) {
    y[i] = (int8_t)tfle_abs_one(p, x[i]);
  }
}

void tfle_abs_s16(const tfle_unary_math_params *p, const int16_t *x, int16_t *y) {
  int32_t i;
  for (i = 0; i < p->size; ++i) {
    y[i] = (int16_t)tfle_abs_one(p, x[i]);
  }
}

/* TFLM's GetInvSqrtQuantizedMultiplierExp with reverse_shift -1 (common.h), input >= 0:
 * a Newton-Raphson 1 / sqrt in gemmlowp fixed point with 3 integer bits. */
static void tfle_inv_sqrt(int32_t input, int32_t *inv_sqrt, int32_t *shift) {
  const int32_t half_three = ((int32_t)1 << 28) + ((int32_t)1 << 27); /* 1.5 in Q3 */
  const int32_t half_sqrt_2 = 1518500250;                              /* sqrt(2) / 2, Q0 */
  int32_t s = 11, fp_input, half_input, x, i;
  int left_pairs;
  if (input <= 1) {
    *inv_sqrt = INT32_MAX;
    *shift = 0;
    return;
  }
  while (input >= ((int32_t)1 << 29)) {
    input /= 4;
    ++s;
  }
  left_pairs = (tfle_clz32((uint32_t)input) - 1) / 2 - 1;
  s -= left_pairs;
  input = tfle_wrap_shl(input, 2 * left_pairs);
  fp_input = input >> 1;
  half_input = tfle_div_pow2_round(fp_input, 1);
  x = (int32_t)1 << 28; /* F3::One() */
  for (i = 0; i < 5; i++) {
    /* x * x * x is Q9, Rescale<3> multiplies by 2^6; the Q6 difference by 2^3 */
    const int32_t x3 = tfle_mul_pow2_sat(tfle_doubling_high_mul(tfle_doubling_high_mul(x, x), x), 6);
    x = tfle_mul_pow2_sat(tfle_wrap_sub(tfle_doubling_high_mul(half_three, x),
                                        tfle_doubling_high_mul(half_input, x3)),
                          3);
  }
  x = tfle_doubling_high_mul(x, half_sqrt_2);
  if (s < 0) {
    x = tfle_wrap_shl(x, -s);
    s = 0;
  }
  *inv_sqrt = x;
  *shift = -s;
}

void tfle_rsqrt_s8(const tfle_unary_math_params *p, const int8_t *x, int8_t *y) {
  const int32_t k_shift = 20;
  int32_t i;
  for (i = 0; i < p->size; ++i) {
    const int32_t v = x[i] - p->input_zp;
    int32_t m, s, data, out;
    if (v <= 0) {
      y[i] = (int8_t)p->qmax;
      continue;
    }
    tfle_inv_sqrt(v, &m, &s);
    data = tfle_quant_mul(1, m, s + k_shift);
    out = tfle_quant_mul(data, p->multiplier, p->shift - k_shift) + p->output_zp;
    y[i] = (int8_t)tfle_clamp_i32(out, p->qmin, p->qmax);
  }
}

void tfle_lut_s8(int32_t size, const int8_t *table, const int8_t *x, int8_t *y) {
  int32_t i;
  for (i = 0; i < size; ++i) {
    y[i] = table[(uint8_t)x[i]];
  }
}
