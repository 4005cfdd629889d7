/* CONV_2D and FULLY_CONNECTED as GEMMs over packed weights (tfle_kernels.h describes the
 * layout, which tflite_edge.compiler writes at compile time).
 *
 * A convolution gathers the windows of two output pixels into a small stack buffer (im2col),
 * interleaved word by word the way the weights of two output channels are, so that the inner
 * loop reads two pixels and two channels with two 8-byte loads and feeds eight dual
 * multiply-accumulates. A fully connected layer reads its input row directly, four output
 * channels at a time. Padding taps are gathered as the input zero point, which with the
 * folded bias (tfle_kernels.h) gives TFLM's sums exactly, so every window is handled alike.
 */
#include "tfle_dsp.h"
#include "tfle_kernels.h"

/* ------------------------------------------------------------------ micro-kernels
 * x2/w2: two rows (pixels / channels) interleaved by 4-byte words; x/w: one row. k4 is the
 * row length, a multiple of 4. Each returns exact int32 sums (wrapping like TFLM's). */

#if TFLE_HAVE_SMLAD
#define TFLE_LD4A(v, p) memcpy(&(v), __builtin_assume_aligned((p), 4), 4)
#endif

/* Two gathered pixels (x2) come as pairs of halfwords on DSP cores: for each 4 values, the
 * first pixel's SXTB16 words (values 0 and 2, then 1 and 3), then the second's, so the inner
 * loop extends only the weights. Elsewhere they are int8 words, interleaved like the weights.
 * TFLE_PAIR_BYTES: bytes of x2 per value of the window. */
#if TFLE_HAVE_SMLAD
#define TFLE_PAIR_BYTES 4
#else
#define TFLE_PAIR_BYTES 2
#endif

/* acc = {x0.w0, x0.w1, x1.w0, x1.w1}; a function of its own, so the loop gets all the
 * registers. */
static void mk_pair_pair(const int8_t *x2, const int8_t *w2, int32_t k4, int32_t *acc) {
#if TFLE_HAVE_SMLAD
  /* written out: 17 instructions for 16 multiply-accumulates, in 13 registers */
  int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0;
  const int8_t *const end = x2 + TFLE_PAIR_BYTES * k4;
  uint32_t wa, wb, th, uh, xl, xh;
  __asm__(
      "1:\n\t"
      "ldrd %[wa], %[wb], [%[w]], #8\n\t"
      "sxtb16 %[th], %[wa], ror #8\n\t"
      "sxtb16 %[wa], %[wa]\n\t"
      "sxtb16 %[uh], %[wb], ror #8\n\t"
      "sxtb16 %[wb], %[wb]\n\t"
      "ldrd %[xl], %[xh], [%[x]], #8\n\t"
      "smlad %[a00], %[xl], %[wa], %[a00]\n\t"
      "smlad %[a00], %[xh], %[th], %[a00]\n\t"
      "smlad %[a01], %[xl], %[wb], %[a01]\n\t"
      "smlad %[a01], %[xh], %[uh], %[a01]\n\t"
      "ldrd %[xl], %[xh], [%[x]], #8\n\t"
      "smlad %[a10], %[xl], %[wa], %[a10]\n\t"
      "smlad %[a10], %[xh], %[th], %[a10]\n\t"
      "smlad %[a11], %[xl], %[wb], %[a11]\n\t"
      "smlad %[a11], %[xh], %[uh], %[a11]\n\t"
      "cmp %[x], %[end]\n\t"
      "bne 1b\n\t"
      : [a00] "+&r"(a00), [a01] "+&r"(a01), [a10] "+&r"(a10), [a11] "+&r"(a11), [x] "+&r"(x2),
        [w] "+&r"(w2), [wa] "=&r"(wa), [wb] "=&r"(wb), [th] "=&r"(th), [uh] "=&r"(uh),
        [xl] "=&r"(xl), [xh] "=&r"(xh)
      : [end] "r"(end)
      : "cc", "memory");
#else
  int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0;
  const int8_t *const end = x2 + TFLE_PAIR_BYTES * k4;
  for (; x2 != end; x2 += 8, w2 += 8) {
    int i;
    for (i = 0; i < 4; i++) {
      const int32_t xa = x2[i], xb = x2[4 + i], wa = w2[i], wb = w2[4 + i];
      a00 += xa * wa;
      a01 += xa * wb;
      a10 += xb * wa;
      a11 += xb * wb;
    }
  }
#endif
  acc[0] = a00;
  acc[1] = a01;
  acc[2] = a10;
  acc[3] = a11;
}

