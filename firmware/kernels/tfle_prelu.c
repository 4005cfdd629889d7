/* PRELU: TFLM's reference arithmetic per element, the output walked in order and x and
 * alpha through their broadcast strides. */
#include "tfle_prelu.h"

#include "tfle_math.h"

static inline int32_t tfle_prelu_one(const tfle_prelu_params *p, int32_t xv, int32_t av) {
  const int32_t in = p->input_offset + xv;
  int32_t out;
  if (in >= 0) {
    out = tfle_quant_mul(in, p->mult1, p->shift1);
  } else {
    out = tfle_quant_mul(in * (p->alpha_offset + av), p->mult2, p->shift2);
  }
  return tfle_clamp_i32(out + p->output_offset, p->qmin, p->qmax);
}

#define TFLE_PRELU(name, type)                                                         \
  void name(const tfle_prelu_params *p, const tfle_bcast *b, const type *x,             \
            const int8_t *alpha, type *y) {                                             \
    TFLE_BCAST_EACH(b, i, j1, j2, y[i] = (type)tfle_prelu_one(p, x[j1], alpha[j2]));    \
  }

TFLE_PRELU(tfle_prelu_s8, int8_t)
TFLE_PRELU(tfle_prelu_s16, int16_t)
