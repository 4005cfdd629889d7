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

/* Output channels [0, out_c) of one pixel: the window `win` from `in` against the filter
 * from `w` (taps values per output channel). */
static void conv_pixel(const int8_t *in, const int8_t *w, int32_t taps, tfle_window win,
                       int border, int32_t off, const tfle_requant *rq, int32_t out_c,
                       int8_t *out) {
  const tfle_requant local = *rq; /* a copy that the int8 stores cannot alias */
  const tfle_requant *const r = &local;
  int32_t oc = 0;
  for (; oc + 2 <= out_c; oc += 2) {
    int32_t acc[2] = {0, 0};
    tfle_channel c0, c1;
    if (border) {
      tfle_mk_1x2(in, w + oc * taps, taps, win, 1, off, acc);
    } else {
      tfle_mk_1x2(in, w + oc * taps, taps, win, 0, 0, acc);
    }
    c0 = tfle_channel_of(r, oc);
    c1 = tfle_channel_of(r, oc + 1);
    out[oc] = tfle_out(r, &c0, acc[0]);
    out[oc + 1] = tfle_out(r, &c1, acc[1]);
  }
  if (oc < out_c) {
    int32_t acc[1] = {0};
    tfle_channel c;
    tfle_mk_1x1(in, w + oc * taps, win, 1, border ? off : 0, acc);
    c = tfle_channel_of(r, oc);
    out[oc] = tfle_out(r, &c, acc[0]);
  }
}

/* Output channels [0, out_c) of two horizontally adjacent pixels whose windows are inside the
 * image horizontally (the second window starts xs input bytes after the first). */
static void conv_pixel_pair(const int8_t *in, int32_t xs, const int8_t *w, int32_t taps,
                            tfle_window win, int border, int32_t off, const tfle_requant *rq,
                            int32_t out_c, int8_t *out) {
  const tfle_requant local = *rq; /* a copy that the int8 stores cannot alias */
  const tfle_requant *const r = &local;
  int32_t oc = 0;
  for (; oc + 2 <= out_c; oc += 2) {
    int32_t acc[4] = {0, 0, 0, 0};
    tfle_channel c0, c1;
    if (border) {
      tfle_mk_2x2(in, xs, w + oc * taps, taps, win, 1, off, acc);
    } else {
      tfle_mk_2x2(in, xs, w + oc * taps, taps, win, 0, 0, acc);
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
    tfle_mk_2x1(in, xs, w + oc * taps, win, 1, border ? off : 0, acc);
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
          /* whole filter rows: the weights run on from one row to the next */
          conv_pixel_pair(in_y + x0 * in_c, xs, w, taps,
                          tfle_window_of(rows, row_len, row_step - row_len, 0), row_border,
                          off, row_border ? &raw : &folded, out_c, out_row + ox * out_c);
          ox += 2;
        } else {
          int32_t kx0, kx1, n, border;
          clip_taps(x0, 1, k_w, in_w, &kx0, &kx1);
          n = (kx1 - kx0) * in_c;
          border = row_border || kx1 - kx0 != k_w;
          conv_pixel(in_y + (x0 + kx0) * in_c, w + kx0 * in_c, taps,
                     tfle_window_of(rows, n, row_step - n, row_len - n), border, off,
                     border ? &raw : &folded, out_c, out_row + ox * out_c);
          ox += 1;
        }
      }
    }
  }
}

/* ------------------------------------------------------- DEPTHWISE_CONV_2D, multiplier 1 */

#if TFLE_HAVE_SMLAD
/* One tap of four channels: x and w each hold channels c..c+3; after SXTB16 halfword 0 holds
 * channel c (c + 1 for the _hi pair) and halfword 1 channel c + 2 (c + 3). */