/* acc = {x0.w, x1.w}: two gathered pixels by the last (unpaired) channel. */
static void mk_pair_one(const int8_t *x2, const int8_t *w, int32_t k4, int32_t *acc) {
  int32_t a0 = 0, a1 = 0;
  const int8_t *const end = x2 + TFLE_PAIR_BYTES * k4;
  for (; x2 != end; x2 += 4 * TFLE_PAIR_BYTES, w += 4) {
#if TFLE_HAVE_SMLAD
    uint32_t x0l, x0h, x1l, x1h, wv;
    TFLE_LD4A(x0l, x2);
    TFLE_LD4A(x0h, x2 + 4);
    TFLE_LD4A(x1l, x2 + 8);
    TFLE_LD4A(x1h, x2 + 12);
    TFLE_LD4A(wv, w);
    a0 = (int32_t)__smlad(x0l, __sxtb16(wv), a0);
    a1 = (int32_t)__smlad(x1l, __sxtb16(wv), a1);
    a0 = (int32_t)__smlad(x0h, tfle_sxtb16_hi(wv), a0);
    a1 = (int32_t)__smlad(x1h, tfle_sxtb16_hi(wv), a1);
#else
    int i;
    for (i = 0; i < 4; i++) {
      a0 += x2[i] * w[i];
      a1 += x2[4 + i] * w[i];
    }
#endif
  }
  acc[0] = a0;
  acc[1] = a1;
}

