/* AVERAGE_POOL_2D and MAX_POOL_2D, int16. Bit-exact with TFLM's reference_integer_ops
 * AveragePool / MaxPool for int16: windows clipped to the image, the int32 average rounded
 * half away from zero, the maximum starting at -32768. */
#include "tfle_s16.h"

void tfle_average_pool_s16(const tfle_pool_params *p, const int16_t *input, int16_t *output) {
  int32_t b, oy, ox, c, fy, fx;
  for (b = 0; b < p->batches; b++) {
    for (oy = 0; oy < p->out_h; oy++) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      const int32_t fy0 = tfle_max_i32(0, -y0);
      const int32_t fy1 = tfle_min_i32(p->f_h, p->in_h - y0);
      for (ox = 0; ox < p->out_w; ox++) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        const int32_t fx0 = tfle_max_i32(0, -x0);
        const int32_t fx1 = tfle_min_i32(p->f_w, p->in_w - x0);
        const int32_t count = (fy1 - fy0) * (fx1 - fx0);
        for (c = 0; c < p->channels; c++) {
          int32_t acc = 0;
          for (fy = fy0; fy < fy1; fy++) {
            const int16_t *row = input + ((b * p->in_h + y0 + fy) * p->in_w + x0) * p->channels;
            for (fx = fx0; fx < fx1; fx++) acc += row[fx * p->channels + c];
          }
          if (count > 0) {
            acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
          }
          output[((b * p->out_h + oy) * p->out_w + ox) * p->channels + c] =
              (int16_t)tfle_clamp_i32(acc, p->act_min, p->act_max);
        }
      }
    }
  }
}

void tfle_max_pool_s16(const tfle_pool_params *p, const int16_t *input, int16_t *output) {
  int32_t b, oy, ox, c, fy, fx;
  for (b = 0; b < p->batches; b++) {
    for (oy = 0; oy < p->out_h; oy++) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      const int32_t fy0 = tfle_max_i32(0, -y0);
      const int32_t fy1 = tfle_min_i32(p->f_h, p->in_h - y0);
      for (ox = 0; ox < p->out_w; ox++) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        const int32_t fx0 = tfle_max_i32(0, -x0);
        const int32_t fx1 = tfle_min_i32(p->f_w, p->in_w - x0);
        for (c = 0; c < p->channels; c++) {
          int32_t m = -32768;
          for (fy = fy0; fy < fy1; fy++) {
            const int16_t *row = input + ((b * p->in_h + y0 + fy) * p->in_w + x0) * p->channels;
            for (fx = fx0; fx < fx1; fx++) m = tfle_max_i32(m, row[fx * p->channels + c]);
          }
          output[((b * p->out_h + oy) * p->out_w + ox) * p->channels + c] =
              (int16_t)tfle_clamp_i32(m, p->act_min, p->act_max);
        }
      }
    }
  }
}
