/* tflite-edge: int8 element-wise arithmetic, activations, QUANTIZE/DEQUANTIZE and MEAN.
 *
 * Bit-exact with TensorFlow Lite Micro's reference kernels: requantization and gemmlowp's
 * fixed-point math come from tfle_math.h; LOGISTIC/TANH follow gemmlowp's logistic()/tanh(),
 * HARD_SWISH TFLM's int16 path, and QUANTIZE's float path rounds like TFLM's float32 code.
 * Right shifts of negative values are arithmetic, as TFLM also assumes.
 */
#include "tfle_extra.h"

#include "tfle_math.h"

/* ---------------------------------------------------------------- fixed point */

/* gemmlowp one_minus_x_over_one_plus_x_for_x_in_0_1 (tanh's Newton-Raphson division) */
static int32_t x_one_minus_x_over_one_plus_x(int32_t a) {
  const int32_t one_q2 = (int32_t)1 << 29;
  const int32_t half_denominator = tfle_rounding_half_sum(a, TFLE_FP_ONE_Q0);
  int32_t x = tfle_wrap_add(1515870810, tfle_srdhm(half_denominator, -1010580540));
  int i;
  for (i = 0; i < 3; ++i) {
    const int32_t half_denominator_times_x = tfle_srdhm(half_denominator, x);
    const int32_t one_minus = tfle_wrap_sub(one_q2, half_denominator_times_x);
    x = tfle_wrap_add(x, tfle_srmbpot(tfle_srdhm(x, one_minus), 2));
  }
  return tfle_srmbpot(tfle_wrap_sub(x, one_q2), 2);
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

static int16_t x_srdhm16(int16_t a, int16_t b) {
  int32_t ab;
  int16_t nudge;
  if (a == b && a == -32768) {
    return 32767;
  }
  ab = (int32_t)a * (int32_t)b;
  nudge = ab >= 0 ? (int16_t)(1 << 14) : (int16_t)(1 - (1 << 14));
  return (int16_t)((ab + nudge) / (1 << 15));
}

/* SaturatingDoublingHighMul: like x_srdhm16 but rounding toward zero */
static int16_t x_sdhm16(int16_t a, int16_t b) {
  int32_t ab;
  if (a == b && a == -32768) {
    return 32767;
  }
  ab = (int32_t)a * (int32_t)b;
  return (int16_t)(ab / (1 << 15));
}

/* gemmlowp RoundingDivideByPOT instantiated for int16_t (mask and threshold are int16_t) */
static int16_t x_rdbypot16(int16_t x, int exponent) {
  const int16_t mask = (int16_t)(((int64_t)1 << exponent) - 1);
  const int16_t zero = 0;
  const int16_t one = 1;
  const int16_t remainder = (int16_t)(x & mask);
  const int16_t threshold = (int16_t)((mask >> 1) + ((x < zero) ? one : zero));
  return (int16_t)((x >> exponent) + ((remainder > threshold) ? one : zero));
}

static int16_t x_sat_shl16(int16_t value, int amount) {
  int64_t result = (int64_t)value * ((int64_t)1 << amount);
  if (result > 32767) {
    result = 32767;
  }
  if (result < -32768) {
    result = -32768;
  }
  return (int16_t)result;
}

/* ---------------------------------------------------------------- float rounding */

/* round half away from zero of a float, exactly (std::round / TfLiteRound) without libm */
static float x_roundf(float v) {
  float frac;
  int32_t i;
  /* |v| >= 2^23 is already an integer (and NaN compares false: returned unchanged) */
  if (!(v > -8388608.0f && v < 8388608.0f)) {
    return v;
  }
  i = (int32_t)v; /* truncation toward zero, exact here */
  frac = v - (float)i; /* exact: v and i share the exponent range */
  if (frac >= 0.5f) {
    ++i;
  } else if (frac <= -0.5f) {
    --i;
  }
  return (float)i;
}

/* ---------------------------------------------------------------- broadcasting */

typedef int8_t (*x_binary_fn)(const void *params, int8_t a, int8_t b);

static void x_binary(const void *params, const tfle_bcast *b, const int8_t *x1, const int8_t *x2,
           int8_t *y, x_binary_fn fn) {
  int32_t idx[TFLE_X_MAX_DIMS];
  int32_t off1 = 0, off2 = 0, i, d, n = b->size;
  if (!b->broadcast) {
    for (i = 0; i < n; ++i) {
      y[i] = fn(params, x1[i], x2[i]);
    }
    return;
  }
  for (d = 0; d < TFLE_X_MAX_DIMS; ++d) {
    idx[d] = 0;
  }
  /* odometer over the output, innermost dimension last; inputs follow their strides */
  for (i = 0; i < n; ++i) {
    y[i] = fn(params, x1[off1], x2[off2]);
    for (d = TFLE_X_MAX_DIMS - 1; d >= 0; --d) {
      off1 += b->stride1[d];
      off2 += b->stride2[d];
      if (++idx[d] < b->dims[d]) {
        break;
      }
      off1 -= b->stride1[d] * b->dims[d];
      off2 -= b->stride2[d] * b->dims[d];
      idx[d] = 0;
    }
  }
}

static int8_t x_add_one(const void *params, int8_t a, int8_t b) {
  const tfle_add_params *p = (const tfle_add_params *)params;
  const int32_t shifted1 = tfle_wrap_shl(p->input1_offset + a, p->left_shift);
  const int32_t shifted2 = tfle_wrap_shl(p->input2_offset + b, p->left_shift);
  const int32_t scaled1 = tfle_mbqm_lt_one(shifted1, p->input1_multiplier, p->input1_shift);
  const int32_t scaled2 = tfle_mbqm_lt_one(shifted2, p->input2_multiplier, p->input2_shift);
  const int32_t raw =
    tfle_mbqm_lt_one(scaled1 + scaled2, p->output_multiplier, p->output_shift) + p->output_offset;
  return (int8_t)tfle_clamp_i32(raw, p->act_min, p->act_max);
}

static int8_t x_mul_one(const void *params, int8_t a, int8_t b) {
  const tfle_mul_params *p = (const tfle_mul_params *)params;
  const int32_t v1 = p->input1_offset + a;
  const int32_t v2 = p->input2_offset + b;
  const int32_t raw = p->output_offset + tfle_mbqm(v1 * v2, p->output_multiplier, p->output_shift);
  return (int8_t)tfle_clamp_i32(raw, p->act_min, p->act_max);
}

void tfle_add_s8(const tfle_add_params *p, const tfle_bcast *b, const int8_t *x1,
         const int8_t *x2, int8_t *y) {
  x_binary(p, b, x1, x2, y, x_add_one);
}

void tfle_mul_s8(const tfle_mul_params *p, const tfle_bcast *b, const int8_t *x1,
         const int8_t *x2, int8_t *y) {
  x_binary(p, b, x1, x2, y, x_mul_one);
}

/* ---------------------------------------------------------------- unary */

void tfle_requant_s8(const tfle_requant_params *p, const int8_t *x, int8_t *y) {
  int32_t i;
  for (i = 0; i < p->size; ++i) {
    const int32_t v = p->output_zp + tfle_mbqm((int32_t)x[i] - p->input_zp, p->multiplier,
                        p->shift);
    y[i] = (int8_t)tfle_clamp_i32(v, p->act_min, p->act_max);
  }
}

void tfle_clamp_s8(int32_t size, int32_t lo, int32_t hi, const int8_t *x, int8_t *y) {
  int32_t i;
  for (i = 0; i < size; ++i) {
    y[i] = (int8_t)tfle_clamp_i32(x[i], lo, hi);
  }
}

void tfle_quantize_f32_s8(const tfle_affine_params *p, const float *x, int8_t *y) {
  int32_t i;
  for (i = 0; i < p->size; ++i) {
    const float r = x_roundf(x[i] / p->scale);
    float bounded = r;
    /* TFLM casts to int32 before adding the zero point, which is undefined out of range; any
     * |r| > 1024 saturates the int8 result anyway, so bound it first (and read NaN as 0). */
    if (r != r) {
      bounded = 0.0f;
    } else if (r > 1024.0f) {
      bounded = 1024.0f;
    } else if (r < -1024.0f) {
      bounded = -1024.0f;
    }
    const int32_t q = (int32_t)bounded + p->zero_point;
    y[i] = (int8_t)tfle_clamp_i32(q, -128, 127);
  }
}

void tfle_dequantize_s8_f32(const tfle_affine_params *p, const int8_t *x, float *y) {
  int32_t i;
  /* TFLM multiplies in double; the exact product of a float and a 9-bit integer rounds to
     * the same float as this single-precision multiply, so no double arithmetic is needed. */
  for (i = 0; i < p->size; ++i) {
    y[i] = p->scale * (float)((int32_t)x[i] - p->zero_point);
  }
}

void tfle_leaky_relu_s8(const tfle_leaky_relu_params *p, const int8_t *x, int8_t *y) {
  int32_t i;
  for (i = 0; i < p->size; ++i) {
    const int32_t v = (int32_t)x[i] - p->input_zp;
    int32_t out;
    if (v >= 0) {
      out = p->output_zp + tfle_mbqm(v, p->multiplier_identity, p->shift_identity);
    } else {
      out = p->output_zp + tfle_mbqm(v, p->multiplier_alpha, p->shift_alpha);
    }
    y[i] = (int8_t)tfle_clamp_i32(out, -128, 127);
  }
}

void tfle_hard_swish_s8(const tfle_hard_swish_params *p, const int8_t *x, int8_t *y) {
  const int16_t out_mult = (int16_t)p->output_multiplier_fixedpoint_int16;
  const int16_t relu_mult = (int16_t)p->reluish_multiplier_fixedpoint_int16;
  const int relu_exp = (int)p->reluish_multiplier_exponent;
  const int out_exp = (int)p->output_multiplier_exponent;
  int32_t i;
  for (i = 0; i < p->size; ++i) {
    const int16_t input_value = (int16_t)((int32_t)x[i] - p->input_zp);
    const int16_t hires = (int16_t)(input_value * (1 << 7));
    const int16_t preshift_output_scale = x_srdhm16(hires, out_mult);
    int16_t reluish = hires;
    int16_t preshift_output_value;
    int16_t output_value;
    if (relu_exp > 0) {
      reluish = x_sat_shl16(reluish, relu_exp - 1);
    }
    reluish = x_srdhm16(reluish, relu_mult);
    if (relu_exp > 0) {
      reluish = x_sat_shl16(reluish, 1);
    }
    if (relu_exp < 0) {
      reluish = x_rdbypot16(reluish, -relu_exp);
    }
    reluish = (int16_t)((reluish + (1 << 15)) >> 1);
    preshift_output_value = x_sdhm16(reluish, preshift_output_scale);
    output_value = x_rdbypot16(preshift_output_value, -out_exp);
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
      const int32_t in_q4 = tfle_mbqm(input, p->input_multiplier, p->input_left_shift);
      const int32_t out_q0 = x_logistic(in_q4, 4);
      const int32_t out = tfle_rdbpot(out_q0, 31 - 8) - 128;
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
      const int32_t in_q4 = tfle_mbqm(input, p->input_multiplier, p->input_left_shift);
      const int32_t out_q0 = x_tanh(in_q4, 4);
      const int32_t out = tfle_rdbpot(out_q0, 31 - 7);
      y[i] = (int8_t)tfle_clamp_i32(out, -128, 127);
    }
  }
}

