/* tflite-edge int8 dot-product micro-kernels shared by the fast CONV_2D, DEPTHWISE_CONV_2D and
 * FULLY_CONNECTED kernels (internal; not part of the generated code's API).
 *
 * Each micro-kernel multiplies a few input rows with a few weight rows at once, so every
 * loaded word is used by several multiply-accumulates. On cores with the DSP extension
 * (Cortex-M4/M7/M33/M55) four int8 values are loaded as one word, sign-extended into two pairs
 * of halfwords (SXTB16: bytes 0 and 2; SXTB16 with ROR #8: bytes 1 and 3) and multiplied pair
 * by pair (SMLAD); elsewhere (Cortex-M3, hosts) the same loops run in plain C, which is what
 * the host tests check. Both give the exact int32 sums (wrapping like TFLM's).
 *
 * `off` is added to every input value (x + off): 0 for windows inside the image (the folded
 * bias carries the input offset), the layer's input_offset where a window is clipped (TFLM's
 * own arithmetic, with the model's bias). On DSP cores SXTAB16 adds it for free.
 */
#ifndef TFLE_DSP_H
#define TFLE_DSP_H

#include <stdint.h>
#include <string.h>

#include "tfle_math.h"

#if defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT
#include <arm_acle.h>
#endif

#if defined(__GNUC__)
#define TFLE_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define TFLE_ALWAYS_INLINE static inline
#endif

/* Windows are short: keep GCC from turning window loops into memcpy/memset calls, which cost
 * more than the copies themselves. */
#if defined(__GNUC__) && !defined(__clang__)
#define TFLE_NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define TFLE_NO_LIBCALLS
#endif

