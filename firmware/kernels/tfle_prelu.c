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

#define TFLE_PRELU(name, type)                                                            \
  void name(const tfle_prelu_params *p, const tfle_bcast *b, const type *x,                \
            const int8_t *alpha, type *y) {                                                \
    int32_t idx[TFLE_X_MAX_DIMS];                                                          \
    int32_t off1 = 0, off2 = 0, i, d;                                                      \
    const int32_t n = b->size;                                                             \
    if (!b->broadcast) {                                                                   \
      for (i = 0; i < n; ++i) {                                                            \
        y[i] = (type)tfle_prelu_one(p, x[i], alpha[i]);                                    \
      }                                                                                    \
      return;                                                                              \
    }                                                                                      \
    for (d = 0; d < TFLE_X_MAX_DIMS; ++d) {                                                \
      idx[d] = 0;                                                                          \
    }                                                                                      \
    for (i = 0; i < n; ++i) {                                                              \
      y[i] = (type)tfle_prelu_one(p, x[off1], alpha[off2]);                                \
      for (d = TFLE_X_MAX_DIMS - 1; d >= 0; --d) {                                         \
        off1 += b->stride1[d];                                                             \
        off2 += b->stride2[d];                                                             \
        if (++idx[d] < b->dims[d]) {                                                       \
          break;                                                                           \
        }                                                                                  \
        off1 -= b->stride1[d] * b->dims[d];                                                \
        off2 -= b->stride2[d] * b->dims[d];                                                \
        idx[d] = 0;                                                                        \
      }                                                                                    \
    }                                                                                      \
  }

TFLE_PRELU(tfle_prelu_s8, int8_t)
TFLE_PRELU(tfle_prelu_s16, int16_t)