/* acc = {x.w0, x.w1, x.w2, x.w3}: one row (any alignment) by two channel pairs. */
static void mk_one_quad(const int8_t *x, const int8_t *w2a, const int8_t *w2b, int32_t k4,
                        int32_t *acc) {
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
#if TFLE_HAVE_SMLAD
  /* written out: 23 instructions for 16 multiply-accumulates, in 13 registers */
  const int8_t *const end = x + k4;
  uint32_t xl, xh, wa, wb, t;
  __asm__(
      "1:\n\t"
      "ldr %[xh], [%[x]], #4\n\t"
      "sxtb16 %[xl], %[xh]\n\t"
      "sxtb16 %[xh], %[xh], ror #8\n\t"
      "ldrd %[wa], %[wb], [%[wp]], #8\n\t"
      "sxtb16 %[t], %[wa]\n\t"
      "smlad %[a0], %[xl], %[t], %[a0]\n\t"
      "sxtb16 %[wa], %[wa], ror #8\n\t"
      "smlad %[a0], %[xh], %[wa], %[a0]\n\t"
      "sxtb16 %[t], %[wb]\n\t"
      "smlad %[a1], %[xl], %[t], %[a1]\n\t"
      "sxtb16 %[wb], %[wb], ror #8\n\t"
      "smlad %[a1], %[xh], %[wb], %[a1]\n\t"
      "ldrd %[wa], %[wb], [%[wq]], #8\n\t"
      "sxtb16 %[t], %[wa]\n\t"
      "smlad %[a2], %[xl], %[t], %[a2]\n\t"
      "sxtb16 %[wa], %[wa], ror #8\n\t"
      "smlad %[a2], %[xh], %[wa], %[a2]\n\t"
      "sxtb16 %[t], %[wb]\n\t"
      "smlad %[a3], %[xl], %[t], %[a3]\n\t"
      "sxtb16 %[wb], %[wb], ror #8\n\t"
      "smlad %[a3], %[xh], %[wb], %[a3]\n\t"
      "cmp %[x], %[end]\n\t"
      "bne 1b\n\t"
      : [a0] "+&r"(a0), [a1] "+&r"(a1), [a2] "+&r"(a2), [a3] "+&r"(a3), [x] "+&r"(x),
        [wp] "+&r"(w2a), [wq] "+&r"(w2b), [xl] "=&r"(xl), [xh] "=&r"(xh), [wa] "=&r"(wa),
        [wb] "=&r"(wb), [t] "=&r"(t)
      : [end] "r"(end)
      : "cc", "memory");
#else
  const int8_t *const end = x + k4;
  for (; x != end; x += 4, w2a += 8, w2b += 8) {
    int i;
    for (i = 0; i < 4; i++) {
      const int32_t xv = x[i];
      a0 += xv * w2a[i];
      a1 += xv * w2a[4 + i];
      a2 += xv * w2b[i];
      a3 += xv * w2b[4 + i];
    }
  }
#endif
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

/* acc = {x.w0, x.w1}: one row by one channel pair. */
static void mk_one_pair(const int8_t *x, const int8_t *w2, int32_t k4, int32_t *acc) {
  int32_t a0 = 0, a1 = 0;
  const int8_t *const end = x + k4;
  for (; x != end; x += 4, w2 += 8) {
#if TFLE_HAVE_SMLAD
    uint32_t xv, wv, lo, hi;
    memcpy(&xv, x, 4);
    lo = __sxtb16(xv);
    hi = tfle_sxtb16_hi(xv);
    TFLE_LD4A(wv, w2);
    a0 = (int32_t)__smlad(lo, __sxtb16(wv), a0);
    a0 = (int32_t)__smlad(hi, tfle_sxtb16_hi(wv), a0);
    TFLE_LD4A(wv, w2 + 4);
    a1 = (int32_t)__smlad(lo, __sxtb16(wv), a1);
    a1 = (int32_t)__smlad(hi, tfle_sxtb16_hi(wv), a1);
#else
    int i;
    for (i = 0; i < 4; i++) {
      a0 += x[i] * w2[i];
      a1 += x[i] * w2[4 + i];
    }
#endif
  }
  acc[0] = a0;
  acc[1] = a1;
}

/* x.w for one row by one (unpaired) channel. */
static int32_t mk_one_one(const int8_t *x, const int8_t *w, int32_t k4) {
  int32_t a = 0;
  const int8_t *const end = x + k4;
  for (; x != end; x += 4, w += 4) {
#if TFLE_HAVE_SMLAD
    uint32_t xv, wv;
    memcpy(&xv, x, 4);
    TFLE_LD4A(wv, w);
    a = (int32_t)__smlad(__sxtb16(xv), __sxtb16(wv), a);
    a = (int32_t)__smlad(tfle_sxtb16_hi(xv), tfle_sxtb16_hi(wv), a);
#else
    a += x[0] * w[0] + x[1] * w[1] + x[2] * w[2] + x[3] * w[3];
#endif
  }
  return a;
}

/* ------------------------------------------------------------------ requantized blocks */

/* Outputs of channels [0, out_c) for two pixels gathered in x2 (y1 = the second pixel's). */
TFLE_ALWAYS_INLINE void pixel_pair_body(const int8_t *x2, const int8_t *packed, int32_t k4,
                                        int32_t out_c, const tfle_requant *rq, int8_t *y0,
                                        int8_t *y1, int mode) {
  const tfle_requant r = *rq; /* a copy that the int8 stores cannot alias */
  int32_t oc = 0;
  const int8_t *w = packed;
  for (; oc + 2 <= out_c; oc += 2, w += 2 * k4) {
    int32_t acc[4];
    tfle_channel c0, c1;
    mk_pair_pair(x2, w, k4, acc);
    c0 = tfle_channel_of(&r, oc);
    y0[oc] = tfle_out_c(&r, &c0, acc[0], mode);
    y1[oc] = tfle_out_c(&r, &c0, acc[2], mode);
    c1 = tfle_channel_of(&r, oc + 1);
    y0[oc + 1] = tfle_out_c(&r, &c1, acc[1], mode);
    y1[oc + 1] = tfle_out_c(&r, &c1, acc[3], mode);
  }
  if (oc < out_c) {
    int32_t acc[2];
    tfle_channel c;
    mk_pair_one(x2, w, k4, acc);
    c = tfle_channel_of(&r, oc);
    y0[oc] = tfle_out_c(&r, &c, acc[0], mode);
    y1[oc] = tfle_out_c(&r, &c, acc[1], mode);
  }
}

/* Outputs of channels [0, out_c) for one row x (k4 values, any alignment). */
TFLE_ALWAYS_INLINE void row_body(const int8_t *x, const int8_t *packed, int32_t k4,
                                 int32_t out_c, const tfle_requant *rq, int8_t *y, int mode) {
  const tfle_requant r = *rq;
  int32_t oc = 0;
  const int8_t *w = packed;
  for (; oc + 4 <= out_c; oc += 4, w += 4 * k4) {
    int32_t acc[4];
    tfle_channel c;
    mk_one_quad(x, w, w + 2 * k4, k4, acc);
    c = tfle_channel_of(&r, oc);
    y[oc] = tfle_out_c(&r, &c, acc[0], mode);
    c = tfle_channel_of(&r, oc + 1);
    y[oc + 1] = tfle_out_c(&r, &c, acc[1], mode);
    c = tfle_channel_of(&r, oc + 2);
    y[oc + 2] = tfle_out_c(&r, &c, acc[2], mode);
    c = tfle_channel_of(&r, oc + 3);
    y[oc + 3] = tfle_out_c(&r, &c, acc[3], mode);
  }
  if (oc + 2 <= out_c) {
    int32_t acc[2];
    tfle_channel c;
    mk_one_pair(x, w, k4, acc);
    c = tfle_channel_of(&r, oc);
    y[oc] = tfle_out_c(&r, &c, acc[0], mode);
    c = tfle_channel_of(&r, oc + 1);
    y[oc + 1] = tfle_out_c(&r, &c, acc[1], mode);
    oc += 2;
    w += 2 * k4;
  }
  if (oc < out_c) {
    tfle_channel c = tfle_channel_of(&r, oc);
    y[oc] = tfle_out_c(&r, &c, mk_one_one(x, w, k4), mode);
  }
}

/* The same, compiled once for each way of clamping (TFLE_CLAMP_*). */
static void gemm_pixel_pair(const int8_t *x2, const int8_t *packed, int32_t k4, int32_t out_c,
                            const tfle_requant *r, int8_t *y0, int8_t *y1) {
  if (tfle_clamp_mode(r) == TFLE_CLAMP_INT8) {
    pixel_pair_body(x2, packed, k4, out_c, r, y0, y1, TFLE_CLAMP_INT8);
  } else {
    pixel_pair_body(x2, packed, k4, out_c, r, y0, y1, TFLE_CLAMP_ANY);
  }
}

static void gemm_row(const int8_t *x, const int8_t *packed, int32_t k4, int32_t out_c,
                     const tfle_requant *r, int8_t *y) {
  if (tfle_clamp_mode(r) == TFLE_CLAMP_INT8) {
    row_body(x, packed, k4, out_c, r, y, TFLE_CLAMP_INT8);
  } else {
    row_body(x, packed, k4, out_c, r, y, TFLE_CLAMP_ANY);
  }
}

/* ------------------------------------------------------------------ windows (im2col) */

TFLE_NO_LIBCALLS static void fill_bytes(int8_t *dst, int8_t value, int32_t n) {
  int32_t i;
  for (i = 0; i < n; i++) dst[i] = value;
}

TFLE_NO_LIBCALLS static void copy_bytes(int8_t *dst, const int8_t *src, int32_t n) {
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    uint32_t v;
    memcpy(&v, src + i, 4);
    memcpy(dst + i, &v, 4);
  }
  for (; i < n; i++) dst[i] = src[i];
}

