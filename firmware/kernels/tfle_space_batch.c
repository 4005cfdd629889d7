/* SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND, int8 (values moved without arithmetic, as
 * TFLM's reference kernels). */
#include "tfle_extra.h"

#include <string.h>

/* Padding takes p->pad_value. TensorFlow Lite pads with the output zero point; TFLM means the
 * same (SpaceToBatchParams.output_offset) but never sets it, so it pads with its persistent
 * arena's fresh bytes: 0. The compiler passes 0, to match TFLM byte for byte. */
void tfle_space_to_batch_s8(const tfle_space_batch_params *p, const int8_t *x, int8_t *y) {
  const int32_t in_b = p->in_dims[0], in_h = p->in_dims[1], in_w = p->in_dims[2];
  const int32_t depth = p->in_dims[3];
  const int32_t out_b = p->out_dims[0], out_h = p->out_dims[1], out_w = p->out_dims[2];
  int32_t b, h, w;
  for (b = 0; b < out_b; ++b) {
    const int32_t input_batch = b % in_b;
    const int32_t shift_w = (b / in_b) % p->block_w;
    const int32_t shift_h = (b / in_b) / p->block_w;
    for (h = 0; h < out_h; ++h) {
      const int32_t src_h = h * p->block_h + shift_h - p->pad_top;
      for (w = 0; w < out_w; ++w) {
        const int32_t src_w = w * p->block_w + shift_w - p->pad_left;
        int8_t *out = y + ((b * out_h + h) * out_w + w) * depth;
        if (src_h < 0 || src_h >= in_h || src_w < 0 || src_w >= in_w) {
          memset(out, (unsigned char)(int8_t)p->pad_value, (size_t)depth);
        } else {
          const int8_t *in =
            x + ((input_batch * in_h + src_h) * in_w + src_w) * depth;
          memcpy(out, in, (size_t)depth);
        }
      }
    }
  }
}

void tfle_batch_to_space_s8(const tfle_space_batch_params *p, const int8_t *x, int8_t *y) {
  const int32_t in_b = p->in_dims[0], in_h = p->in_dims[1], in_w = p->in_dims[2];
  const int32_t depth = p->in_dims[3];
  const int32_t out_b = p->out_dims[0], out_h = p->out_dims[1], out_w = p->out_dims[2];
  int32_t b, h, w;
  for (b = 0; b < in_b; ++b) {
    const int32_t out_batch = b % out_b;
    const int32_t spatial = b / out_b;
    const int32_t offset_h = spatial / p->block_w;
    const int32_t offset_w = spatial % p->block_w;
    for (h = 0; h < in_h; ++h) {
      const int32_t dst_h = h * p->block_h + offset_h - p->pad_top;
      if (dst_h < 0 || dst_h >= out_h) {
        continue;
      }
      for (w = 0; w < in_w; ++w) {
        const int32_t dst_w = w * p->block_w + offset_w - p->pad_left;
        if (dst_w < 0 || dst_w >= out_w) {
          continue;
        }
        memcpy(y + ((out_batch * out_h + dst_h) * out_w + dst_w) * depth,
             x + ((b * in_h + h) * in_w + w) * depth, (size_t)depth);
      }
    }
  }
}
