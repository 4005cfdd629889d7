/* QUANTIZE int8/int16 -> int32 and int32 -> int8/int16. Bit-exact with TFLM's Requantize: the
 * input less its zero point through MultiplyByQuantizedMultiplier, plus the output zero point,
 * clamped to the output type (the identity for int32). TFLM's int32 subtraction and addition
 * of the zero points wrap on the targets it runs on (two's complement), which tfle_wrap_add
 * and tfle_wrap_sub do without undefined behaviour. */
#include "tfle_quantize_s32.h"

#include "tfle_math.h"

static int32_t requant_s32(const tfle_requant_params *p, int32_t x) {
  return tfle_wrap_add(tfle_quant_mul(x - p->input_zp, p->multiplier, p->shift), p->output_zp);
}

void tfle_requant_s8_s32(const tfle_requant_params *p, const int8_t *x, int32_t *y) {
  int32_t i;
  for (i = 0; i < p->size; ++i) y[i] = requant_s32(p, x[i]);
}

void tfle_requant_s16_s32(const tfle_requant_params *p, const int16_t *x, int32_t *y) {
  int32_t i;
  for (i = 0; i < p->size; ++i) y[i] = requant_s32(p, x[i]);
}

static int32_t requant_from_s32(const tfle_requant_params *p, int32_t x) {
  const int32_t v = tfle_wrap_add(tfle_quant_mul(tfle_wrap_sub(x, p->input_zp), p->multiplier, p->shift),
                                  p->output_zp);
  return tfle_clamp_i32(v, p->act_min, p->act_max);
}

void tfle_requant_s32_s8(const tfle_requant_params *p, const int32_t *x, int8_t *y) {
  int32_t i;
  for (i = 0; i < p->size; ++i) y[i] = (int8_t)requant_from_s32(p, x[i]);
}

void tfle_requant_s32_s16(const tfle_requant_params *p, const int32_t *x, int16_t *y) {
  int32_t i;
  for (i = 0; i < p->size; ++i) y[i] = (int16_t)requant_from_s32(p, x[i]);
}