/* ---------------------------------------------------------------- MEAN */

/* Sum of the reduced elements that start at x (an odometer over the reduced dims). */
static int32_t x_reduced_sum(const tfle_reduce_shape *s, const int8_t *x) {
  int32_t idx[TFLE_X_MAX_DIMS];
  int32_t off = 0, sum = 0, i, d;
  for (d = 0; d < s->n_reduced; ++d) {
    idx[d] = 0;
  }
  for (i = 0; i < s->num_reduced; ++i) {
    sum += x[off];
    for (d = s->n_reduced - 1; d >= 0; --d) {
      off += s->reduced_strides[d];
      if (++idx[d] < s->reduced_dims[d]) {
        break;
      }
      off -= s->reduced_strides[d] * s->reduced_dims[d];
      idx[d] = 0;
    }
  }
  return sum;
}

static int32_t x_kept_count(const tfle_reduce_shape *s) {
  int32_t n = 1, d;
  for (d = 0; d < s->n_kept; ++d) {
    n *= s->kept_dims[d];
  }
  return n;
}

/* Advance the kept-dims odometer; returns the input offset of the next output element. */
static int32_t x_kept_next(const tfle_reduce_shape *s, int32_t *idx, int32_t off) {
  int32_t d;
  for (d = s->n_kept - 1; d >= 0; --d) {
    off += s->kept_strides[d];
    if (++idx[d] < s->kept_dims[d]) {
      break;
    }
    off -= s->kept_strides[d] * s->kept_dims[d];
    idx[d] = 0;
  }
  return off;
}