/* k values from src (padded with zeros to k4) as pixel `i` (0 or 1) of a gathered pair (see
 * TFLE_PAIR_BYTES). */
TFLE_NO_LIBCALLS static void interleave_row(int8_t *pair, int32_t i, const int8_t *src,
                                            int32_t k, int32_t k4) {
  int32_t g;
  for (g = 0; g < k4; g += 4) {
    uint32_t v = 0;
    if (g + 4 <= k) {
      memcpy(&v, src + g, 4);
    } else {
      int32_t j;
      for (j = 0; g + j < k; j++) v |= (uint32_t)(uint8_t)src[g + j] << (8 * j);
    }
#if TFLE_HAVE_SMLAD
    {
      const uint32_t lo = __sxtb16(v), hi = tfle_sxtb16_hi(v);
      int8_t *dst = pair + 4 * TFLE_PAIR_BYTES * (g / 4) + 8 * i;
      memcpy(dst, &lo, 4);
      memcpy(dst + 4, &hi, 4);
    }
#else
    memcpy(pair + 4 * TFLE_PAIR_BYTES * (g / 4) + 4 * i, &v, 4);
#endif
  }
}

/* The window whose top-left tap is at (y0, x0), k_h * k_w * in_c values in filter order, with
 * the input zero point for taps in the padding: w * zero_point cancels that tap's share of
 * the folded bias, so every window takes the folded bias. */
