/* MAXIMUM and MINIMUM: TFLM's `el1 > el2 ? el1 : el2` (and `<`) on the raw values, the
 * output walked in order and each input through its broadcast strides. */
#include "tfle_maximum_minimum.h"

#define TFLE_MINMAX(name, type, cmp)                                                   \
  void name(const tfle_bcast *b, const type *x1, const type *x2, type *y) {            \
    int32_t idx[TFLE_X_MAX_DIMS];                                                      \
    int32_t off1 = 0, off2 = 0, i, d;                                                  \
    const int32_t n = b->size;                                                         \
    if (!b->broadcast) {                                                               \
      for (i = 0; i < n; ++i) {                                                        \
        y[i] = x1[i] cmp x2[i] ? x1[i] : x2[i];                                        \
      }                                                                                \
      return;                                                                          \
    }                                                                                  \
    for (d = 0; d < TFLE_X_MAX_DIMS; ++d) {                                            \
      idx[d] = 0;                                                                      \
    }                                                                                  \
    for (i = 0; i < n; ++i) {                                                          \
      const type a = x1[off1], c = x2[off2];                                           \
      y[i] = a cmp c ? a : c;                                                          \
      for (d = TFLE_X_MAX_DIMS - 1; d >= 0; --d) {                                     \
        off1 += b->stride1[d];                                                         \
        off2 += b->stride2[d];                                                         \
        if (++idx[d] < b->dims[d]) {                                                   \
          break;                                                                       \
        }                                                                              \
        off1 -= b->stride1[d] * b->dims[d];                                            \
        off2 -= b->stride2[d] * b->dims[d];                                            \
        idx[d] = 0;                                                                    \
      }                                                                                \
    }                                                                                  \
  }

TFLE_MINMAX(tfle_maximum_s8, int8_t, >)
TFLE_MINMAX(tfle_minimum_s8, int8_t, <)
TFLE_MINMAX(tfle_maximum_s16, int16_t, >)
TFLE_MINMAX(tfle_minimum_s16, int16_t, <)
