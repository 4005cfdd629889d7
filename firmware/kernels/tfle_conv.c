/* CONV_2D and DEPTHWISE_CONV_2D, int8, per-channel or per-tensor requantization.
 *
 * Bit-exact with TFLM's reference_integer_ops::ConvPerChannel / DepthwiseConvPerChannel:
 * taps in the padding contribute nothing, the bias is added before requantization, then the
 * output offset and the activation clamp. `bias` is the folded bias (see tfle_kernels.h):
 * taps inside the image add w * x, taps in the padding subtract input_offset * w, which
 * sums to TFLM's accumulator exactly. Windows are clipped per output pixel, so no tap is
 * bounds-checked in the inner loops. */
#include "tfle_dsp.h"
#include "tfle_kernels.h"

static inline int8_t requantize(const tfle_conv_params *p, int32_t sum, const int32_t *bias,
                                const int32_t *mult, const int8_t *shift, int32_t ch) {
  const int32_t q = p->per_channel ? ch : 0;
  int32_t acc = tfle_wrap_add(bias[ch], sum);
  acc = tfle_quant_mul(acc, mult[q], shift[q]);
  acc += p->output_offset;
  return (int8_t)tfle_clamp_i32(acc, p->act_min, p->act_max);
}

static inline int32_t sum_s8(const int8_t *a, int32_t n) {
  int32_t acc = 0;
  int32_t i;
  for (i = 0; i < n; i++) acc += a[i];
  return acc;
}

void tfle_conv2d_s8(const tfle_conv_params *p, const int8_t *input, const int8_t *filter,
                    const int32_t *bias, const int32_t *mult, const int8_t *shift,
                    int8_t *output) {
  const int32_t fic = p->filter_in_c;
  const int32_t groups = p->in_c / fic;
  const int32_t filters_per_group = p->out_c / groups;
  const int32_t row_taps = p->k_w * fic;
  const int32_t taps = p->k_h * row_taps;
  const int32_t x_step = p->dil_w * p->in_c;
  const int32_t y_step = p->dil_h * p->in_w * p->in_c;
  /* a filter row (kx, ic) is contiguous in the input too: no dilation across x, no groups */
  const int rows_contiguous = p->dil_w == 1 && groups == 1;
  int32_t b, oy, ox, oc, ky, kx;
  for (b = 0; b < p->batches; b++) {
    const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
    for (oy = 0; oy < p->out_h; oy++) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      int32_t ky0, ky1;
      tfle_clip_taps(y0, p->dil_h, p->k_h, p->in_h, &ky0, &ky1);
      for (ox = 0; ox < p->out_w; ox++) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        int32_t kx0, kx1, n_valid, inside;
        const int8_t *first = input; /* the first tap inside the image, if any */
        int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
        tfle_clip_taps(x0, p->dil_w, p->k_w, p->in_w, &kx0, &kx1);
        inside = ky0 == 0 && ky1 == p->k_h && kx0 == 0 && kx1 == p->k_w;
        n_valid = (kx1 - kx0) * fic;
        if (ky1 > ky0 && kx1 > kx0) {
          first = in_b + ((y0 + p->dil_h * ky0) * p->in_w + x0 + p->dil_w * kx0) * p->in_c;
        }
        for (oc = 0; oc < p->out_c; oc++) {
          const int8_t *w = filter + oc * taps;
          const int8_t *in_row = first + (groups == 1 ? 0 : (oc / filters_per_group) * fic);
          const int8_t *w_row = w + ky0 * row_taps + kx0 * fic;
          int32_t sum = 0, padded = 0;
          for (ky = ky0; ky < ky1; ky++) {
            if (rows_contiguous) {
              sum += tfle_dot_s8(in_row, w_row, n_valid);
            } else {
              for (kx = 0; kx < kx1 - kx0; kx++) {
                sum += tfle_dot_s8(in_row + kx * x_step, w_row + kx * fic, fic);
              }
            }
            in_row += y_step;
            w_row += row_taps;
          }
          if (!inside) {
            /* the taps in the padding: whole rows above/below, columns left/right */
            for (ky = 0; ky < p->k_h; ky++) {
              const int8_t *wr = w + ky * row_taps;
              if (ky < ky0 || ky >= ky1) {
                padded += sum_s8(wr, row_taps);
              } else {
                padded += sum_s8(wr, kx0 * fic) + sum_s8(wr + kx1 * fic, row_taps - kx1 * fic);
              }
            }
          }
          out[oc] = requantize(p, sum - p->input_offset * padded, bias, mult, shift, oc);
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
  /* input index steps from one tap to the next along kx and ky */
  const int32_t x_step = p->dil_w * p->in_c;
  const int32_t y_step = p->dil_h * p->in_w * p->in_c;
  int32_t b, oy, ox, oc, k;
  for (b = 0; b < p->batches; b++) {
    const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
    for (oy = 0; oy < p->out_h; oy++) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      int32_t ky0, ky1;
      tfle_clip_taps(y0, p->dil_h, p->k_h, p->in_h, &ky0, &ky1);
      for (ox = 0; ox < p->out_w; ox++) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        int32_t kx0, kx1, inside;
        int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
        const int8_t *values = filter->values;
        const uint8_t *deltas = filter->deltas;
        tfle_clip_taps(x0, p->dil_w, p->k_w, p->in_w, &kx0, &kx1);
        inside = ky0 == 0 && ky1 == p->k_h && kx0 == 0 && kx1 == p->k_w;
        for (oc = 0; oc < p->out_c; oc++) {
          const int32_t n = filter->counts[oc];
          /* an index, not a pointer: at the borders the window's origin is outside the input */
          int32_t at = (y0 * p->in_w + x0) * p->in_c + (oc / filters_per_group) * fic;
          int32_t sum = 0, padded = 0;
          int32_t ky = 0, kx = 0, ic = 0;
          for (k = 0; k < n; k++) {
            /* advance (ky, kx, ic) and the input index by this entry's delta */
            ic += deltas[k];
            at += deltas[k];
            while (ic >= fic) {
              ic -= fic;
              at += x_step - fic;
              if (++kx == p->k_w) {
                kx = 0;
                ky++;
                at += y_step - p->k_w * x_step;
              }
            }
            if (inside || (ky >= ky0 && ky < ky1 && kx >= kx0 && kx < kx1)) {
              sum += (int32_t)values[k] * in_b[at];
            } else {
              padded += values[k];
            }
          }
          values += n;
          deltas += n;
          out[oc] = requantize(p, sum - p->input_offset * padded, bias, mult, shift, oc);
        }
      }
    }
  }
}

