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

#if defined(__GNUC__)
#define TFLE_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define TFLE_ALWAYS_INLINE static inline
#endif

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

/* acc[0] += x . w over n values (x + off when with_off). */
TFLE_ALWAYS_INLINE void tfle_mk_1x1(const int8_t *x, const int8_t *w, int32_t n, int with_off,
                                    int32_t off, int32_t *acc) {
  int32_t a = acc[0];
  const int8_t *const end = x + n;
  if (!with_off) off = 0;
#if TFLE_HAVE_SMLAD
  {
    const uint32_t offp = tfle_pair(off);
    const int8_t *const end4 = x + (n & ~3);
    while (x != end4) {
      const uint32_t xv = tfle_ld4(x), wv = tfle_ld4(w);
      x += 4;
      w += 4;
      a = (int32_t)__smlad(TFLE_EXT_LO(with_off, offp, xv), __sxtb16(wv), a);
      a = (int32_t)__smlad(TFLE_EXT_HI(with_off, offp, xv), tfle_sxtb16_hi(wv), a);
    }
  }
#endif
  while (x != end) a += (*x++ + off) * *w++;
  acc[0] = a;
}

/* Two input rows (x, x + xs) by two weight rows (w, w + ws) over n values:
 * acc = {x0.w0, x0.w1, x1.w0, x1.w1} (x + off when with_off). */
TFLE_ALWAYS_INLINE void tfle_mk_2x2(const int8_t *x, int32_t xs, const int8_t *w, int32_t ws,
                                    int32_t n, int with_off, int32_t off, int32_t *acc) {
  int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
  const int8_t *const end = x + n;
  if (!with_off) off = 0;
#if TFLE_HAVE_SMLAD
  {
    const uint32_t offp = tfle_pair(off);
    const int8_t *const end4 = x + (n & ~3);
    while (x != end4) {
      const uint32_t xa = tfle_ld4(x), xb = tfle_ld4(x + xs);
      const uint32_t wa = tfle_ld4(w), wb = tfle_ld4(w + ws);
      uint32_t xa_e, xb_e, wa_e, wb_e;
      x += 4;
      w += 4;
      xa_e = TFLE_EXT_LO(with_off, offp, xa);
      xb_e = TFLE_EXT_LO(with_off, offp, xb);
      wa_e = __sxtb16(wa);
      wb_e = __sxtb16(wb);
      a00 = (int32_t)__smlad(xa_e, wa_e, a00);
      a01 = (int32_t)__smlad(xa_e, wb_e, a01);
      a10 = (int32_t)__smlad(xb_e, wa_e, a10);
      a11 = (int32_t)__smlad(xb_e, wb_e, a11);
      xa_e = TFLE_EXT_HI(with_off, offp, xa);
      xb_e = TFLE_EXT_HI(with_off, offp, xb);
      wa_e = tfle_sxtb16_hi(wa);
      wb_e = tfle_sxtb16_hi(wb);
      a00 = (int32_t)__smlad(xa_e, wa_e, a00);
      a01 = (int32_t)__smlad(xa_e, wb_e, a01);
      a10 = (int32_t)__smlad(xb_e, wa_e, a10);
      a11 = (int32_t)__smlad(xb_e, wb_e, a11);
    }
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
  acc[0] = a00;
  acc[1] = a01;
  acc[2] = a10;
  acc[3] = a11;
}

/* Two input rows (x, x + xs) by one weight row: acc = {x0.w, x1.w} (x + off when with_off). */
TFLE_ALWAYS_INLINE void tfle_mk_2x1(const int8_t *x, int32_t xs, const int8_t *w, int32_t n,
                                    int with_off, int32_t off, int32_t *acc) {
  int32_t a0 = acc[0], a1 = acc[1];
  const int8_t *const end = x + n;
  if (!with_off) off = 0;
#if TFLE_HAVE_SMLAD
  {
    const uint32_t offp = tfle_pair(off);
    const int8_t *const end4 = x + (n & ~3);
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
  }
#endif
  while (x != end) {
    const int32_t wv = *w++;
    a0 += (x[0] + off) * wv;
    a1 += (x[xs] + off) * wv;
    x++;
  }
  acc[0] = a0;
  acc[1] = a1;
}

/* One input row by two weight rows (w, w + ws): acc = {x.w0, x.w1} (x + off when with_off). */
TFLE_ALWAYS_INLINE void tfle_mk_1x2(const int8_t *x, const int8_t *w, int32_t ws, int32_t n,
                                    int with_off, int32_t off, int32_t *acc) {
  int32_t a0 = acc[0], a1 = acc[1];
  const int8_t *const end = x + n;
  if (!with_off) off = 0;
#if TFLE_HAVE_SMLAD
  {
    const uint32_t offp = tfle_pair(off);
    const int8_t *const end4 = x + (n & ~3);
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
  }
#endif
  while (x != end) {
    const int32_t xv = *x++ + off;
    a0 += xv * w[0];
    a1 += xv * w[ws];
    w++;
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

/* One channel's bias, multiplier and shift, in registers while its outputs are written. */
typedef struct {
  int32_t bias, mult, shift;
} tfle_channel;

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

TFLE_ALWAYS_INLINE tfle_channel tfle_channel_of(const tfle_requant *r, int32_t ch) {
  tfle_channel c;
  c.bias = r->bias[ch];
  c.mult = r->mult[ch * r->qstep];
  c.shift = r->shift[ch * r->qstep];
  return c;
}

/* The int8 output of one accumulator: bias, requantization, output offset, clamp. */
TFLE_ALWAYS_INLINE int8_t tfle_out(const tfle_requant *r, const tfle_channel *c, int32_t acc) {
  int32_t y = tfle_requantize(tfle_wrap_add(acc, c->bias), c->mult, c->shift) + r->out_offset;
  y = y < r->act_min ? r->act_min : y;
  y = y > r->act_max ? r->act_max : y;
  return (int8_t)y;
}

#endif /* TFLE_DSP_H */
