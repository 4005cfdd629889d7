/* CONV_2D and DEPTHWISE_CONV_2D, int16 activations and int8 weights (16x8). Bit-exact with
 * TFLM's reference_integer_ops ConvPerChannel / DepthwiseConvPerChannel for int16: windows
 * clipped to the image, int64 accumulation of filter * input (no zero points), the int64
 * bias, then MultiplyByQuantizedMultiplier on int64 and the activation clamp. */
#include "tfle_s16.h"

static int16_t s16_out(int64_t acc, int32_t mult, int32_t shift, int32_t lo, int32_t hi) {
  return (int16_t)tfle_clamp_i32(tfle_quant_mul_s64(acc, mult, shift), lo, hi);
}

/* Runs BODY once per output pixel (b, oy, ox), with y0 / x0 the input position of the
 * window's top-left tap (before dilation) and `out` the pixel's output channels. */
#define S16_FOR_EACH_PIXEL(P, OUTPUT, BODY)                                            \
  do {                                                                                 \
    int32_t b, oy, ox;                                                                 \
    for (b = 0; b < (P)->batches; ++b) {                                               \
      for (oy = 0; oy < (P)->out_h; ++oy) {                                            \
        const int32_t y0 = oy * (P)->stride_h - (P)->pad_h;                            \
        for (ox = 0; ox < (P)->out_w; ++ox) {                                          \
          const int32_t x0 = ox * (P)->stride_w - (P)->pad_w;                          \
          int16_t *out = (OUTPUT) + ((b * (P)->out_h + oy) * (P)->out_w + ox) * (P)->out_c; \
          BODY                                                                         \
        }                                                                              \
      }                                                                                \
    }                                                                                  \
  } while (0)

void tfle_conv2d_s16(const tfle_conv_params *p, const int16_t *input, const int8_t *filter,
                     const int64_t *bias, const int32_t *mult, const int8_t *shift,
                     int16_t *output) {
  const int32_t fic = p->filter_in_c;
  const int32_t groups = p->in_c / fic;
  const int32_t per_group = p->out_c / groups;
  int32_t oc, ky, kx, ic;
  S16_FOR_EACH_PIXEL(p, output, {
    for (oc = 0; oc < p->out_c; ++oc) {
      const int32_t c0 = (oc / per_group) * fic;
      const int32_t q = p->per_channel ? oc : 0;
      int64_t acc = 0;
      for (ky = 0; ky < p->k_h; ++ky) {
        const int32_t iy = y0 + ky * p->dil_h;
        if (iy < 0 || iy >= p->in_h) continue;
        for (kx = 0; kx < p->k_w; ++kx) {
          const int32_t ix = x0 + kx * p->dil_w;
          const int16_t *px;
          const int8_t *w;
          if (ix < 0 || ix >= p->in_w) continue;
          px = input + ((b * p->in_h + iy) * p->in_w + ix) * p->in_c + c0;
          w = filter + ((oc * p->k_h + ky) * p->k_w + kx) * fic;
          for (ic = 0; ic < fic; ++ic) acc += (int32_t)w[ic] * (int32_t)px[ic];
        }
      }
      acc += bias[oc];
      out[oc] = s16_out(acc, mult[q], shift[q], p->act_min, p->act_max);
    }
  });
}

void tfle_depthwise_conv2d_s16(const tfle_conv_params *p, const int16_t *input,
                               const int8_t *filter, const int64_t *bias, const int32_t *mult,
                               const int8_t *shift, int16_t *output) {
  const int32_t dm = p->depth_multiplier;
  int32_t ic, m, ky, kx;
  S16_FOR_EACH_PIXEL(p, output, {
    for (ic = 0; ic < p->in_c; ++ic) {
      for (m = 0; m < dm; ++m) {
        const int32_t oc = ic * dm + m;
        const int32_t q = p->per_channel ? oc : 0;
        int64_t acc = 0;
        for (ky = 0; ky < p->k_h; ++ky) {
          const int32_t iy = y0 + ky * p->dil_h;
          if (iy < 0 || iy >= p->in_h) continue;
          for (kx = 0; kx < p->k_w; ++kx) {
            const int32_t ix = x0 + kx * p->dil_w;
            if (ix < 0 || ix >= p->in_w) continue;
            acc += (int32_t)filter[(ky * p->k_w + kx) * p->out_c + oc] *
                   (int32_t)input[((b * p->in_h + iy) * p->in_w + ix) * p->in_c + ic];
          }
        }
        acc += bias[oc];
        out[oc] = s16_out(acc, mult[q], shift[q], p->act_min, p->act_max);
      }
    }
  });
}