void tfle_depthwise_conv2d_s8(const tfle_conv_params *p, const int8_t *input,
                              const int8_t *filter, const int32_t *bias, const int32_t *mult,
                              const int8_t *shift, int8_t *output) {
  const int32_t dm = p->depth_multiplier;
  const int32_t x_step = p->dil_w * p->in_c;
  int32_t b, oy, ox, ic, m, ky, kx;
  for (b = 0; b < p->batches; b++) {
    const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
    for (oy = 0; oy < p->out_h; oy++) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      int32_t ky0, ky1;
      tfle_clip_taps(y0, p->dil_h, p->k_h, p->in_h, &ky0, &ky1);
      for (ox = 0; ox < p->out_w; ox++) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        int32_t kx0, kx1, inside;
        int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
        tfle_clip_taps(x0, p->dil_w, p->k_w, p->in_w, &kx0, &kx1);
        inside = ky0 == 0 && ky1 == p->k_h && kx0 == 0 && kx1 == p->k_w;
        for (ic = 0; ic < p->in_c; ic++) {
          for (m = 0; m < dm; m++) {
            const int32_t oc = m + ic * dm;
            int32_t sum = 0, padded = 0;
            for (ky = ky0; ky < ky1; ky++) {
              const int8_t *w = filter + (ky * p->k_w + kx0) * p->out_c + oc;
              const int8_t *in =
                  in_b + ((y0 + p->dil_h * ky) * p->in_w + x0 + p->dil_w * kx0) * p->in_c + ic;
              for (kx = kx0; kx < kx1; kx++) {
                sum += (int32_t)*w * *in;
                w += p->out_c;
                in += x_step;
              }
            }
            if (!inside) {
              for (ky = 0; ky < p->k_h; ky++) {
                for (kx = 0; kx < p->k_w; kx++) {
                  if (ky < ky0 || ky >= ky1 || kx < kx0 || kx >= kx1) {
                    padded += filter[(ky * p->k_w + kx) * p->out_c + oc];
                  }
                }
              }
            }
            out[oc] = requantize(p, sum - p->input_offset * padded, bias, mult, shift, oc);
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
  const int32_t x_step = p->dil_w * p->in_c;
  const int32_t y_step = p->dil_h * p->in_w * p->in_c;
  int32_t b, oy, ox, oc, k;
  for (b = 0; b < p->batches; b++) {
    const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
    for (oy = 0; oy < p->out_h; oy++) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      int32_t ky0, ky1;
      tfle_clip_taps(y0, p->dil_h, p->k_h, p->in_h, &ky0, &ky1);
      for (ox = 0; ox < p->out_w; ox++) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        int32_t kx0, kx1, inside;
        int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
        const int8_t *values = filter->values;
        const uint8_t *deltas = filter->deltas;
        tfle_clip_taps(x0, p->dil_w, p->k_w, p->in_w, &kx0, &kx1);
        inside = ky0 == 0 && ky1 == p->k_h && kx0 == 0 && kx1 == p->k_w;
        for (oc = 0; oc < p->out_c; oc++) {
          const int32_t n = filter->counts[oc];
          int32_t at = (y0 * p->in_w + x0) * p->in_c + oc / dm;
          int32_t sum = 0, padded = 0;
          int32_t ky = 0, kx = 0;
          for (k = 0; k < n; k++) {
            kx += deltas[k];
            at += deltas[k] * x_step;
            while (kx >= p->k_w) {
              kx -= p->k_w;
              at += y_step - p->k_w * x_step;
              ky++;
            }
            if (inside || (ky >= ky0 && ky < ky1 && kx >= kx0 && kx < kx1)) {
              sum += (int32_t)values[k] * in_b[at];
            } else {
              padded += values[k];
            }
          }
          values += n;
          deltas += n;
          out[oc] = requantize(p, sum - p->input_offset * padded, bias, mult, shift, oc);
        }
      }
    }
  }
}
