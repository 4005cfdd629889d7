/* CONV_2D and DEPTHWISE_CONV_2D, int8, per-channel or per-tensor requantization.
 * Bit-exact with TFLM's reference_integer_ops::ConvPerChannel / DepthwiseConvPerChannel:
 * taps that fall in the padding contribute nothing (not the zero point), the bias is added
 * before requantization, then the output offset and the activation clamp. */
#include "tfle_kernels.h"

static inline int32_t requantize(const tfle_conv_params *p, int32_t acc, const int32_t *bias,
                                 const int32_t *mult, const int8_t *shift, int32_t ch) {
  const int32_t q = p->per_channel ? ch : 0;
  if (bias) acc = tfle_wrap_add(acc, bias[ch]);
  acc = tfle_mbqm(acc, mult[q], shift[q]);
  acc += p->output_offset;
  return tfle_clamp_i32(acc, p->act_min, p->act_max);
}

void tfle_conv2d_s8(const tfle_conv_params *p, const int8_t *input, const int8_t *filter,
                    const int32_t *bias, const int32_t *mult, const int8_t *shift,
                    int8_t *output) {
  const int32_t fic = p->filter_in_c;
  const int32_t groups = p->in_c / fic;
  const int32_t filters_per_group = p->out_c / groups;
  int32_t b, oy, ox, oc, ky, kx, ic;
  for (b = 0; b < p->batches; b++) {
    const int8_t *in_b = input + (int32_t)b * p->in_h * p->in_w * p->in_c;
    for (oy = 0; oy < p->out_h; oy++) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      for (ox = 0; ox < p->out_w; ox++) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
        for (oc = 0; oc < p->out_c; oc++) {
          const int32_t group_base = (oc / filters_per_group) * fic;
          const int8_t *f_oc = filter + oc * p->k_h * p->k_w * fic;
          int32_t acc = 0;
          for (ky = 0; ky < p->k_h; ky++) {
            const int32_t iy = y0 + p->dil_h * ky;
            if (iy < 0 || iy >= p->in_h) continue;
            for (kx = 0; kx < p->k_w; kx++) {
              const int32_t ix = x0 + p->dil_w * kx;
              const int8_t *in_px;
              const int8_t *f_px;
              if (ix < 0 || ix >= p->in_w) continue;
              in_px = in_b + (iy * p->in_w + ix) * p->in_c + group_base;
              f_px = f_oc + (ky * p->k_w + kx) * fic;
              for (ic = 0; ic < fic; ic++) {
                acc += (int32_t)f_px[ic] * ((int32_t)in_px[ic] + p->input_offset);
              }
            }
          }
          out[oc] = (int8_t)requantize(p, acc, bias, mult, shift, oc);
        }
      }
    }
  }
}

void tfle_conv2d_sparse_s8(const tfle_conv_params *p, const int8_t *input,
                           const tfle_sparse_weights *filter, const int32_t *bias,
                           const int32_t *mult, const int8_t *shift, int8_t *output) {
  const int32_t fic = p->filter_in_c;
  const int32_t groups = p->in_c / fic;
  const int32_t filters_per_group = p->out_c / groups;
  int32_t b, oy, ox, oc, k;
  for (b = 0; b < p->batches; b++) {
    const int8_t *in_b = input + (int32_t)b * p->in_h * p->in_w * p->in_c;
    for (oy = 0; oy < p->out_h; oy++) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      for (ox = 0; ox < p->out_w; ox++) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
        const int8_t *values = filter->values;
        const uint8_t *deltas = filter->deltas;
        for (oc = 0; oc < p->out_c; oc++) {
          const int32_t group_base = (oc / filters_per_group) * fic;
          const int32_t n = filter->counts[oc];
          int32_t acc = 0;
          /* walk the nonzero taps; (ky, kx, ic) advance with each delta */
          int32_t ky = 0, kx = 0, ic = 0;
          for (k = 0; k < n; k++) {
            int32_t iy, ix;
            ic += deltas[k];
            while (ic >= fic) {
              ic -= fic;
              if (++kx == p->k_w) {
                kx = 0;
                ky++;
              }
            }
            iy = y0 + p->dil_h * ky;
            ix = x0 + p->dil_w * kx;
            if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) continue;
            acc += (int32_t)values[k] *
                   ((int32_t)in_b[(iy * p->in_w + ix) * p->in_c + group_base + ic] +
                    p->input_offset);
          }
          values += n;
          deltas += n;
          out[oc] = (int8_t)requantize(p, acc, bias, mult, shift, oc);
        }
      }
    }
  }
}

void tfle_depthwise_conv2d_s8(const tfle_conv_params *p, const int8_t *input,
                              const int8_t *filter, const int32_t *bias, const int32_t *mult,
                              const int8_t *shift, int8_t *output) {
  const int32_t dm = p->depth_multiplier;
  int32_t b, oy, ox, ic, m, ky, kx;
  for (b = 0; b < p->batches; b++) {
    const int8_t *in_b = input + (int32_t)b * p->in_h * p->in_w * p->in_c;
    for (oy = 0; oy < p->out_h; oy++) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      for (ox = 0; ox < p->out_w; ox++) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
        for (ic = 0; ic < p->in_c; ic++) {
          for (m = 0; m < dm; m++) {
            const int32_t oc = m + ic * dm;
            int32_t acc = 0;
            for (ky = 0; ky < p->k_h; ky++) {
              const int32_t iy = y0 + p->dil_h * ky;
              if (iy < 0 || iy >= p->in_h) continue;
              for (kx = 0; kx < p->k_w; kx++) {
                const int32_t ix = x0 + p->dil_w * kx;
                if (ix < 0 || ix >= p->in_w) continue;
                acc += (int32_t)filter[(ky * p->k_w + kx) * p->out_c + oc] *
                       ((int32_t)in_b[(iy * p->in_w + ix) * p->in_c + ic] + p->input_offset);
              }
            }
            out[oc] = (int8_t)requantize(p, acc, bias, mult, shift, oc);
          }
        }
      }
    }
  }
}

void tfle_depthwise_conv2d_sparse_s8(const tfle_conv_params *p, const int8_t *input,
                                     const tfle_sparse_weights *filter, const int32_t *bias,
                                     const int32_t *mult, const int8_t *shift,
                                     int8_t *output) {
  const int32_t dm = p->depth_multiplier;
  int32_t b, oy, ox, oc, k;
  for (b = 0; b < p->batches; b++) {
    const int8_t *in_b = input + (int32_t)b * p->in_h * p->in_w * p->in_c;
    for (oy = 0; oy < p->out_h; oy++) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      for (ox = 0; ox < p->out_w; ox++) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
        const int8_t *values = filter->values;
        const uint8_t *deltas = filter->deltas;
        for (oc = 0; oc < p->out_c; oc++) {
          const int32_t ic = oc / dm;
          const int32_t n = filter->counts[oc];
          int32_t acc = 0;
          int32_t ky = 0, kx = 0;
          for (k = 0; k < n; k++) {
            int32_t iy, ix;
            kx += deltas[k];
            while (kx >= p->k_w) {
              kx -= p->k_w;
              ky++;
            }
            iy = y0 + p->dil_h * ky;
            ix = x0 + p->dil_w * kx;
            if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) continue;
            acc += (int32_t)values[k] *
                   ((int32_t)in_b[(iy * p->in_w + ix) * p->in_c + ic] + p->input_offset);
          }
          values += n;
          deltas += n;
          out[oc] = (int8_t)requantize(p, acc, bias, mult, shift, oc);
        }
      }
    }
  }
}
