/* AVERAGE_POOL_2D and MAX_POOL_2D for one element type, shared by tfle_pool.c (int8) and
 * tfle_pool_s16.c (int16). Bit-exact with TFLM's reference_integer_ops AveragePool /
 * MaxPool: windows are clipped to the image (padding is not counted), the int32 average
 * rounds half away from zero, the maximum starts at the type's minimum (LOWEST). */
#ifndef TFLE_POOL_H
#define TFLE_POOL_H

#include "tfle_kernels.h"

/* The clipped window of output position (OY, OX): rows FY0..FY1-1 from input row Y0, columns
 * FX0..FX1-1 from input column X0; BODY runs once per (b, oy, ox). */
#define TFLE_POOL_WINDOWS(P, BODY)                                                    \
  int32_t b, oy, ox, c, fy, fx;                                                       \
  for (b = 0; b < (P)->batches; b++) {                                                \
    for (oy = 0; oy < (P)->out_h; oy++) {                                             \
      const int32_t y0 = oy * (P)->stride_h - (P)->pad_h;                             \
      const int32_t fy0 = tfle_max_i32(0, -y0);                                       \
      const int32_t fy1 = tfle_min_i32((P)->f_h, (P)->in_h - y0);                     \
      for (ox = 0; ox < (P)->out_w; ox++) {                                           \
        const int32_t x0 = ox * (P)->stride_w - (P)->pad_w;                           \
        const int32_t fx0 = tfle_max_i32(0, -x0);                                     \
        const int32_t fx1 = tfle_min_i32((P)->f_w, (P)->in_w - x0);                   \
        BODY                                                                          \
      }                                                                               \
    }                                                                                 \
  }

#define TFLE_POOL_DEFINE(AVG_NAME, MAX_NAME, T, LOWEST)                                     \
  void AVG_NAME(const tfle_pool_params *p, const T *input, T *output) {                     \
    TFLE_POOL_WINDOWS(p, {                                                                  \
      const int32_t count = (fy1 - fy0) * (fx1 - fx0);                                      \
      for (c = 0; c < p->channels; c++) {                                                   \
        int32_t acc = 0;                                                                    \
        for (fy = fy0; fy < fy1; fy++) {                                                    \
          const T *row = input + ((b * p->in_h + y0 + fy) * p->in_w + x0) * p->channels;    \
          for (fx = fx0; fx < fx1; fx++) acc += row[fx * p->channels + c];                  \
        }                                                                                   \
        if (count > 0) {                                                                    \
          acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;            \
        }                                                                                   \
        output[((b * p->out_h + oy) * p->out_w + ox) * p->channels + c] =                   \
            (T)tfle_clamp_i32(acc, p->act_min, p->act_max);                                 \
      }                                                                                     \
    })                                                                                      \
  }                                                                                         \
                                                                                            \
  void MAX_NAME(const tfle_pool_params *p, const T *input, T *output) {                     \
    TFLE_POOL_WINDOWS(p, {                                                                  \
      for (c = 0; c < p->channels; c++) {                                                   \
        int32_t m = (LOWEST);                                                               \
        for (fy = fy0; fy < fy1; fy++) {                                                    \
          const T *row = input + ((b * p->in_h + y0 + fy) * p->in_w + x0) * p->channels;    \
          for (fx = fx0; fx < fx1; fx++) m = tfle_max_i32(m, row[fx * p->channels + c]);    \
        }                                                                                   \
        output[((b * p->out_h + oy) * p->out_w + ox) * p->channels + c] =                   \
            (T)tfle_clamp_i32(m, p->act_min, p->act_max);                                   \
      }                                                                                     \
    })                                                                                      \
  }

#endif /* TFLE_POOL_H */
