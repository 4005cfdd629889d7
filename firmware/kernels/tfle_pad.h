/* PAD and PADV2 for one element type, shared by tfle_pad.c (int8) and tfle_pad_s16.c
 * (int16): the output filled with the pad value, then each innermost input row copied to
 * its place (no arithmetic, as TFLM's reference kernel). */
#ifndef TFLE_PAD_H
#define TFLE_PAD_H

#include <string.h>

#include "tfle_extra.h"

/* NAME(p, x, y) for element type T; FILL(y, total, value) writes the pad value into the
 * `total` output elements. */
#define TFLE_PAD_DEFINE(NAME, T, FILL)                                                        \
  void NAME(const tfle_pad_params *p, const T *x, T *y) {                                     \
    int32_t out_strides[TFLE_X_MAX_DIMS], idx[TFLE_X_MAX_DIMS];                               \
    int32_t total = 1, rows = 1, d, r;                                                        \
    const int32_t inner = p->in_dims[TFLE_X_MAX_DIMS - 1];                                    \
    for (d = TFLE_X_MAX_DIMS - 1; d >= 0; --d) {                                              \
      out_strides[d] = total;                                                                 \
      total *= p->before[d] + p->in_dims[d] + p->after[d];                                    \
    }                                                                                         \
    FILL(y, total, p->pad_value);                                                             \
    for (d = 0; d < TFLE_X_MAX_DIMS - 1; ++d) {                                               \
      rows *= p->in_dims[d];                                                                  \
      idx[d] = 0;                                                                             \
    }                                                                                         \
    if (inner == 0) {                                                                         \
      return;                                                                                 \
    }                                                                                         \
    /* copy each innermost input row to its place in the output */                           \
    for (r = 0; r < rows; ++r) {                                                              \
      int32_t off = p->before[TFLE_X_MAX_DIMS - 1];                                           \
      for (d = 0; d < TFLE_X_MAX_DIMS - 1; ++d) {                                             \
        off += (idx[d] + p->before[d]) * out_strides[d];                                      \
      }                                                                                       \
      memcpy(y + off, x + (size_t)r * (size_t)inner, (size_t)inner * sizeof(T));              \
      for (d = TFLE_X_MAX_DIMS - 2; d >= 0; --d) {                                            \
        if (++idx[d] < p->in_dims[d]) {                                                       \
          break;                                                                              \
        }                                                                                     \
        idx[d] = 0;                                                                           \
      }                                                                                       \
    }                                                                                         \
  }

#endif /* TFLE_PAD_H */
