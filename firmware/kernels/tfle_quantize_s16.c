/* QUANTIZE (float32 -> int16, int8 -> int16, int16 -> int8, int16 -> int16) and DEQUANTIZE
 * (int16 -> float32). Bit-exact with TFLM's quantize.cc / dequantize.cc: AffineQuantize rounds
 * x / scale (float32) half away from zero, Requantize is MultiplyByQuantizedMultiplier on
 * (x - input_zp) plus output_zp, clamped to the output type. */
#include "tfle_s16.h"

/* round half away from zero of a float, exactly (TfLiteRound) without libm; |v| >= 2^23 is
 * already an integer (NaN compares false and is returned unchanged) */
static float s16_roundf(float v) {
  float frac;
  int32_t i;
  if (!(v > -8388608.0f && v < 8388608.0f)) {
    return v;
  }
  i = (int32_t)v;
  frac = v - (float)i;
  if (frac >= 0.5f) {
    ++i;
  } else if (frac <= -0.5f) {
    --i;
  }
  return (float)i;
}

static int32_t requant_one(const tfle_requant_params *p, int32_t x) {
  const int32_t v = p->output_zp + tfle_quant_mul(x - p->input_zp, p->multiplier, p->shift);
  return tfle_clamp_i32(v, p->act_min, p->act_max);
}

void tfle_requant_s16_s16(const tfle_requant_params *p, const int16_t *x, int16_t *y) {
  int32_t i;
  for (i = 0; i < p->size; ++i) y[i] = (int16_t)requant_one(p, x[i]);
}

void tfle_requant_s8_s16(const tfle_requant_params *p, const int8_t *x, int16_t *y) {
  int32_t i;
  for (i = 0; i < p->size; ++i) y[i] = (int16_t)requant_one(p, x[i]);
}

void tfle_requant_s16_s8(const tfle_requant_params *p, const int16_t *x, int8_t *y) {
  int32_t i;
  for (i = 0; i < p->size; ++i) y[i] = (int8_t)requant_one(p, x[i]);
}

void tfle_quantize_f32_s16(const tfle_affine_params *p, const float *x, int16_t *y) {
  int32_t i;
  for (i = 0; i < p->size; ++i) {
    const float r = s16_roundf(x[i] / p->scale);
    float bounded = r;
    /* TFLM casts to int32 before adding the zero point, undefined out of range; any
     * |r| > 2^17 saturates the int16 result anyway, so bound it first (and read NaN as 0) */
    if (r != r) {
      bounded = 0.0f;
    } else if (r > 131072.0f) {
      bounded = 131072.0f;
    } else if (r < -131072.0f) {
      bounded = -131072.0f;
    }
    y[i] = (int16_t)tfle_clamp_i32((int32_t)bounded + p->zero_point, -32768, 32767);
  }
}

void tfle_dequantize_s16_f32(const tfle_affine_params *p, const int16_t *x, float *y) {
  int32_t i;
  /* TFLM multiplies in double and rounds to float: the exact product of a float and a 17-bit
   * integer rounds to the same float as this single-precision multiply. */
  for (i = 0; i < p->size; ++i) {
    y[i] = p->scale * (float)((int32_t)x[i] - p->zero_point);
  }
}