TFLE_NO_LIBCALLS static void gather_window(const tfle_conv_params *p, const int8_t *in_b,
                                           int32_t y0, int32_t x0, int8_t *col) {
  /* locals: the int8 stores below may alias *p as far as C knows */
  const int8_t zp = (int8_t)-p->input_offset;
  const int32_t in_c = p->in_c, in_h = p->in_h, in_w = p->in_w, k_h = p->k_h, k_w = p->k_w;
  const int32_t dil_h = p->dil_h, dil_w = p->dil_w, row_len = k_w * in_c;
  const int32_t row_step = dil_h * in_w * in_c;
  int32_t kx0, kx1, ky, kx;
  tfle_clip_taps(x0, dil_w, k_w, in_w, &kx0, &kx1);
  if (dil_w == 1 && kx0 == 0 && kx1 == k_w && y0 >= 0 && y0 + (k_h - 1) * dil_h < in_h) {
    /* inside the image: whole rows, row_step apart */
    const int8_t *src = in_b + (y0 * in_w + x0) * in_c;
    for (ky = 0; ky < k_h; ky++, col += row_len, src += row_step) copy_bytes(col, src, row_len);
    return;
  }
  for (ky = 0; ky < k_h; ky++, col += row_len) {
    const int32_t y = y0 + ky * dil_h;
    if (y < 0 || y >= in_h || kx0 == kx1) {
      fill_bytes(col, zp, row_len);
      continue;
    }
    fill_bytes(col, zp, kx0 * in_c);
    if (dil_w == 1) {
      copy_bytes(col + kx0 * in_c, in_b + (y * in_w + x0 + kx0) * in_c, (kx1 - kx0) * in_c);
    } else {
      for (kx = kx0; kx < kx1; kx++) {
        copy_bytes(col + kx * in_c, in_b + (y * in_w + x0 + kx * dil_w) * in_c, in_c);
      }
    }
    fill_bytes(col + kx1 * in_c, zp, row_len - kx1 * in_c);
  }
}

/* ------------------------------------------------------------------ kernels */

void tfle_conv2d_packed_s8(const tfle_conv_params *p, const int8_t *input, const int8_t *packed,
                           const int32_t *bias, const int32_t *mult, const int8_t *shift,
                           int8_t *output) {
  /* two gathered windows (TFLE_PAIR_BYTES a value) and one window in filter order */
  int32_t pair_words[TFLE_GATHER_BYTES * TFLE_PAIR_BYTES / 8];
  int32_t window_words[TFLE_GATHER_BYTES / 8];
  int8_t *pair = (int8_t *)pair_words, *window = (int8_t *)window_words;
  const tfle_requant r = tfle_requant_of(bias, mult, shift, p->per_channel, p->output_offset,
                                         p->act_min, p->act_max);
  const int32_t k = p->k_h * p->k_w * p->in_c, k4 = (k + 3) & ~3, out_c = p->out_c;
  const int32_t pixels = p->out_h * p->out_w;
  /* a 1x1 window of stride 1 without padding is the input pixel itself */
  const int pointwise = p->k_h == 1 && p->k_w == 1 && p->stride_h == 1 && p->stride_w == 1 &&
                        p->pad_h == 0 && p->pad_w == 0 && p->out_h == p->in_h &&
                        p->out_w == p->in_w;
  int32_t b, q, i;
  for (b = 0; b < p->batches; b++) {
    const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
    int8_t *out_b = output + b * pixels * out_c;
    for (q = 0; q < pixels; q += 2) {
      const int32_t n = q + 1 < pixels ? 2 : 1;
      for (i = 0; i < n; i++) {
        const int8_t *src = in_b + (q + i) * k;
        if (!pointwise) {
          const int32_t oy = (q + i) / p->out_w, ox = (q + i) % p->out_w;
          gather_window(p, in_b, oy * p->stride_h - p->pad_h, ox * p->stride_w - p->pad_w,
                        window);
          src = window;
        }
        if (n == 2) {
          interleave_row(pair, i, src, k, k4);
        } else {
          copy_bytes(pair, src, k);
          fill_bytes(pair + k, 0, k4 - k);
        }
      }
      if (n == 2) {
        gemm_pixel_pair(pair, packed, k4, out_c, &r, out_b + q * out_c, out_b + (q + 1) * out_c);
      } else {
        gemm_row(pair, packed, k4, out_c, &r, out_b + q * out_c);
      }
    }
  }
}

void tfle_fully_connected_packed_s8(const tfle_fc_params *p, const int8_t *input,
                                    const int8_t *packed, const int32_t *bias,
                                    const int32_t *mult, const int8_t *shift, int8_t *output) {
  int32_t row_words[TFLE_GATHER_BYTES / 8];
  int8_t *row = (int8_t *)row_words;
  const tfle_requant r = tfle_requant_of(bias, mult, shift, p->per_channel, p->output_offset,
                                         p->act_min, p->act_max);
  const int32_t k = p->in_depth, k4 = (k + 3) & ~3;
  int32_t b;
  for (b = 0; b < p->batches; b++) {
    const int8_t *x = input + b * k;
    if (k != k4) {
      /* the packed rows run on to a multiple of 4; so must the input (k4 <= TFLE_GATHER/2) */
      copy_bytes(row, x, k);
      fill_bytes(row + k, 0, k4 - k);
      x = row;
    }
    gemm_row(x, packed, k4, p->out_depth, &r, output + b * p->out_depth);
  }
}
