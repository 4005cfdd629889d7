/* SOFTMAX, int8 in and int16 out. Bit-exact with TFLM's reference_ops::Softmax<int8_t, int16_t>:
 * exp on Q5.26 differences, sum in Q12.19, Newton-Raphson reciprocal, then a rounding shift by
 * num_bits_over_unit + 31 - 16 and the offset -32768. A file of its own so that the int8 -> int8
 * kernel (tfle_softmax.c) stays as it is. */
#include "tfle_softmax_s8_s16.h"

#define SCALED_DIFF_INTEGER_BITS 5
#define ACCUMULATION_INTEGER_BITS 12

void tfle_softmax_s8_s16(const tfle_softmax_params *p, const int8_t *input, int16_t *output) {
  int32_t i, c;
  for (i = 0; i < p->outer; i++) {
    const int8_t *in = input + i * p->depth;
    int16_t *out = output + i * p->depth;
    int32_t max_in_row = -128;
    int32_t sum_of_exps = 0;
    int32_t shifted_scale;
    int num_bits_over_unit;
    for (c = 0; c < p->depth; c++) max_in_row = tfle_max_i32(max_in_row, in[c]);
    for (c = 0; c < p->depth; c++) {
      const int32_t diff = (int32_t)in[c] - max_in_row;
      if (diff >= p->diff_min) {
        const int32_t scaled = tfle_quant_mul_gt_one(diff, p->input_multiplier, p->input_left_shift);
        const int32_t e = tfle_exp_on_negative_values(scaled, SCALED_DIFF_INTEGER_BITS);
        sum_of_exps = tfle_wrap_add(sum_of_exps, tfle_div_pow2_round(e, ACCUMULATION_INTEGER_BITS));
      }
    }
    shifted_scale = tfle_get_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS, &num_bits_over_unit);
    for (c = 0; c < p->depth; c++) {
      const int32_t diff = (int32_t)in[c] - max_in_row;
      if (diff >= p->diff_min) {
        const int32_t scaled = tfle_quant_mul_gt_one(diff, p->input_multiplier, p->input_left_shift);
        const int32_t e = tfle_exp_on_negative_values(scaled, SCALED_DIFF_INTEGER_BITS);
        const int32_t unsat = tfle_div_pow2_round(tfle_doubling_high_mul(shifted_scale, e), num_bits_over_unit + 31 - 16);
        out[c] = (int16_t)tfle_clamp_i32(unsat - 32768, -32768, 32767);
      } else {
        out[c] = -32768;
      }
    }
  }
}