#define TFLE_DW_TAP(xp, wp)                                                  \
  do {                                                                       \
    const uint32_t xv = tfle_ld4(xp), wv = tfle_ld4(wp);                     \
    uint32_t xe = TFLE_EXT_LO(with_off, offp, xv), we = __sxtb16(wv);        \
    a0 = __smlabb((int32_t)xe, (int32_t)we, a0);                             \
    a2 = __smlatt((int32_t)xe, (int32_t)we, a2);                             \
    xe = TFLE_EXT_HI(with_off, offp, xv);                                    \
    we = tfle_sxtb16_hi(wv);                                                 \
    a1 = __smlabb((int32_t)xe, (int32_t)we, a1);                             \
    a3 = __smlatt((int32_t)xe, (int32_t)we, a3);                             \
  } while (0)
#else
#define TFLE_DW_TAP(xp, wp)                    \
  do {                                         \
    const int8_t *xq = (xp), *wq = (wp);       \
    a0 += (xq[0] + off) * wq[0];               \
    a1 += (xq[1] + off) * wq[1];               \
    a2 += (xq[2] + off) * wq[2];               \
    a3 += (xq[3] + off) * wq[3];               \
  } while (0)
#endif

/* Channels c..c+3 of one pixel over `rows` x `cols` taps from `in` (x + off when with_off):
 * the window's rows are row_step apart in the input, its taps col_step; the filter's rows are
 * w_row_step apart, its taps ch. Three taps a row (3x3 filters) go unrolled. */
