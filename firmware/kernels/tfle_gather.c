/* GATHER: rows of the input selected by the indices, copied in TFLM's order. */
#include "tfle_gather.h"

#include <string.h>

void tfle_gather(const tfle_gather_params *p, const void *x, const int32_t *coords, void *y) {
  const unsigned char *xb = (const unsigned char *)x;
  unsigned char *yb = (unsigned char *)y;
  const size_t row = (size_t)p->inner_size * (size_t)p->elem_size;
  int32_t batch, outer, c;
  for (batch = 0; batch < p->batch_size; ++batch) {
    for (outer = 0; outer < p->outer_size; ++outer) {
      const size_t base = (size_t)(batch * p->outer_size + outer);
      for (c = 0; c < p->coord_size; ++c) {
        const int32_t k = coords[batch * p->coord_size + c];
        unsigned char *dst = yb + (base * (size_t)p->coord_size + (size_t)c) * row;
        if (k < 0 || k >= p->axis_size) {
          memset(dst, 0, row);
        } else {
          memcpy(dst, xb + (base * (size_t)p->axis_size + (size_t)k) * row, row);
        }
      }
    }
  }
}
