/* ABS, int8. Bit-exact with TFLM's AbsEvalQuantized (kernels/elementwise.cc): the absolute
 * difference from the input zero point, rescaled with MultiplyByQuantizedMultiplier when the
 * scales differ, plus the output zero point, clamped to int8. */
#include "tfle_abs.h"

#include "tfle_math.h"

void tfle_abs_s8(const tfle_abs_params *p, const int8_t *x, int8_t *y) {
  int32_t i;
  for (i = 0; i < p->size; ++i) {
    const int32_t d = (int32_t)x[i] - p->input_zp;
    const int32_t v = d < 0 ? -d : d;
    const int32_t out =
      p->output_zp + (p->needs_rescale ? tfle_quant_mul(v, p->multiplier, p->shift) : v);
    y[i] = (int8_t)tfle_clamp_i32(out, -128, 127);
  }
}
