/* The common CONV_2D and DEPTHWISE_CONV_2D shapes, specialised (tflite_edge.compiler picks
 * them at compile time; tfle_conv.c keeps the general kernels for everything else): CONV_2D
 * with groups == 1 whose filter rows are contiguous in the input (tfle_conv2d_rows_s8), and
 * DEPTHWISE_CONV_2D with depth multiplier 1 (tfle_depthwise_conv2d_dm1_s8). They share one
 * file because splitting it changes GCC's inlining, and so the instruction counts.
 *
 * Bit-exact with TFLM's reference kernels, like tfle_conv.c: a window inside the image sums
 * w * x and adds the folded bias (see tfle_kernels.h); a window clipped by the padding sums
 * w * (x + input_offset) over its taps inside the image and adds the model's bias
 * (`bias_raw`), which is TFLM's own arithmetic. The int32 sums are the same either way. */
#include "tfle_dsp.h"
#include "tfle_kernels.h"

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
      tfle_clip_taps(y0, dil_h, k_h, in_h, &ky0, &ky1);
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
          tfle_clip_taps(x0, 1, k_w, in_w, &kx0, &kx1);
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

/* ------------------------------------------------------- DEPTHWISE_CONV_2D, multiplier 1
 *
 * The filter comes packed (tflite_edge.compiler, see tfle_kernels.h): for each block of four
 * channels, tap after tap, the block's four weights; then the last channels (fewer than
 * four), tap after tap. Four channels are multiplied at once (SXTB16 and the halfword
 * multiply-accumulates), their requantization set up once per block; a 3x3 window inside the
 * image goes straight through. */

#if TFLE_HAVE_SMLAD
/* One tap of four channels: after SXTB16, halfword 0 holds channel c (c + 1 for the _hi
 * pair) and halfword 1 channel c + 2 (c + 3). */
#define TFLE_DW_TAP(xp, wp)                                                  \
  do {                                                                       \
    uint32_t xv, wv, xe, we;                                                 \
    xv = tfle_ld4(xp);                                                       \
    memcpy(&wv, __builtin_assume_aligned((wp), 4), 4);                       \
    xe = TFLE_EXT_LO(with_off, offp, xv);                                    \
    we = __sxtb16(wv);                                                       \
    a0 = __smlabb((int32_t)xe, (int32_t)we, a0);                             \
    a2 = __smlatt((int32_t)xe, (int32_t)we, a2);                             \
    xe = TFLE_EXT_HI(with_off, offp, xv);                                    \
    we = tfle_sxtb16_hi(wv);                                                 \
    a1 = __smlabb((int32_t)xe, (int32_t)we, a1);                             \
    a3 = __smlatt((int32_t)xe, (int32_t)we, a3);                             \
  } while (0)
#else
#define TFLE_DW_TAP(xp, wp)              \
  do {                                   \
    const int8_t *xq = (xp), *wq = (wp); \
    a0 += (xq[0] + off) * wq[0];         \
    a1 += (xq[1] + off) * wq[1];         \
    a2 += (xq[2] + off) * wq[2];         \
    a3 += (xq[3] + off) * wq[3];         \
  } while (0)
#endif

#if TFLE_HAVE_SMLAD
/* One tap in assembly: the input word at x + xoff, the weight word at w + woff; ext_lo/ext_hi
 * sign-extend (and offset) the input's bytes 0, 2 and 1, 3. */
#define TFLE_DW_TAP_ASM(xaddr, woff, ext_lo, ext_hi)  \
  "ldr %[xv], " xaddr "\n\t"                          \
  "ldr %[wv], [%[w], #" woff "]\n\t"                  \
  ext_lo "\n\t"                                       \
  "sxtb16 %[we], %[wv]\n\t"                           \
  "smlabb %[a0], %[xe], %[we], %[a0]\n\t"             \
  "smlatt %[a2], %[xe], %[we], %[a2]\n\t"             \
  ext_hi "\n\t"                                       \
  "sxtb16 %[we], %[wv], ror #8\n\t"                   \
  "smlabb %[a1], %[xe], %[we], %[a1]\n\t"             \
  "smlatt %[a3], %[xe], %[we], %[a3]\n\t"
