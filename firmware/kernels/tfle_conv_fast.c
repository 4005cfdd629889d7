/* The common CONV_2D and DEPTHWISE_CONV_2D shapes, specialised (tflite_edge.aot picks them at
 * compile time; tfle_conv.c keeps the general kernels for everything else).
 *
 * Bit-exact with TFLM's reference kernels, like tfle_conv.c: a window inside the image sums
 * w * x and adds the folded bias (see tfle_kernels.h); a window clipped by the padding sums
 * w * (x + input_offset) over its taps inside the image and adds the model's bias
 * (`bias_raw`), which is TFLM's own arithmetic. The int32 sums are the same either way. */
#include "tfle_dsp.h"
#include "tfle_kernels.h"

/* The taps k in [*lo, *hi) with 0 <= origin + dilation * k < size (a contiguous range). */
static inline void clip_taps(int32_t origin, int32_t dilation, int32_t taps, int32_t size,
                             int32_t *lo, int32_t *hi) {
  int32_t l = origin >= 0 ? 0 : (-origin + dilation - 1) / dilation;
  int32_t h = size - origin <= 0 ? 0 : (size - origin + dilation - 1) / dilation;
  if (h > taps) h = taps;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

/* ------------------------------------------------------------------ CONV_2D, contiguous rows */

/* Output channels [0, out_c) of one pixel: rows ky of length n starting at `in`
 * (row_step apart) against the filter from `w` (taps per channel, row_len per row). */
static void conv_pixel(const int8_t *in, int32_t row_step, const int8_t *w, int32_t taps,
                       int32_t row_len, int32_t rows, int32_t n, int border, int32_t off,
                       const tfle_requant *r, int32_t out_c, int8_t *out) {
  int32_t oc = 0, ky;
  for (; oc + 2 <= out_c; oc += 2) {
    int32_t acc[2] = {0, 0};
    tfle_channel c0, c1;
    const int8_t *wr = w + oc * taps;
    const int8_t *x = in;
    for (ky = 0; ky < rows; ky++) {
      if (border) {
        tfle_mk_1x2(x, wr, taps, n, 1, off, acc);
      } else {
        tfle_mk_1x2(x, wr, taps, n, 0, 0, acc);
      }
      x += row_step;
      wr += row_len;
    }
    c0 = tfle_channel_of(r, oc);
    c1 = tfle_channel_of(r, oc + 1);
    out[oc] = tfle_out(r, &c0, acc[0]);
    out[oc + 1] = tfle_out(r, &c1, acc[1]);
  }
  if (oc < out_c) {
    int32_t acc[1] = {0};
    tfle_channel c;
    const int8_t *wr = w + oc * taps;
    const int8_t *x = in;
    for (ky = 0; ky < rows; ky++) {
      tfle_mk_1x1(x, wr, n, 1, border ? off : 0, acc);
      x += row_step;
      wr += row_len;
    }
    c = tfle_channel_of(r, oc);
    out[oc] = tfle_out(r, &c, acc[0]);
  }
}

/* Output channels [0, out_c) of two horizontally adjacent pixels whose windows are inside the
 * image horizontally (the second window starts xs input bytes after the first). */
static void conv_pixel_pair(const int8_t *in, int32_t xs, int32_t row_step, const int8_t *w,
                            int32_t taps, int32_t row_len, int32_t rows, int border,
                            int32_t off, const tfle_requant *r, int32_t out_c, int8_t *out) {
  int32_t oc = 0, ky;
  for (; oc + 2 <= out_c; oc += 2) {
    int32_t acc[4] = {0, 0, 0, 0};
    tfle_channel c0, c1;
    const int8_t *wr = w + oc * taps;
    const int8_t *x = in;
    for (ky = 0; ky < rows; ky++) {
      if (border) {
        tfle_mk_2x2(x, xs, wr, taps, row_len, 1, off, acc);
      } else {
        tfle_mk_2x2(x, xs, wr, taps, row_len, 0, 0, acc);
      }
      x += row_step;
      wr += row_len;
    }
    c0 = tfle_channel_of(r, oc);
    c1 = tfle_channel_of(r, oc + 1);
    out[oc] = tfle_out(r, &c0, acc[0]);
    out[oc + 1] = tfle_out(r, &c1, acc[1]);
    out[out_c + oc] = tfle_out(r, &c0, acc[2]);
    out[out_c + oc + 1] = tfle_out(r, &c1, acc[3]);
  }
  if (oc < out_c) {
    int32_t acc[2] = {0, 0};
    tfle_channel c;
    const int8_t *wr = w + oc * taps;
    const int8_t *x = in;
    for (ky = 0; ky < rows; ky++) {
      tfle_mk_2x1(x, xs, wr, row_len, 1, border ? off : 0, acc);
      x += row_step;
      wr += row_len;
    }
    c = tfle_channel_of(r, oc);
    out[oc] = tfle_out(r, &c, acc[0]);
    out[out_c + oc] = tfle_out(r, &c, acc[1]);
  }
}

void tfle_conv2d_rows_s8(const tfle_conv_params *p, const int8_t *input, const int8_t *filter,
                         const int32_t *bias, const int32_t *bias_raw, const int32_t *mult,
                         const int8_t *shift, int8_t *output) {
  const tfle_requant folded = tfle_requant_of(bias, mult, shift, p->per_channel,
                                              p->output_offset, p->act_min, p->act_max);
  const tfle_requant raw = tfle_requant_of(bias_raw, mult, shift, p->per_channel,
                                           p->output_offset, p->act_min, p->act_max);
  const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
  const int32_t out_h = p->out_h, out_w = p->out_w, out_c = p->out_c;
  const int32_t k_h = p->k_h, k_w = p->k_w, stride_w = p->stride_w, dil_h = p->dil_h;
  const int32_t row_len = k_w * in_c; /* one filter row, contiguous in the input too */
  const int32_t taps = k_h * row_len;
  const int32_t row_step = dil_h * in_w * in_c;
  const int32_t xs = stride_w * in_c;
  const int32_t off = p->input_offset;
  /* output columns whose windows are inside the image horizontally: [ox_lo, ox_hi) */
  int32_t ox_lo = 0, ox_hi = out_w, b, oy, ox;
  while (ox_lo < out_w && ox_lo * stride_w - p->pad_w < 0) ox_lo++;
  while (ox_hi > ox_lo && (ox_hi - 1) * stride_w - p->pad_w + k_w > in_w) ox_hi--;
  for (b = 0; b < p->batches; b++) {
    const int8_t *in_b = input + b * in_h * in_w * in_c;
    for (oy = 0; oy < out_h; oy++) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      int32_t ky0, ky1, rows, row_border;
      const int8_t *in_y;
      int8_t *out_row = output + (b * out_h + oy) * out_w * out_c;
      clip_taps(y0, dil_h, k_h, in_h, &ky0, &ky1);
      rows = ky1 - ky0;
      row_border = rows != k_h;
      in_y = in_b + (y0 + dil_h * ky0) * in_w * in_c; /* only read when rows > 0 */
      ox = 0;
      while (ox < out_w) {
        const int32_t x0 = ox * stride_w - p->pad_w;
        const int8_t *w = filter + ky0 * row_len;
        if (ox >= ox_lo && ox + 1 < ox_hi) {
          conv_pixel_pair(in_y + x0 * in_c, xs, row_step, w, taps, row_len, rows, row_border,
                          off, row_border ? &raw : &folded, out_c, out_row + ox * out_c);
          ox += 2;
        } else {
          int32_t kx0, kx1, border;
          clip_taps(x0, 1, k_w, in_w, &kx0, &kx1);
          border = row_border || kx1 - kx0 != k_w;
          conv_pixel(in_y + (x0 + kx0) * in_c, row_step, w + kx0 * in_c, taps, row_len, rows,
                     (kx1 - kx0) * in_c, border, off, border ? &raw : &folded, out_c,
                     out_row + ox * out_c);
          ox += 1;
        }
      }
    }
  }
}

