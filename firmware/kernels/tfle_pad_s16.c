/* PAD and PADV2, int16: the input copied into the output filled with the pad value (no
 * arithmetic, as TFLM's reference kernel). */
#include "tfle_s16.h"

#include <string.h>

void tfle_pad_s16(const tfle_pad_params *p, const int16_t *x, int16_t *y) {
  int32_t out_strides[TFLE_X_MAX_DIMS], idx[TFLE_X_MAX_DIMS];
  int32_t total = 1, rows = 1, d, r, i;
  const int32_t inner = p->in_dims[TFLE_X_MAX_DIMS - 1];
  for (d = TFLE_X_MAX_DIMS - 1; d >= 0; --d) {
    out_strides[d] = total;
    total *= p->before[d] + p->in_dims[d] + p->after[d];
  }
  for (i = 0; i < total; ++i) y[i] = (int16_t)p->pad_value;
  for (d = 0; d < TFLE_X_MAX_DIMS - 1; ++d) {
    rows *= p->in_dims[d];
    idx[d] = 0;
  }
  if (inner == 0) {
    return;
  }
  /* copy each innermost input row to its place in the output */
  for (r = 0; r < rows; ++r) {
    int32_t off = p->before[TFLE_X_MAX_DIMS - 1];
    for (d = 0; d < TFLE_X_MAX_DIMS - 1; ++d) {
      off += (idx[d] + p->before[d]) * out_strides[d];
    }
    memcpy(y + off, x + (size_t)r * (size_t)inner, (size_t)inner * sizeof(int16_t));
    for (d = TFLE_X_MAX_DIMS - 2; d >= 0; --d) {
      if (++idx[d] < p->in_dims[d]) {
        break;
      }
      idx[d] = 0;
    }
  }
}