/* The nine taps of a 3x3 window (x advances a row at a time; taps are cs apart). */
#define TFLE_DW3X3_ASM(ext_lo, ext_hi)                                         \
  TFLE_DW_TAP_ASM("[%[x]]", "0", ext_lo, ext_hi)                               \
  TFLE_DW_TAP_ASM("[%[x], %[cs]]", "4", ext_lo, ext_hi)                        \
  TFLE_DW_TAP_ASM("[%[x], %[cs], lsl #1]", "8", ext_lo, ext_hi)                \
  "add %[x], %[x], %[rs]\n\t"                                                 \
  TFLE_DW_TAP_ASM("[%[x]]", "12", ext_lo, ext_hi)                              \
  TFLE_DW_TAP_ASM("[%[x], %[cs]]", "16", ext_lo, ext_hi)                       \
  TFLE_DW_TAP_ASM("[%[x], %[cs], lsl #1]", "20", ext_lo, ext_hi)               \
  "add %[x], %[x], %[rs]\n\t"                                                 \
  TFLE_DW_TAP_ASM("[%[x]]", "24", ext_lo, ext_hi)                              \
  TFLE_DW_TAP_ASM("[%[x], %[cs]]", "28", ext_lo, ext_hi)                       \
  TFLE_DW_TAP_ASM("[%[x], %[cs], lsl #1]", "32", ext_lo, ext_hi)
#endif

/* Four channels over rows x cols taps of a window from `in` (rows row_step apart, taps
 * col_step), weights from `w` (a block's tap, k_w taps to a filter row); x + off when
 * with_off. */
