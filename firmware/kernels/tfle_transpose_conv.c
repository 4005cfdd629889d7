/* TRANSPOSE_CONV, int8 and 16x8, gathered per output value (see tfle_transpose_conv.h). */
#include "tfle_transpose_conv.h"

#include "tfle_math.h"

/* The first filter row (or column) whose tap lands on output row `o`, and its input row:
 * o = i * stride - pad + f, so f runs down from the first f with (o + pad - f) % stride == 0,
 * in steps of stride, while 0 <= i < in_size. */
static int32_t first_tap(int32_t o, int32_t pad, int32_t stride) { return (o + pad) % stride; }

/* TFLM's MultiplyByQuantizedMultiplier(int64_t x, ...): the multiplier reduced to 16 bits,
 * one rounding shift (the same with single and double rounding). */
static int32_t quant_mul_s64(int64_t x, int32_t multiplier, int32_t shift) {
  const int32_t reduced = multiplier < 0x7FFF0000 ? (multiplier + (1 << 15)) >> 16 : 0x7FFF;
  const int32_t total_shift = 15 - shift;
  const int64_t round = (int64_t)1 << (total_shift - 1);
  return (int32_t)((x * (int64_t)reduced + round) >> total_shift);
}

void tfle_transpose_conv_s8(const tfle_transpose_conv_params *p, const int8_t *x,
                            const int8_t *filter, const int32_t *filter_sum, const int32_t *bias,
                            const int32_t *mult, const int8_t *shift, int8_t *y) {
  const int32_t in_c = p->in_c, out_c = p->out_c;
  const int32_t tap_stride = p->k_h * p->k_w * in_c;
  int32_t b, oy, ox, oc;
  for (b = 0; b < p->batches; ++b) {
    const int8_t *xb = x + (int32_t)b * p->in_h * p->in_w * in_c;
    for (oy = 0; oy < p->out_h; ++oy) {
      for (ox = 0; ox < p->out_w; ++ox) {
        for (oc = 0; oc < out_c; ++oc) {
          const int8_t *w_oc = filter + (int32_t)oc * tap_stride;
          const int32_t *s_oc = filter_sum + (int32_t)oc * p->k_h * p->k_w;
          const int32_t ch = p->per_channel ? oc : 0;
          int32_t acc = 0, fy, fx;
          for (fy = first_tap(oy, p->pad_h, p->stride_h); fy < p->k_h; fy += p->stride_h) {
            const int32_t iy = (oy + p->pad_h - fy) / p->stride_h;
            if (iy < 0) break;
            if (iy >= p->in_h) continue;
            for (fx = first_tap(ox, p->pad_w, p->stride_w); fx < p->k_w; fx += p->stride_w) {
              const int32_t ix = (ox + p->pad_w - fx) / p->stride_w;
              const int32_t tap = fy * p->k_w + fx;
              if (ix < 0) break;
              if (ix >= p->in_w) continue;
              acc = tfle_wrap_add(acc, tfle_dot_s8(xb + (iy * p->in_w + ix) * in_c,
                                                   w_oc + tap * in_c, in_c));
              acc = tfle_wrap_add(acc, (int32_t)((uint32_t)p->input_offset *
                                                 (uint32_t)s_oc[tap]));
            }
          }
          if (bias) acc = tfle_wrap_add(acc, bias[oc]);
          acc = tfle_quant_mul(acc, mult[ch], shift[ch]);
          acc += p->output_offset;
          *y++ = (int8_t)tfle_clamp_i32(acc, p->act_min, p->act_max);
        }
      }
    }
  }
}

void tfle_transpose_conv_s16(const tfle_transpose_conv_params *p, const int16_t *x,
                             const int8_t *filter, const int64_t *bias, const int32_t *mult,
                             const int8_t *shift, int16_t *y) {
  const int32_t in_c = p->in_c, out_c = p->out_c;
  const int32_t tap_stride = p->k_h * p->k_w * in_c;
  int32_t b, oy, ox, oc, c;
  for (b = 0; b < p->batches; ++b) {
    const int16_t *xb = x + (int32_t)b * p->in_h * p->in_w * in_c;
    for (oy = 0; oy < p->out_h; ++oy) {
      for (ox = 0; ox < p->out_w; ++ox) {
        for (oc = 0; oc < out_c; ++oc) {
          const int8_t *w_oc = filter + (int32_t)oc * tap_stride;
          const int32_t ch = p->per_channel ? oc : 0;
          int64_t acc = 0;
          int32_t fy, fx, out;
          for (fy = first_tap(oy, p->pad_h, p->stride_h); fy < p->k_h; fy += p->stride_h) {
            const int32_t iy = (oy + p->pad_h - fy) / p->stride_h;
            if (iy < 0) break;
            if (iy >= p->in_h) continue;
            for (fx = first_tap(ox, p->pad_w, p->stride_w); fx < p->k_w; fx += p->stride_w) {
              const int32_t ix = (ox + p->pad_w - fx) / p->stride_w;
              const int16_t *xp;
              const int8_t *wp;
              if (ix < 0) break;
              if (ix >= p->in_w) continue;
              xp = xb + (iy * p->in_w + ix) * in_c;
              wp = w_oc + (fy * p->k_w + fx) * in_c;
              for (c = 0; c < in_c; ++c) acc += (int32_t)xp[c] * wp[c];
            }
          }
          if (bias) acc += bias[oc];
          out = quant_mul_s64(acc, mult[ch], shift[ch]);
          *y++ = (int16_t)tfle_clamp_i32(out, p->act_min, p->act_max);
        }
      }
    }
  }
}
