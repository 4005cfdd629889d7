/* QUANTIZE int8 -> int32 and int16 -> int32. Bit-exact with TFLM's Requantize: the input less
 * its zero point through MultiplyByQuantizedMultiplier, plus the output zero point. The clamp
 * to the int32 range is the identity; TFLM's int32 addition of the zero point wraps on the
 * targets it runs on (two's complement), which tfle_wrap_add does without undefined
 * behaviour. */
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
