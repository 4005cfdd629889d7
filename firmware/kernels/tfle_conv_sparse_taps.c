/* Sparse CONV_2D over gathered windows: only the nonzero weights are multiplied.
 *
 * The windows of four output pixels are gathered (im2col, padding taps as the input zero
 * point, as tfle_conv_fc_packed.c does) into a stack buffer interleaved byte by byte, so one
 * word holds tap k of all four pixels; each nonzero weight of a channel then costs one load of its tap
 * position, one of its value, one of the four pixels' inputs and four multiply-accumulates.
 * Bit-exact with TFLM through the folded bias (tfle_kernels.h), like the dense kernels. */
#include "tfle_dsp.h"
#include "tfle_kernels.h"

/* The window whose top-left tap is at (y0, x0), in filter order, into every 4th byte of col
 * (the input zero point for taps in the padding). */
TFLE_NO_LIBCALLS static void gather_window4(const tfle_conv_params *p, const int8_t *in_b,
                                            int32_t y0, int32_t x0, int8_t *col) {
  const int8_t zp = (int8_t)-p->input_offset;
  const int32_t in_c = p->in_c;
  int32_t kx0, kx1, ky, kx, c;
  tfle_clip_taps(x0, p->dil_w, p->k_w, p->in_w, &kx0, &kx1);
  for (ky = 0; ky < p->k_h; ky++) {
    const int32_t y = y0 + ky * p->dil_h;
    const int inside = y >= 0 && y < p->in_h;
    for (kx = 0; kx < p->k_w; kx++) {
      if (inside && kx >= kx0 && kx < kx1) {
        const int8_t *src = in_b + (y * p->in_w + x0 + kx * p->dil_w) * in_c;
        for (c = 0; c < in_c; c++, col += 4) *col = src[c];
      } else {
        for (c = 0; c < in_c; c++, col += 4) *col = zp;
      }
    }
  }
}

/* Channel sums of four gathered pixels: acc[i] = sum of v * x_i[tap] over the n nonzeros. */
static void sparse_quad(const int8_t *col4, const int8_t *values, const uint8_t *taps,
                        int32_t n, int32_t *acc) {
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, k;
  for (k = 0; k < n; k++) {
    const int32_t v = values[k];
    const int8_t *x = col4 + 4 * (int32_t)taps[k];
#if TFLE_HAVE_SMLAD
    uint32_t xv, lo, hi;
    memcpy(&xv, __builtin_assume_aligned(x, 4), 4);
    lo = __sxtb16(xv); /* pixels 0 and 2 */
    hi = tfle_sxtb16_hi(xv); /* pixels 1 and 3 */
    a0 = __smlabb((int32_t)lo, v, a0);
    a2 = __smlatb((int32_t)lo, v, a2);
    a1 = __smlabb((int32_t)hi, v, a1);
    a3 = __smlatb((int32_t)hi, v, a3);
#else
    a0 += x[0] * v;
    a1 += x[1] * v;
    a2 += x[2] * v;
    a3 += x[3] * v;
#endif
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

TFLE_ALWAYS_INLINE void quad_body(const int8_t *col4, const tfle_sparse_taps *w, int32_t out_c,
                                  int32_t pixels, const tfle_requant *rq, int8_t *y, int mode) {
  const tfle_requant r = *rq; /* a copy that the int8 stores cannot alias */
  const int8_t *values = w->values;
  const uint8_t *taps = w->taps;
  int32_t oc, i;
  for (oc = 0; oc < out_c; oc++) {
    const int32_t n = w->counts[oc];
    int32_t acc[4];
    tfle_channel c;
    sparse_quad(col4, values, taps, n, acc);
    values += n;
    taps += n;
    c = tfle_channel_of(&r, oc);
    for (i = 0; i < pixels; i++) y[i * out_c + oc] = tfle_out_c(&r, &c, acc[i], mode);
  }
}

void tfle_conv2d_sparse_taps_s8(const tfle_conv_params *p, const int8_t *input,
                                const tfle_sparse_taps *filter, const int32_t *bias,
                                const int32_t *mult, const int8_t *shift, int8_t *output) {
  int32_t col_words[TFLE_SPARSE_WINDOW];
  int8_t *col4 = (int8_t *)col_words;
  const tfle_requant r = tfle_requant_of(bias, mult, shift, p->per_channel, p->output_offset,
                                         p->act_min, p->act_max);
  const int mode = tfle_clamp_mode(&r);
  const int32_t out_c = p->out_c, pixels = p->out_h * p->out_w;
  int32_t b, q, i;
  memset(col_words, 0, sizeof col_words); /* the unused pixels of a last, short quad */
  for (b = 0; b < p->batches; b++) {
    const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
    int8_t *out_b = output + b * pixels * out_c;
    for (q = 0; q < pixels; q += 4) {
      const int32_t n = pixels - q < 4 ? pixels - q : 4;
      for (i = 0; i < n; i++) {
        const int32_t oy = (q + i) / p->out_w, ox = (q + i) % p->out_w;
        gather_window4(p, in_b, oy * p->stride_h - p->pad_h, ox * p->stride_w - p->pad_w,
                       col4 + i);
      }
      if (mode == TFLE_CLAMP_INT8) {
        quad_body(col4, filter, out_c, n, &r, out_b + q * out_c, TFLE_CLAMP_INT8);
      } else {
        quad_body(col4, filter, out_c, n, &r, out_b + q * out_c, TFLE_CLAMP_ANY);
      }
    }
  }
}
