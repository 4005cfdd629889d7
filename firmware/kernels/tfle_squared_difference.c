/* SQUARED_DIFFERENCE: TFLM's quantized arithmetic per element, the output walked in order
 * and each input through its broadcast strides. */
#include "tfle_squared_difference.h"

#include "tfle_math.h"

static inline int32_t tfle_sqdiff_one(const tfle_squared_difference_params *p, int32_t a,
                                      int32_t c) {
  const int32_t v1 = tfle_wrap_shl(p->input1_offset + a, p->left_shift);
  const int32_t v2 = tfle_wrap_shl(p->input2_offset + c, p->left_shift);
  const int32_t s1 = tfle_quant_mul_lt_one(v1, p->input1_multiplier, p->input1_shift);
  const int32_t s2 = tfle_quant_mul_lt_one(v2, p->input2_multiplier, p->input2_shift);
  const int32_t diff = tfle_wrap_sub(s1, s2);
  const int32_t sq = (int32_t)((uint32_t)diff * (uint32_t)diff);
  const int32_t out = tfle_quant_mul(sq, p->output_multiplier, p->output_shift) + p->output_offset;
  return tfle_clamp_i32(out, p->qmin, p->qmax);
}

#define TFLE_SQDIFF(name, type)                                                            \
  void name(const tfle_squared_difference_params *p, const tfle_bcast *b, const type *x1,   \
            const type *x2, type *y) {                                                      \
    int32_t idx[TFLE_X_MAX_DIMS];                                                           \
    int32_t off1 = 0, off2 = 0, i, d;                                                       \
    const int32_t n = b->size;                                                              \
    if (!b->broadcast) {                                                                    \
      for (i = 0; i < n; ++i) {                                                             \
        y[i] = (type)tfle_sqdiff_one(p, x1[i], x2[i]);                                      \
      }                                                                                     \
      return;                                                                               \
    }                                                                                       \
    for (d = 0; d < TFLE_X_MAX_DIMS; ++d) {                                                 \
      idx[d] = 0;                                                                           \
    }                                                                                       \
    for (i = 0; i < n; ++i) {                                                               \
      y[i] = (type)tfle_sqdiff_one(p, x1[off1], x2[off2]);                                  \
      for (d = TFLE_X_MAX_DIMS - 1; d >= 0; --d) {                                          \
        off1 += b->stride1[d];                                                              \
        off2 += b->stride2[d];                                                              \
        if (++idx[d] < b->dims[d]) {                                                        \
          break;                                                                            \
        }                                                                                   \
        off1 -= b->stride1[d] * b->dims[d];                                                 \
        off2 -= b->stride2[d] * b->dims[d];                                                 \
        idx[d] = 0;                                                                         \
      }                                                                                     \
    }                                                                                       \
  }

TFLE_SQDIFF(tfle_squared_difference_s8, int8_t)
TFLE_SQDIFF(tfle_squared_difference_s16, int16_t)