/* ------------------------------------------------------- DEPTHWISE_CONV_2D, multiplier 1 */

/* Channels c..c+3 of one pixel over the taps [ky0, ky1) x [kx0, kx1) (x + off when with_off). */
TFLE_ALWAYS_INLINE void dw_block4(const int8_t *in, int32_t row_step, int32_t col_step,
                                  const int8_t *w, int32_t w_row_step, int32_t w_col_step,
                                  int32_t rows, int32_t cols, int with_off, int32_t off,
                                  int32_t *acc) {
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, ky, kx;
#if TFLE_HAVE_SMLAD
  const uint32_t offp = tfle_pair(with_off ? off : 0);
#endif
  for (ky = 0; ky < rows; ky++) {
    const int8_t *x = in + ky * row_step;
    const int8_t *wk = w + ky * w_row_step;
    for (kx = 0; kx < cols; kx++) {
#if TFLE_HAVE_SMLAD
      const uint32_t xv = tfle_ld4(x), wv = tfle_ld4(wk);
      const uint32_t x_lo = TFLE_EXT_LO(with_off, offp, xv), w_lo = __sxtb16(wv);
      const uint32_t x_hi = TFLE_EXT_HI(with_off, offp, xv), w_hi = tfle_sxtb16_hi(wv);
      /* halfword 0 holds channel c (c + 1 for the _hi pair), halfword 1 channel c + 2 (c + 3) */
      a0 = __smlabb((int32_t)x_lo, (int32_t)w_lo, a0);
      a2 = __smlatt((int32_t)x_lo, (int32_t)w_lo, a2);
      a1 = __smlabb((int32_t)x_hi, (int32_t)w_hi, a1);
      a3 = __smlatt((int32_t)x_hi, (int32_t)w_hi, a3);
#else
      const int32_t o = with_off ? off : 0;
      a0 += (x[0] + o) * wk[0];
      a1 += (x[1] + o) * wk[1];
      a2 += (x[2] + o) * wk[2];
      a3 += (x[3] + o) * wk[3];
#endif
      x += col_step;
      wk += w_col_step;
    }
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

void tfle_depthwise_conv2d_dm1_s8(const tfle_conv_params *p, const int8_t *input,
                                  const int8_t *filter, const int32_t *bias,
                                  const int32_t *bias_raw, const int32_t *mult,
                                  const int8_t *shift, int8_t *output) {
  const tfle_requant folded = tfle_requant_of(bias, mult, shift, p->per_channel,
                                              p->output_offset, p->act_min, p->act_max);
  const tfle_requant raw = tfle_requant_of(bias_raw, mult, shift, p->per_channel,
                                           p->output_offset, p->act_min, p->act_max);
  const int32_t in_h = p->in_h, in_w = p->in_w, ch = p->in_c;
  const int32_t out_h = p->out_h, out_w = p->out_w, k_h = p->k_h, k_w = p->k_w;
  const int32_t dil_h = p->dil_h, dil_w = p->dil_w;
  const int32_t row_step = dil_h * in_w * ch, col_step = dil_w * ch;
  const int32_t w_row_step = k_w * ch;
  const int32_t off = p->input_offset;
  int32_t b, oy, ox, c;
  for (b = 0; b < p->batches; b++) {
    const int8_t *in_b = input + b * in_h * in_w * ch;
    for (oy = 0; oy < out_h; oy++) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      int32_t ky0, ky1;
      clip_taps(y0, dil_h, k_h, in_h, &ky0, &ky1);
      for (ox = 0; ox < out_w; ox++) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        int32_t kx0, kx1, rows, cols, border;
        const int8_t *in, *w;
        const tfle_requant *r;
        int8_t *out = output + ((b * out_h + oy) * out_w + ox) * ch;
        clip_taps(x0, dil_w, k_w, in_w, &kx0, &kx1);
        rows = ky1 - ky0;
        cols = kx1 - kx0;
        border = rows != k_h || cols != k_w;
        r = border ? &raw : &folded;
        /* the first tap inside the image (only read when there is one) */
        in = in_b + ((y0 + dil_h * ky0) * in_w + x0 + dil_w * kx0) * ch;
        w = filter + (ky0 * k_w + kx0) * ch;
        if (rows == 0 || cols == 0) in = input;
        for (c = 0; c + 4 <= ch; c += 4) {
          int32_t acc[4];
          tfle_channel q0, q1, q2, q3;
          if (border) {
            dw_block4(in + c, row_step, col_step, w + c, w_row_step, ch, rows, cols, 1, off,
                      acc);
          } else {
            dw_block4(in + c, row_step, col_step, w + c, w_row_step, ch, rows, cols, 0, 0,
                      acc);
          }
          q0 = tfle_channel_of(r, c);
          q1 = tfle_channel_of(r, c + 1);
          q2 = tfle_channel_of(r, c + 2);
          q3 = tfle_channel_of(r, c + 3);
          out[c] = tfle_out(r, &q0, acc[0]);
          out[c + 1] = tfle_out(r, &q1, acc[1]);
          out[c + 2] = tfle_out(r, &q2, acc[2]);
          out[c + 3] = tfle_out(r, &q3, acc[3]);
        }
        for (; c < ch; c++) {
          const int32_t o = border ? off : 0;
          int32_t sum = 0, ky, kx;
          tfle_channel q;
          for (ky = 0; ky < rows; ky++) {
            const int8_t *x = in + ky * row_step + c;
            const int8_t *wk = w + ky * w_row_step + c;
            for (kx = 0; kx < cols; kx++) sum += (x[kx * col_step] + o) * wk[kx * ch];
          }
          q = tfle_channel_of(r, c);
          out[c] = tfle_out(r, &q, sum);
        }
      }
    }
  }
}