TFLE_ALWAYS_INLINE void dw_taps4(const int8_t *in, int32_t row_step, int32_t col_step,
                                 const int8_t *w, int32_t k_w, int32_t rows, int32_t cols,
                                 int with_off, int32_t off, int32_t *acc) {
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, ky, kx;
#if TFLE_HAVE_SMLAD
  const uint32_t offp = tfle_pair(with_off ? off : 0);
  (void)off;
#else
  if (!with_off) off = 0;
#endif
  if (rows == 3 && cols == 3 && k_w == 3) {
#if TFLE_HAVE_SMLAD
    /* written out: the compiler loads every tap first and runs out of registers */
    uint32_t xv, wv, xe, we;
    const int8_t *x = in;
    if (with_off) {
      __asm__(TFLE_DW3X3_ASM("sxtab16 %[xe], %[offp], %[xv]",
                             "sxtab16 %[xe], %[offp], %[xv], ror #8")
              : [a0] "+&r"(a0), [a1] "+&r"(a1), [a2] "+&r"(a2), [a3] "+&r"(a3),
                [x] "+&r"(x), [xv] "=&r"(xv), [wv] "=&r"(wv), [xe] "=&r"(xe), [we] "=&r"(we)
              : [w] "r"(w), [cs] "r"(col_step), [rs] "r"(row_step), [offp] "r"(offp)
              : "memory");
    } else {
      __asm__(TFLE_DW3X3_ASM("sxtb16 %[xe], %[xv]", "sxtb16 %[xe], %[xv], ror #8")
              : [a0] "+&r"(a0), [a1] "+&r"(a1), [a2] "+&r"(a2), [a3] "+&r"(a3),
                [x] "+&r"(x), [xv] "=&r"(xv), [wv] "=&r"(wv), [xe] "=&r"(xe), [we] "=&r"(we)
              : [w] "r"(w), [cs] "r"(col_step), [rs] "r"(row_step)
              : "memory");
    }
#else
    const int8_t *x1 = in + row_step, *x2 = x1 + row_step;
    TFLE_DW_TAP(in, w);
    TFLE_DW_TAP(in + col_step, w + 4);
    TFLE_DW_TAP(in + 2 * col_step, w + 8);
    TFLE_DW_TAP(x1, w + 12);
    TFLE_DW_TAP(x1 + col_step, w + 16);
    TFLE_DW_TAP(x1 + 2 * col_step, w + 20);
    TFLE_DW_TAP(x2, w + 24);
    TFLE_DW_TAP(x2 + col_step, w + 28);
    TFLE_DW_TAP(x2 + 2 * col_step, w + 32);
#endif
  } else {
    for (ky = 0; ky < rows; ky++, in += row_step, w += 4 * k_w) {
      for (kx = 0; kx < cols; kx++) TFLE_DW_TAP(in + kx * col_step, w + 4 * kx);
    }
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

/* The output columns [*lo, *hi) whose windows are inside the image horizontally. */
static void dw_inner_columns(const tfle_conv_params *p, int32_t *lo, int32_t *hi) {
  const int32_t span = (p->k_w - 1) * p->dil_w + 1;
  int32_t l = 0, h = p->out_w;
  while (l < h && l * p->stride_w - p->pad_w < 0) l++;
  while (h > l && (h - 1) * p->stride_w - p->pad_w + span > p->in_w) h--;
  *lo = l;
  *hi = h;
}

/* A run of n output pixels of one row whose windows have the same taps inside the image:
 * rows x cols of them, from `in` (the next pixel's x_step further on); the first is filter
 * tap t0 (ky0 * k_w + kx0). */
typedef struct {
  const int8_t *in;
  int32_t t0, n, x_step, rows, cols;
} dw_run;

/* The window geometry of a layer, shared by every run. */
typedef struct {
  int32_t row_step, col_step, k_w, taps, ch;
} dw_shape;

/* Channels c..c+3 of a run (weights `w`: the channel block's packed taps): taps, then
 * requantization with the four channels' constants; x + off and the model's bias when
 * with_off; mode is the layer's TFLE_CLAMP_*. */
TFLE_ALWAYS_INLINE void dw_run4_body(const dw_run *run, const dw_shape *sh, const int8_t *w,
                                     const tfle_channel *q, const tfle_requant *rq, int8_t *out,
                                     int with_off, int32_t off, int mode) {
  const tfle_requant r = *rq; /* a copy that the int8 stores cannot alias */
  const int8_t *in = run->in;
  const int32_t row_step = sh->row_step, col_step = sh->col_step, k_w = sh->k_w, ch = sh->ch;
  int32_t i;
  w += 4 * run->t0;
  for (i = 0; i < run->n; i++, in += run->x_step, out += ch) {
    int32_t acc[4];
    dw_taps4(in, row_step, col_step, w, k_w, run->rows, run->cols, with_off, off, acc);
    out[0] = tfle_out_c(&r, &q[0], acc[0], mode);
    out[1] = tfle_out_c(&r, &q[1], acc[1], mode);
    out[2] = tfle_out_c(&r, &q[2], acc[2], mode);
    out[3] = tfle_out_c(&r, &q[3], acc[3], mode);
  }
}

typedef void (*dw_run4_fn)(const dw_run *run, const dw_shape *sh, const int8_t *w,
                           const tfle_channel *q, const tfle_requant *r, int8_t *out,
                           int32_t off);

/* dw_run4_body compiled for each (offset or not, clamp mode). */
#define TFLE_DW_RUN4(name, with_off, mode)                                                \
  static void name(const dw_run *run, const dw_shape *sh, const int8_t *w,               \
                   const tfle_channel *q, const tfle_requant *r, int8_t *out, int32_t off) { \
    dw_run4_body(run, sh, w, q, r, out, with_off, off, mode);                             \
  }
TFLE_DW_RUN4(dw_run4_int8, 0, TFLE_CLAMP_INT8)
TFLE_DW_RUN4(dw_run4_any, 0, TFLE_CLAMP_ANY)
TFLE_DW_RUN4(dw_run4_int8_off, 1, TFLE_CLAMP_INT8)
TFLE_DW_RUN4(dw_run4_any_off, 1, TFLE_CLAMP_ANY)

/* The run of pixels alike from (oy, ox) on (the inner columns of the row, or one pixel),
 * channel offset c into the input; returns whether the padding clips their windows. */
static inline int dw_run_at(const tfle_conv_params *p, const int8_t *in_b, int32_t c, int32_t oy,
                     int32_t ox, int32_t ox_lo, int32_t ox_hi, dw_run *run) {
  const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
  int32_t ky0, ky1, kx0 = 0, kx1 = p->k_w;
  tfle_clip_taps(y0, p->dil_h, p->k_h, p->in_h, &ky0, &ky1);
  if (ox >= ox_lo && ox < ox_hi) {
    run->n = ox_hi - ox;
  } else {
    tfle_clip_taps(x0, p->dil_w, p->k_w, p->in_w, &kx0, &kx1);
    run->n = 1;
  }
  run->rows = ky1 - ky0;
  run->cols = kx1 - kx0;
  run->in = run->rows == 0 || run->cols == 0
                ? in_b
                : in_b + ((y0 + p->dil_h * ky0) * p->in_w + x0 + p->dil_w * kx0) * p->in_c + c;
  run->t0 = ky0 * p->k_w + kx0;
  run->x_step = p->stride_w * p->in_c;
  return run->rows != p->k_h || run->cols != p->k_w;
}

/* Padded input rows y0 .. y0 + n_rows - 1 of channels c..c+3 into `band`, a word (the four
 * channels) per pixel and pw words per row starting at column -pad_w; rows and columns in
 * the padding hold the input zero point in every byte (zp4). */
static void dw_fill_band(const tfle_conv_params *p, const int8_t *in_b, int32_t c, int32_t y0,
                         int32_t n_rows, int32_t pw, uint32_t zp4, uint32_t *band) {
  const int32_t left = p->pad_w < pw ? p->pad_w : pw;
  const int32_t mid = p->in_w < pw - left ? p->in_w : pw - left;
  int32_t r, i;
  for (r = 0; r < n_rows; r++) {
    const int32_t y = y0 + r;
    uint32_t *dst = band + r * pw;
    if (y < 0 || y >= p->in_h) {
      for (i = 0; i < pw; i++) dst[i] = zp4;
      continue;
    }
    const int8_t *src = in_b + y * p->in_w * p->in_c + c;
    for (i = 0; i < left; i++) *dst++ = zp4;
    for (i = 0; i < mid; i++, src += p->in_c) memcpy(dst++, src, 4);
    for (i = left + mid; i < pw; i++) *dst++ = zp4;
  }
}

/* Channels c..c+3 through a padded copy of their input (dw_fill_band), TFLE_DW_BAND_WORDS
 * words at most on the stack: a tap in the padding then reads the input zero point, whose
 * w * (x + input_offset) is 0, exactly as TFLM skipping it, so every window takes the folded
 * bias and the unclipped run of the inner pixels. Returns 0 (nothing done) when one output
 * row's padded rows do not fit. */
static int dw_channels4_band(const tfle_conv_params *p, const dw_shape *sh, const int8_t *in_b,
                             const int8_t *w, int32_t c, const tfle_requant *folded,
                             const tfle_channel *q, dw_run4_fn inner, int8_t *out_b) {
  uint32_t band[TFLE_DW_BAND_WORDS];
  const int32_t pw = (p->out_w - 1) * p->stride_w + (p->k_w - 1) * p->dil_w + 1;
  const int32_t span_h = (p->k_h - 1) * p->dil_h + 1; /* rows of one output row's windows */
  const uint32_t zp4 = (uint32_t)(uint8_t)(int8_t)(-p->input_offset) * 0x01010101u;
  int32_t per_chunk, oy0, oy;
  dw_shape sb = *sh;
  dw_run run;
  if (span_h * pw > TFLE_DW_BAND_WORDS) return 0;
  per_chunk = (TFLE_DW_BAND_WORDS / pw - span_h) / p->stride_h + 1; /* output rows a band */
  if (per_chunk > p->out_h) per_chunk = p->out_h;
  sb.row_step = p->dil_h * pw * 4;
  sb.col_step = p->dil_w * 4;
  run.t0 = 0;
  run.n = p->out_w;
  run.x_step = p->stride_w * 4;
  run.rows = p->k_h;
  run.cols = p->k_w;
  for (oy0 = 0; oy0 < p->out_h; oy0 += per_chunk) {
    const int32_t n = p->out_h - oy0 < per_chunk ? p->out_h - oy0 : per_chunk;
    dw_fill_band(p, in_b, c, oy0 * p->stride_h - p->pad_h, (n - 1) * p->stride_h + span_h, pw,
                 zp4, band);
    for (oy = 0; oy < n; oy++) {
      run.in = (const int8_t *)(band + oy * p->stride_h * pw);
      inner(&run, &sb, w, q, folded, out_b + (oy0 + oy) * p->out_w * sh->ch + c, 0);
    }
  }
  return 1;
}

/* Channels c..c+3 of every output pixel: their requantization is set up once, and the inner
 * pixels of a row go as one run (all of them through a padded band when it fits). */
static void dw_channels4(const tfle_conv_params *p, const dw_shape *sh, const int8_t *in_b,
                         const int8_t *w, int32_t c, const tfle_requant *folded,
                         const tfle_requant *raw, int8_t *out_b) {
  const int mode = tfle_clamp_mode(folded);
  const dw_run4_fn inner = mode == TFLE_CLAMP_INT8 ? dw_run4_int8 : dw_run4_any;
  const dw_run4_fn clipped = mode == TFLE_CLAMP_INT8 ? dw_run4_int8_off : dw_run4_any_off;
  tfle_channel q[4], q_raw[4];
  int32_t oy, ox, i, ox_lo, ox_hi;
  for (i = 0; i < 4; i++) {
    q[i] = tfle_channel_of(folded, c + i);
    q_raw[i] = q[i];
    q_raw[i].bias = raw->bias[c + i];
  }
  if (dw_channels4_band(p, sh, in_b, w, c, folded, q, inner, out_b)) return;
  dw_inner_columns(p, &ox_lo, &ox_hi);
  for (oy = 0; oy < p->out_h; oy++) {
    int8_t *out_row = out_b + oy * p->out_w * sh->ch + c;
    for (ox = 0; ox < p->out_w;) {
      dw_run run;
      if (dw_run_at(p, in_b, c, oy, ox, ox_lo, ox_hi, &run)) {
        clipped(&run, sh, w, q_raw, folded, out_row + ox * sh->ch, p->input_offset);
      } else {
        inner(&run, sh, w, q, folded, out_row + ox * sh->ch, 0);
      }
      ox += run.n;
    }
  }
}

/* Channel c of every output pixel, one of the last `rest` (< 4) channels, whose packed
 * weights `w` go tap after tap, `rest` to a tap. */
static void dw_channel(const tfle_conv_params *p, const dw_shape *sh, const int8_t *in_b,
                       const int8_t *w, int32_t rest, int32_t c, const tfle_requant *folded,
                       const tfle_requant *raw, int8_t *out_b) {
  const tfle_requant r = *folded;
  tfle_channel q = tfle_channel_of(&r, c);
  const int32_t b_folded = q.bias, b_raw = raw->bias[c];
  int32_t oy, ox, ky, kx, i, ox_lo, ox_hi;
  dw_inner_columns(p, &ox_lo, &ox_hi);
  for (oy = 0; oy < p->out_h; oy++) {
    int8_t *out = out_b + oy * p->out_w * sh->ch + c;
    for (ox = 0; ox < p->out_w;) {
      dw_run run;
      const int border = dw_run_at(p, in_b, c, oy, ox, ox_lo, ox_hi, &run);
      const int32_t o = border ? p->input_offset : 0;
      const int8_t *in = run.in;
      q.bias = border ? b_raw : b_folded;
      for (i = 0; i < run.n; i++, in += run.x_step, ox++) {
        int32_t sum = 0;
        for (ky = 0; ky < run.rows; ky++) {
          const int8_t *x = in + ky * sh->row_step;
          const int8_t *wk = w + (run.t0 + ky * sh->k_w) * rest;
          for (kx = 0; kx < run.cols; kx++) sum += (x[kx * sh->col_step] + o) * wk[kx * rest];
        }
        out[ox * sh->ch] = tfle_out(&r, &q, sum);
      }
    }
  }
}

void tfle_depthwise_conv2d_dm1_s8(const tfle_conv_params *p, const int8_t *input,
                                  const int8_t *packed, const int32_t *bias,
                                  const int32_t *bias_raw, const int32_t *mult,
                                  const int8_t *shift, int8_t *output) {
  const tfle_requant folded = tfle_requant_of(bias, mult, shift, p->per_channel,
                                              p->output_offset, p->act_min, p->act_max);
  const tfle_requant raw = tfle_requant_of(bias_raw, mult, shift, p->per_channel,
                                           p->output_offset, p->act_min, p->act_max);
  const int32_t ch = p->in_c, taps = p->k_h * p->k_w, blocks = ch / 4;
  dw_shape sh;
  int32_t b, c;
  sh.row_step = p->dil_h * p->in_w * ch;
  sh.col_step = p->dil_w * ch;
  sh.k_w = p->k_w;
  sh.taps = taps;
  sh.ch = ch;
  for (b = 0; b < p->batches; b++) {
    const int8_t *in_b = input + b * p->in_h * p->in_w * ch;
    int8_t *out_b = output + b * p->out_h * p->out_w * ch;
    for (c = 0; c < 4 * blocks; c += 4) {
      dw_channels4(p, &sh, in_b, packed + c * taps, c, &folded, &raw, out_b);
    }
    for (; c < ch; c++) {
      dw_channel(p, &sh, in_b, packed + 4 * blocks * taps + (c - 4 * blocks), ch - 4 * blocks,
                 c, &folded, &raw, out_b);
    }
  }
}
