/* SOFTMAX, int16 in and out. Bit-exact with TFLM's reference_ops::SoftmaxInt16: differences
 * to the row maximum rescaled so that [-65535, 0] spans [-10, 0], exp and 1 / (1 + x) from
 * 513-entry tables with 7-bit linear interpolation (TFLM's LUTLookup), the tables computed at
 * compile time as TFLM's Prepare computes them (LUTPopulate). */
#include "tfle_extra.h"

#include "tfle_math.h"

/* TFLM's LUTLookup for int16: 512 base values indexed by the top 9 bits of x, interpolated
 * with the low 7 bits (lut[512] gives the last slope). */
static int16_t x_lut_lookup(int16_t value, const int16_t *lut) {
  const uint16_t index = (uint16_t)(256 + (value >> 7));
  const int16_t offset = (int16_t)(value & 0x7f);
  const int16_t base = lut[index];
  const int16_t slope = (int16_t)(lut[index + 1] - lut[index]);
  const int32_t delta = ((int32_t)slope * offset + 64) >> 7;
  return (int16_t)(base + delta);
}

void tfle_softmax_s16(const tfle_softmax16_params *p, const int16_t *exp_lut,
              const int16_t *one_over_one_plus_x_lut, const int16_t *x, int16_t *y) {
  int32_t i, c;
  for (i = 0; i < p->outer; ++i) {
    const int16_t *in = x + i * p->depth;
    int16_t *out = y + i * p->depth; /* holds the row's exps (Q0.15) until the rescale */
    int16_t max_in_row = -32768;
    int32_t sum_of_exps = 0; /* Q16.15 */
    int headroom_plus_one, right_shift;
    int32_t shifted_sum, sym_shifted_sum;
    int16_t reciprocal_q015;
    for (c = 0; c < p->depth; ++c) {
      max_in_row = in[c] > max_in_row ? in[c] : max_in_row;
    }
    for (c = 0; c < p->depth; ++c) {
      const int32_t diff = (int32_t)in[c] - max_in_row;
      const int32_t scaled = tfle_quant_mul(diff, p->input_multiplier, p->input_left_shift);
      const int32_t sym = tfle_clamp_i32(scaled + 32767, -32768, 32767);
      out[c] = x_lut_lookup((int16_t)sym, exp_lut);
      sum_of_exps = tfle_wrap_add(sum_of_exps, out[c]);
    }
    headroom_plus_one = tfle_clz32((uint32_t)sum_of_exps);
    shifted_sum =
      (int32_t)((((int64_t)sum_of_exps << (headroom_plus_one - 1)) + (1 << 13)) >> 14);
    /* 1 / (1 + x) with x = sum - 1, recentred from [0, 65535] to [-32768, 32767] */
    sym_shifted_sum = shifted_sum + (-((1 << 15) + (1 << 16)));
    reciprocal_q015 = x_lut_lookup(
      (int16_t)tfle_clamp_i32(sym_shifted_sum, -32768, 32767), one_over_one_plus_x_lut);
    right_shift = 31 - headroom_plus_one;
    for (c = 0; c < p->depth; ++c) {
      const int64_t round = (int64_t)1 << (right_shift - 1);
      const int32_t result =
        (int32_t)(((int64_t)out[c] * (int64_t)reciprocal_q015 + round) >> right_shift);
      out[c] = (int16_t)tfle_clamp_i32(result, 0, 32767);
    }
  }
}
