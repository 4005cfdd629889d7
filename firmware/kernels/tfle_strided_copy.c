/* The strided copy of STRIDED_SLICE, SLICE, TRANSPOSE, SPLIT, SPLIT_V, PACK and UNPACK: an
 * odometer over the leading dimensions, the innermost one copied with memcpy when both sides
 * are contiguous along it. */
#include "tfle_strided_copy.h"

#include <string.h>

void tfle_strided_copy(const tfle_strided_copy_params *p, const void *x, void *y) {
  const unsigned char *xb = (const unsigned char *)x;
  unsigned char *yb = (unsigned char *)y;
  const int32_t last = TFLE_COPY_DIMS - 1;
  const int32_t inner = p->dims[last];
  const int32_t xs = p->x_strides[last], ys = p->y_strides[last];
  const size_t es = (size_t)p->elem_size;
  int32_t idx[TFLE_COPY_DIMS];
  int32_t rows = 1, r, d, i;
  int32_t xo = p->x_offset, yo = p->y_offset;
  for (d = 0; d < TFLE_COPY_DIMS; ++d) {
    if (p->dims[d] <= 0) {
      return;
    }
    idx[d] = 0;
  }
  for (d = 0; d < last; ++d) {
    rows *= p->dims[d];
  }
  for (r = 0; r < rows; ++r) {
    if (xs == 1 && ys == 1) {
      memcpy(yb + (size_t)yo * es, xb + (size_t)xo * es, (size_t)inner * es);
    } else if (es == 1) {
      for (i = 0; i < inner; ++i) {
        yb[yo + i * ys] = xb[xo + i * xs];
      }
    } else if (es == 2) {
      for (i = 0; i < inner; ++i) {
        memcpy(yb + (size_t)(yo + i * ys) * 2u, xb + (size_t)(xo + i * xs) * 2u, 2u);
      }
    } else {
      for (i = 0; i < inner; ++i) {
        memcpy(yb + (size_t)(yo + i * ys) * es, xb + (size_t)(xo + i * xs) * es, es);
      }
    }
    /* the next row: advance the odometer of the leading dimensions */
    for (d = last - 1; d >= 0; --d) {
      xo += p->x_strides[d];
      yo += p->y_strides[d];
      if (++idx[d] < p->dims[d]) {
        break;
      }
      xo -= p->x_strides[d] * p->dims[d];
      yo -= p->y_strides[d] * p->dims[d];
      idx[d] = 0;
    }
  }
}