void tfle_mean_s8(const tfle_mean_params *p, const tfle_reduce_shape *s, const int8_t *x,
          int8_t *y) {
  int32_t idx[TFLE_X_MAX_DIMS];
  const int32_t n_out = x_kept_count(s);
  int32_t off = 0, o, d;
  for (d = 0; d < TFLE_X_MAX_DIMS; ++d) {
    idx[d] = 0;
  }
  for (o = 0; o < n_out; ++o) {
    /* wraps like TFLM's static_cast<int32_t> of the int64 difference */
    const int32_t shifted = (int32_t)((int64_t)x_reduced_sum(s, x + off) -
                                      (int64_t)p->input_zp * s->num_reduced);
    const int32_t v = tfle_mbqm(shifted, p->multiplier, p->shift) + p->output_zp;
    y[o] = (int8_t)tfle_clamp_i32(v, -128, 127);
    off = x_kept_next(s, idx, off);
  }
}

void tfle_reduce_max_s8(const tfle_reduce_shape *s, const int8_t *x, int8_t *y) {
  int32_t idx[TFLE_X_MAX_DIMS], ridx[TFLE_X_MAX_DIMS];
  const int32_t n_out = x_kept_count(s);
  int32_t off = 0, o, d, i;
  for (d = 0; d < TFLE_X_MAX_DIMS; ++d) {
    idx[d] = 0;
  }
  for (o = 0; o < n_out; ++o) {
    int8_t m = -128;
    int32_t r = 0;
    for (d = 0; d < s->n_reduced; ++d) {
      ridx[d] = 0;
    }
    for (i = 0; i < s->num_reduced; ++i) {
      if (x[off + r] > m) {
        m = x[off + r];
      }
      for (d = s->n_reduced - 1; d >= 0; --d) {
        r += s->reduced_strides[d];
        if (++ridx[d] < s->reduced_dims[d]) {
          break;
        }
        r -= s->reduced_strides[d] * s->reduced_dims[d];
        ridx[d] = 0;
      }
    }
    y[o] = m;
    off = x_kept_next(s, idx, off);
  }
}