TFLE_ALWAYS_INLINE void dw_block4_body(const int8_t *in, int32_t row_step, int32_t col_step,
                                       const int8_t *w, int32_t w_row_step, int32_t ch,
                                       int32_t rows, int32_t cols, int with_off, int32_t off,
                                       int32_t *acc) {
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, ky, kx;
#if TFLE_HAVE_SMLAD
  const uint32_t offp = tfle_pair(with_off ? off : 0);
  (void)off;
#else
  if (!with_off) off = 0;
#endif
  if (cols == 3) {
    for (ky = 0; ky < rows; ky++, in += row_step, w += w_row_step) {
      TFLE_DW_TAP(in, w);
      TFLE_DW_TAP(in + col_step, w + ch);
      TFLE_DW_TAP(in + 2 * col_step, w + 2 * ch);
    }
  } else {
    for (ky = 0; ky < rows; ky++, in += row_step, w += w_row_step) {
      const int8_t *x = in, *wk = w;
      for (kx = 0; kx < cols; kx++, x += col_step, wk += ch) TFLE_DW_TAP(x, wk);
    }
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

/* Functions of their own, so that the tap loops get the registers. */
static void dw_block4(const int8_t *in, int32_t row_step, int32_t col_step, const int8_t *w,
                      int32_t w_row_step, int32_t ch, int32_t rows, int32_t cols,
                      int32_t *acc) {
  dw_block4_body(in, row_step, col_step, w, w_row_step, ch, rows, cols, 0, 0, acc);
}

static void dw_block4_off(const int8_t *in, int32_t row_step, int32_t col_step,
                          const int8_t *w, int32_t w_row_step, int32_t ch, int32_t rows,
                          int32_t cols, int32_t off, int32_t *acc) {
  dw_block4_body(in, row_step, col_step, w, w_row_step, ch, rows, cols, 1, off, acc);
}

/* One output pixel, all channels: the window's first tap inside the image is `in` (filter
 * tap `w`), rows x cols taps; `border` when the padding clips the window. */
TFLE_ALWAYS_INLINE void dw_pixel(const tfle_conv_params *p, const int8_t *in, const int8_t *w,
                                 int32_t rows, int32_t cols, int border, const tfle_requant *rq,
                                 int8_t *out, int mode) {
  const tfle_requant r = *rq; /* a copy that the int8 stores cannot alias */
  const int32_t ch = p->in_c, off = p->input_offset;
  const int32_t row_step = p->dil_h * p->in_w * ch, col_step = p->dil_w * ch;
  const int32_t w_row_step = p->k_w * ch;
  int32_t c;
  for (c = 0; c + 4 <= ch; c += 4) {
    int32_t acc[4];
    tfle_channel q;
    if (border) {
      dw_block4_off(in + c, row_step, col_step, w + c, w_row_step, ch, rows, cols, off, acc);
    } else {
      dw_block4(in + c, row_step, col_step, w + c, w_row_step, ch, rows, cols, acc);
    }
    q = tfle_channel_of(&r, c);
    out[c] = tfle_out_c(&r, &q, acc[0], mode);
    q = tfle_channel_of(&r, c + 1);
    out[c + 1] = tfle_out_c(&r, &q, acc[1], mode);
    q = tfle_channel_of(&r, c + 2);
    out[c + 2] = tfle_out_c(&r, &q, acc[2], mode);
    q = tfle_channel_of(&r, c + 3);
    out[c + 3] = tfle_out_c(&r, &q, acc[3], mode);
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
    q = tfle_channel_of(&r, c);
    out[c] = tfle_out_c(&r, &q, sum, mode);
  }
}

static void dw_pixel_int8(const tfle_conv_params *p, const int8_t *in, const int8_t *w,
                          int32_t rows, int32_t cols, int border, const tfle_requant *r,
                          int8_t *out) {
  dw_pixel(p, in, w, rows, cols, border, r, out, TFLE_CLAMP_INT8);
}

static void dw_pixel_relu(const tfle_conv_params *p, const int8_t *in, const int8_t *w,
                          int32_t rows, int32_t cols, int border, const tfle_requant *r,
                          int8_t *out) {
  dw_pixel(p, in, w, rows, cols, border, r, out, TFLE_CLAMP_RELU);
}

static void dw_pixel_any(const tfle_conv_params *p, const int8_t *in, const int8_t *w,
                         int32_t rows, int32_t cols, int border, const tfle_requant *r,
                         int8_t *out) {
  dw_pixel(p, in, w, rows, cols, border, r, out, TFLE_CLAMP_ANY);
}

void tfle_depthwise_conv2d_dm1_s8(const tfle_conv_params *p, const int8_t *input,
                                  const int8_t *filter, const int32_t *bias,
                                  const int32_t *bias_raw, const int32_t *mult,
                                  const int8_t *shift, int8_t *output) {
  const tfle_requant folded = tfle_requant_of(bias, mult, shift, p->per_channel,
                                              p->output_offset, p->act_min, p->act_max);
  const tfle_requant raw = tfle_requant_of(bias_raw, mult, shift, p->per_channel,
                                           p->output_offset, p->act_min, p->act_max);
  const int mode = tfle_clamp_mode(&folded);
  const int32_t in_h = p->in_h, in_w = p->in_w, ch = p->in_c;
  const int32_t out_h = p->out_h, out_w = p->out_w, k_h = p->k_h, k_w = p->k_w;
  const int32_t dil_h = p->dil_h, dil_w = p->dil_w;
  int32_t b, oy, ox;
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
        int8_t *out = output + ((b * out_h + oy) * out_w + ox) * ch;
        clip_taps(x0, dil_w, k_w, in_w, &kx0, &kx1);
        rows = ky1 - ky0;
        cols = kx1 - kx0;
        border = rows != k_h || cols != k_w;
        /* the first tap inside the image (only read when there is one) */
        in = rows == 0 || cols == 0
                 ? input
                 : in_b + ((y0 + dil_h * ky0) * in_w + x0 + dil_w * kx0) * ch;
        w = filter + (ky0 * k_w + kx0) * ch;
        const tfle_requant *r = border ? &raw : &folded;
        if (mode == TFLE_CLAMP_INT8) {
          dw_pixel_int8(p, in, w, rows, cols, border, r, out);
        } else if (mode == TFLE_CLAMP_RELU) {
          dw_pixel_relu(p, in, w, rows, cols, border, r, out);
        } else {
          dw_pixel_any(p, in, w, rows, cols, border, r, out);
        }
      }
    }
  }
}