/* The taps k in [*lo, *hi) with 0 <= origin + dilation * k < size (a contiguous range). */
static inline void tfle_clip_taps(int32_t origin, int32_t dilation, int32_t taps,
                                  int32_t size, int32_t *lo, int32_t *hi) {
  int32_t l, h;
  if (dilation == 1) { /* no division for the common case */
    l = origin >= 0 ? 0 : -origin;
    h = size - origin <= 0 ? 0 : size - origin;
  } else {
    l = origin >= 0 ? 0 : (-origin + dilation - 1) / dilation;
    h = size - origin <= 0 ? 0 : (size - origin + dilation - 1) / dilation;
  }
  if (h > taps) h = taps;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

#if TFLE_HAVE_SMLAD
/* Four int8 values as one word (an unaligned LDR on these cores). */
TFLE_ALWAYS_INLINE uint32_t tfle_ld4(const int8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* Bytes 1 and 3 as signed halfwords: one instruction (the ACLE has no rotated form). */
TFLE_ALWAYS_INLINE uint32_t tfle_sxtb16_hi(uint32_t x) {
  uint32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
  return r;
}

/* a + bytes 1 and 3 of x, halfword by halfword. */
TFLE_ALWAYS_INLINE uint32_t tfle_sxtab16_hi(uint32_t a, uint32_t x) {
  uint32_t r;
  __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
  return r;
}

/* off in both halfwords (|off| <= 255, so x + off fits a halfword). */
TFLE_ALWAYS_INLINE uint32_t tfle_pair(int32_t off) { return ((uint32_t)off & 0xffffu) * 0x10001u; }
#endif

/* Sign-extend bytes 0 and 2 / 1 and 3 of an input word, adding offp when with_off (a literal at
 * every call site, so the choice is made at compile time). */
#if TFLE_HAVE_SMLAD
#define TFLE_EXT_LO(with_off, offp, v) ((with_off) ? __sxtab16((offp), (v)) : __sxtb16(v))
#define TFLE_EXT_HI(with_off, offp, v) \
  ((with_off) ? tfle_sxtab16_hi((offp), (v)) : tfle_sxtb16_hi(v))
#endif

/* The part of a filter window that a micro-kernel walks: `rows` runs of n contiguous values;
 * after each run the input pointer moves on by x_jump and the weight pointer by w_jump (from
 * the end of the run). A fully connected row is one run. */
typedef struct {
  int32_t rows, n, x_jump, w_jump;
} tfle_window;

TFLE_ALWAYS_INLINE tfle_window tfle_window_of(int32_t rows, int32_t n, int32_t x_jump,
                                              int32_t w_jump) {
  tfle_window win;
  win.rows = rows;
  win.n = n;
  win.x_jump = x_jump;
  win.w_jump = w_jump;
  return win;
}

/* acc[0] += x . w over the window (x + off when with_off). */
TFLE_ALWAYS_INLINE void tfle_mk_1x1(const int8_t *x, const int8_t *w, tfle_window win,
                                    int with_off, int32_t off, int32_t *acc) {
  int32_t a = acc[0], r;
#if TFLE_HAVE_SMLAD
  const uint32_t offp = tfle_pair(with_off ? off : 0);
#endif
  if (!with_off) off = 0;
  for (r = 0; r < win.rows; r++) {
    const int8_t *const end = x + win.n;
#if TFLE_HAVE_SMLAD
    const int8_t *const end4 = x + (win.n & ~3);
    while (x != end4) {
      const uint32_t xv = tfle_ld4(x), wv = tfle_ld4(w);
      x += 4;
      w += 4;
      a = (int32_t)__smlad(TFLE_EXT_LO(with_off, offp, xv), __sxtb16(wv), a);
      a = (int32_t)__smlad(TFLE_EXT_HI(with_off, offp, xv), tfle_sxtb16_hi(wv), a);
    }
#endif
    while (x != end) a += (*x++ + off) * *w++;
    x += win.x_jump;
    w += win.w_jump;
  }
  acc[0] = a;
}

#if TFLE_HAVE_SMLAD
/* Four values at offset o of two input rows (x, x + xs) by two weight rows (w, w + ws). */
#define TFLE_STEP_2X2(o)                                                    \
  do {                                                                      \
    const uint32_t xa = tfle_ld4(x + (o)), xb = tfle_ld4(x + xs + (o));     \
    const uint32_t wa = tfle_ld4(w + (o)), wb = tfle_ld4(w + ws + (o));     \
    uint32_t xa_e = TFLE_EXT_LO(with_off, offp, xa);                        \
    uint32_t xb_e = TFLE_EXT_LO(with_off, offp, xb);                        \
    uint32_t wa_e = __sxtb16(wa), wb_e = __sxtb16(wb);                      \
    a00 = (int32_t)__smlad(xa_e, wa_e, a00);                                \
    a01 = (int32_t)__smlad(xa_e, wb_e, a01);                                \
    a10 = (int32_t)__smlad(xb_e, wa_e, a10);                                \
    a11 = (int32_t)__smlad(xb_e, wb_e, a11);                                \
    xa_e = TFLE_EXT_HI(with_off, offp, xa);                                 \
    xb_e = TFLE_EXT_HI(with_off, offp, xb);                                 \
    wa_e = tfle_sxtb16_hi(wa);                                              \
    wb_e = tfle_sxtb16_hi(wb);                                              \
    a00 = (int32_t)__smlad(xa_e, wa_e, a00);                                \
    a01 = (int32_t)__smlad(xa_e, wb_e, a01);                                \
    a10 = (int32_t)__smlad(xb_e, wa_e, a10);                                \
    a11 = (int32_t)__smlad(xb_e, wb_e, a11);                                \
  } while (0)
#endif

/* Two input windows (x, x + xs) by two weight windows (w, w + ws):
 * acc = {x0.w0, x0.w1, x1.w0, x1.w1} (x + off when with_off). */
TFLE_ALWAYS_INLINE void tfle_mk_2x2(const int8_t *x, int32_t xs, const int8_t *w, int32_t ws,
                                    tfle_window win, int with_off, int32_t off, int32_t *acc) {
  int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3], r;
#if TFLE_HAVE_SMLAD
  const uint32_t offp = tfle_pair(with_off ? off : 0);
#endif
  if (!with_off) off = 0;
  for (r = 0; r < win.rows; r++) {
    const int8_t *const end = x + win.n;
#if TFLE_HAVE_SMLAD
    const int8_t *const end4 = x + (win.n & ~3);
    while (x != end4) {
      TFLE_STEP_2X2(0);
      x += 4;
      w += 4;
    }
#endif
    while (x != end) {
      const int32_t xa = x[0] + off, xb = x[xs] + off, wa = w[0], wb = w[ws];
      x++;
      w++;
      a00 += xa * wa;
      a01 += xa * wb;
      a10 += xb * wa;
      a11 += xb * wb;
    }
    x += win.x_jump;
    w += win.w_jump;
  }
  acc[0] = a00;
  acc[1] = a01;
  acc[2] = a10;
  acc[3] = a11;
}

/* Two input windows (x, x + xs) by one weight window: acc = {x0.w, x1.w}. */
TFLE_ALWAYS_INLINE void tfle_mk_2x1(const int8_t *x, int32_t xs, const int8_t *w,
                                    tfle_window win, int with_off, int32_t off, int32_t *acc) {
  int32_t a0 = acc[0], a1 = acc[1], r;
#if TFLE_HAVE_SMLAD
  const uint32_t offp = tfle_pair(with_off ? off : 0);
#endif
  if (!with_off) off = 0;
  for (r = 0; r < win.rows; r++) {
    const int8_t *const end = x + win.n;
#if TFLE_HAVE_SMLAD
    const int8_t *const end4 = x + (win.n & ~3);
    while (x != end4) {
      const uint32_t xa = tfle_ld4(x), xb = tfle_ld4(x + xs), wv = tfle_ld4(w);
      uint32_t w_e = __sxtb16(wv);
      x += 4;
      w += 4;
      a0 = (int32_t)__smlad(TFLE_EXT_LO(with_off, offp, xa), w_e, a0);
      a1 = (int32_t)__smlad(TFLE_EXT_LO(with_off, offp, xb), w_e, a1);
      w_e = tfle_sxtb16_hi(wv);
      a0 = (int32_t)__smlad(TFLE_EXT_HI(with_off, offp, xa), w_e, a0);
      a1 = (int32_t)__smlad(TFLE_EXT_HI(with_off, offp, xb), w_e, a1);
    }
#endif
    while (x != end) {
      const int32_t wv = *w++;
      a0 += (x[0] + off) * wv;
      a1 += (x[xs] + off) * wv;
      x++;
    }
    x += win.x_jump;
    w += win.w_jump;
  }
  acc[0] = a0;
  acc[1] = a1;
}

/* One input window by two weight windows (w, w + ws): acc = {x.w0, x.w1}. */
TFLE_ALWAYS_INLINE void tfle_mk_1x2(const int8_t *x, const int8_t *w, int32_t ws,
                                    tfle_window win, int with_off, int32_t off, int32_t *acc) {
  int32_t a0 = acc[0], a1 = acc[1], r;
#if TFLE_HAVE_SMLAD
  const uint32_t offp = tfle_pair(with_off ? off : 0);
#endif
  if (!with_off) off = 0;
  for (r = 0; r < win.rows; r++) {
    const int8_t *const end = x + win.n;
#if TFLE_HAVE_SMLAD
    const int8_t *const end4 = x + (win.n & ~3);
    while (x != end4) {
      const uint32_t xv = tfle_ld4(x), wa = tfle_ld4(w), wb = tfle_ld4(w + ws);
      uint32_t x_e = TFLE_EXT_LO(with_off, offp, xv);
      x += 4;
      w += 4;
      a0 = (int32_t)__smlad(x_e, __sxtb16(wa), a0);
      a1 = (int32_t)__smlad(x_e, __sxtb16(wb), a1);
      x_e = TFLE_EXT_HI(with_off, offp, xv);
      a0 = (int32_t)__smlad(x_e, tfle_sxtb16_hi(wa), a0);
      a1 = (int32_t)__smlad(x_e, tfle_sxtb16_hi(wb), a1);
    }
#endif
    while (x != end) {
      const int32_t xv = *x++ + off;
      a0 += xv * w[0];
      a1 += xv * w[ws];
      w++;
    }
    x += win.x_jump;
    w += win.w_jump;
  }
  acc[0] = a0;
  acc[1] = a1;
}

/* One input row by four weight rows w + j ws (no offset): the fully connected layer of batch
 * 1, where the input row is shared by every channel. */
TFLE_ALWAYS_INLINE void tfle_mk_1x4(const int8_t *x, const int8_t *w, int32_t ws, int32_t n,
                                    int32_t *acc) {
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  const int8_t *const end = x + n;
  const int8_t *w1 = w + ws, *w2 = w1 + ws, *w3 = w2 + ws;
#if TFLE_HAVE_SMLAD
  {
    const int8_t *const end4 = x + (n & ~3);
    while (x != end4) {
      const uint32_t xv = tfle_ld4(x);
      const uint32_t x_lo = __sxtb16(xv), x_hi = tfle_sxtb16_hi(xv);
      uint32_t wv = tfle_ld4(w);
      x += 4;
      w += 4;
      a0 = (int32_t)__smlad(x_lo, __sxtb16(wv), a0);
      a0 = (int32_t)__smlad(x_hi, tfle_sxtb16_hi(wv), a0);
      wv = tfle_ld4(w1);
      w1 += 4;
      a1 = (int32_t)__smlad(x_lo, __sxtb16(wv), a1);
      a1 = (int32_t)__smlad(x_hi, tfle_sxtb16_hi(wv), a1);
      wv = tfle_ld4(w2);
      w2 += 4;
      a2 = (int32_t)__smlad(x_lo, __sxtb16(wv), a2);
      a2 = (int32_t)__smlad(x_hi, tfle_sxtb16_hi(wv), a2);
      wv = tfle_ld4(w3);
      w3 += 4;
      a3 = (int32_t)__smlad(x_lo, __sxtb16(wv), a3);
      a3 = (int32_t)__smlad(x_hi, tfle_sxtb16_hi(wv), a3);
    }
  }
#endif
  while (x != end) {
    const int32_t xv = *x++;
    a0 += xv * *w++;
    a1 += xv * *w1++;
    a2 += xv * *w2++;
    a3 += xv * *w3++;
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

/* A layer's requantization, read once into locals: the kernels store int8 outputs, which C
 * lets alias anything, so values read through the parameter block would be read again after
 * every store. */
typedef struct {
  const int32_t *bias, *mult;
  const int8_t *shift;
  int32_t qstep; /* 1: per-channel multipliers, 0: one for every channel */
  int32_t out_offset, act_min, act_max;
} tfle_requant;

TFLE_ALWAYS_INLINE tfle_requant tfle_requant_of(const int32_t *bias, const int32_t *mult,
                                               const int8_t *shift, int32_t per_channel,
                                               int32_t out_offset, int32_t act_min,
                                               int32_t act_max) {
  tfle_requant r;
  r.bias = bias;
  r.mult = mult;
  r.shift = shift;
  r.qstep = per_channel ? 1 : 0;
  r.out_offset = out_offset;
  r.act_min = act_min;
  r.act_max = act_max;
  return r;
}

/* One channel's bias and requantization, in registers while its outputs are written.
 *
 * For a right shift r = -shift >= 1 (multipliers below one, the usual case) TFLM's two
 * roundings, SRDHM then RoundingDivideByPOT, fold into one: floor(floor(a / m) + c) / n) =
 * floor((a + c m) / (m n)) for integers, so
 *   MultiplyByQuantizedMultiplier(x, M, -r) = (x M + 2^30 + 2^(30 + r) - [x < 0] 2^31) >> (31 + r)
 * exactly (the sign of SRDHM's result only differs from x's where that result is 0, which
 * rounds to 0 either way). The constant 2^30 + 2^(30 + r) is (k_hi, k_lo) below; the
 * whole requantization is two multiply-accumulates into 64 bits and one shift of the high
 * word. Other shifts take tfle_requantize. */
typedef struct {
  int32_t bias, mult, shift;
  int32_t hi_shift;    /* r - 1 */
  uint32_t k_lo, k_hi; /* 2^30 + 2^(30 + r) */
} tfle_channel;

TFLE_ALWAYS_INLINE tfle_channel tfle_channel_of(const tfle_requant *r, int32_t ch) {
  tfle_channel c;
  uint32_t pw;
  c.bias = r->bias[ch];
  c.mult = r->mult[ch * r->qstep];
  c.shift = r->shift[ch * r->qstep];
  pw = 1u << ((-c.shift) & 31); /* 2^r (only used when shift < 0) */
  c.hi_shift = -c.shift - 1;
  c.k_lo = 0x40000000u + (pw << 30);
  c.k_hi = pw >> 2;
  return c;
}

/* x * M * 2^-r with TFLM's roundings, for a channel whose shift is negative (see above). */
TFLE_ALWAYS_INLINE int32_t tfle_mul_shift_right(int32_t x, const tfle_channel *c) {
#if defined(__arm__) && defined(__ARM_ARCH_ISA_THUMB) && __ARM_ARCH_ISA_THUMB >= 2
  /* two SMLALs; written out because the compiler turns the constant one into five
   * instructions */
  uint32_t lo = c->k_lo;
  int32_t hi = (int32_t)c->k_hi;
  const int32_t negative = (int32_t)((uint32_t)x >> 31);
  __asm__("smlal %0, %1, %2, %3\n\tsmlal %0, %1, %4, %5"
          : "+&r"(lo), "+&r"(hi)
          : "r"(x), "r"(c->mult), "r"(negative), "r"(INT32_MIN));
  return hi >> c->hi_shift;
#else
  int64_t v = (int64_t)(((uint64_t)c->k_hi << 32) | c->k_lo);
  v += (int64_t)x * c->mult;
  v -= (int64_t)((uint32_t)x >> 31) << 31;
  return (int32_t)(v >> 32) >> c->hi_shift;
#endif
}

/* How a layer clamps its outputs: its activation range is all of int8 (one saturation), or
 * anything else (a minimum and a maximum). Kernels are compiled for both (flash is spent on
 * the variants, so there are just two). */
#define TFLE_CLAMP_ANY 0
#define TFLE_CLAMP_INT8 1

TFLE_ALWAYS_INLINE int tfle_clamp_mode(const tfle_requant *r) {
  return r->act_min == -128 && r->act_max == 127 ? TFLE_CLAMP_INT8 : TFLE_CLAMP_ANY;
}

TFLE_ALWAYS_INLINE int32_t tfle_sat8(int32_t y) {
#if defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT
  return __ssat(y, 8);
#else
  return y < -128 ? -128 : (y > 127 ? 127 : y);
#endif
}

/* The int8 output of one accumulator: bias, requantization, output offset, clamp. `mode` (a
 * literal at every call site) is the layer's TFLE_CLAMP_*. */
TFLE_ALWAYS_INLINE int8_t tfle_out_c(const tfle_requant *r, const tfle_channel *c, int32_t acc,
                                     int mode) {
  const int32_t x = tfle_wrap_add(acc, c->bias);
  int32_t y = c->shift < 0 ? tfle_mul_shift_right(x, c) : tfle_requantize(x, c->mult, c->shift);
  y += r->out_offset;
  if (mode == TFLE_CLAMP_INT8) {
    y = tfle_sat8(y);
  } else {
    y = y < r->act_min ? r->act_min : y;
    y = y > r->act_max ? r->act_max : y;
  }
  return (int8_t)y;
}

TFLE_ALWAYS_INLINE int8_t tfle_out(const tfle_requant *r, const tfle_channel *c, int32_t acc) {
  return tfle_out_c(r, c, acc, TFLE_CLAMP_ANY);
}

/* The blocked GEMM of tfle_fully_connected.c (also used for convolutions over gathered windows):
 * y[m * y_stride + n] = requantized x[m] . w[n] over k values, m < rows, n < n_out. */
void tfle_gemm_s8(const int8_t *x, int32_t rows, int32_t k, const int8_t *w, int32_t n_out,
                  const tfle_requant *r, int8_t *y, int32_t y_stride);

#endif /* TFLE_DSP_H */
