/* QUANTIZE (float32 -> int8 and int8 -> int8, which RELU also uses) and DEQUANTIZE, int8.
 * Bit-exact with TFLM's reference kernels: QUANTIZE's float path rounds like TFLM's float32
 * code, the int8 path requantizes as TFLM's Requantize does. */
#include "tfle_extra.h"

#include "tfle_math.h"

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

void tfle_requant_s8(const tfle_requant_params *p, const int8_t *x, int8_t *y) {
  int32_t i;
  for (i = 0; i < p->size; ++i) {
    const int32_t v = p->output_zp + tfle_quant_mul((int32_t)x[i] - p->input_zp, p->multiplier,
                        p->shift);
    y[i] = (int8_t)tfle_clamp_i32(v, p->act_min, p->act_max);
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
