/* CONCATENATION: rows of each input copied in turn, any element type (no arithmetic, as
 * TFLM's reference kernel). */
#include "tfle_extra.h"

#include <string.h>

void tfle_concat(int32_t n_inputs, const void *const *inputs, const int32_t *copy_bytes,
         int32_t outer, void *y) {
  unsigned char *out = (unsigned char *)y;
  int32_t row, i;
  for (row = 0; row < outer; ++row) {
    for (i = 0; i < n_inputs; ++i) {
      const unsigned char *in = (const unsigned char *)inputs[i];
      const size_t n = (size_t)copy_bytes[i];
      memcpy(out, in + (size_t)row * n, n);
      out += n;
    }
  }
}
