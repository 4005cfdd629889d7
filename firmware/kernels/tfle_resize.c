/* RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR with compile-time tables (see tfle_resize.h). */
#include "tfle_resize.h"

#include <string.h>

#include "tfle_math.h"

void tfle_resize_nearest(const tfle_resize_nearest_params *p, const void *x,
                         const int32_t *row_offset, const int32_t *col_offset, void *y) {
  const uint8_t *in = (const uint8_t *)x;
  uint8_t *out = (uint8_t *)y;
  const size_t pixel = (size_t)p->pixel_bytes;
  int32_t b, oy, ox;
  for (b = 0; b < p->batches; ++b) {
    for (oy = 0; oy < p->out_h; ++oy) {
      const uint8_t *row = in + row_offset[oy];
      for (ox = 0; ox < p->out_w; ++ox) {
        memcpy(out, row + col_offset[ox], pixel);
        out += pixel;
      }
    }
    in += p->batch_bytes;
  }
}

void tfle_resize_bilinear_s8(const tfle_resize_bilinear_params *p, const int8_t *x,
                             const int32_t *rows, const int32_t *cols, int8_t *y) {
  const int32_t depth = p->depth;
  int32_t b, oy, ox, c;
  for (b = 0; b < p->batches; ++b) {
    for (oy = 0; oy < p->out_h; ++oy) {
      const int8_t *r0 = x + rows[3 * oy];
      const int8_t *r1 = x + rows[3 * oy + 1];
      const int64_t wy1 = rows[3 * oy + 2], wy0 = 1024 - wy1;
      for (ox = 0; ox < p->out_w; ++ox) {
        const int32_t c0 = cols[3 * ox], c1 = cols[3 * ox + 1];
        const int64_t wx1 = cols[3 * ox + 2], wx0 = 1024 - wx1;
        const int64_t w00 = wy0 * wx0, w10 = wy1 * wx0, w01 = wy0 * wx1, w11 = wy1 * wx1;
        for (c = 0; c < depth; ++c) {
          const int64_t out20 = r0[c0 + c] * w00 + r1[c0 + c] * w10 + r0[c1 + c] * w01 +
                                r1[c1 + c] * w11;
#if TFLE_SINGLE_ROUNDING
          *y++ = (int8_t)((out20 + (1 << 19)) >> 20);
#else
          const int64_t round = out20 > 0 ? (1 << 19) : -(1 << 19);
          *y++ = (int8_t)((out20 + round) / (1 << 20));
#endif
        }
      }
    }
    x += p->batch_size;
  }
}
