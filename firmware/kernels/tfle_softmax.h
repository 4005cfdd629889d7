/* The int8-input SOFTMAX core of TFLM's reference_ops::Softmax (the gemmlowp fixed-point
 * path: exp on Q5.26 differences, sum in Q12.19, Newton-Raphson reciprocal), generated for
 * each output type: tfle_softmax.c (int8 out, 8 output bits, offset -128) and
 * tfle_softmax_s8_s16.c (int16 out, 16 output bits, offset -32768). A macro, so that each
 * output type gets its own copy with constant shifts and bounds. */
#ifndef TFLE_SOFTMAX_H
#define TFLE_SOFTMAX_H

#include "tfle_kernels.h"

#define TFLE_SOFTMAX_SCALED_DIFF_INTEGER_BITS 5
#define TFLE_SOFTMAX_ACCUMULATION_INTEGER_BITS 12

/* NAME(p, input, output) for int8 input and OUT_T output: the result is rounded by
 * num_bits_over_unit + 31 - OUT_BITS, offset by -OUT_OFFSET and clamped to OUT_T. */
#define TFLE_SOFTMAX_S8_DEFINE(NAME, OUT_T, OUT_BITS, OUT_OFFSET, OUT_MAX)                    \
  void NAME(const tfle_softmax_params *p, const int8_t *input, OUT_T *output) {               \
    int32_t i, c;                                                                             \
    for (i = 0; i < p->outer; i++) {                                                          \
      const int8_t *in = input + i * p->depth;                                                \
      OUT_T *out = output + i * p->depth;                                                     \
      int32_t max_in_row = -128;                                                              \
      int32_t sum_of_exps = 0;                                                                \
      int32_t shifted_scale;                                                                  \
      int num_bits_over_unit;                                                                 \
      for (c = 0; c < p->depth; c++) max_in_row = tfle_max_i32(max_in_row, in[c]);            \
      for (c = 0; c < p->depth; c++) {                                                        \
        const int32_t diff = (int32_t)in[c] - max_in_row;                                     \
        if (diff >= p->diff_min) {                                                            \
          const int32_t scaled =                                                              \
              tfle_quant_mul_gt_one(diff, p->input_multiplier, p->input_left_shift);          \
          const int32_t e =                                                                   \
              tfle_exp_on_negative_values(scaled, TFLE_SOFTMAX_SCALED_DIFF_INTEGER_BITS);     \
          sum_of_exps = tfle_wrap_add(                                                        \
              sum_of_exps, tfle_div_pow2_round(e, TFLE_SOFTMAX_ACCUMULATION_INTEGER_BITS));   \
        }                                                                                     \
      }                                                                                       \
      shifted_scale = tfle_get_reciprocal(sum_of_exps, TFLE_SOFTMAX_ACCUMULATION_INTEGER_BITS, \
                                          &num_bits_over_unit);                               \
      for (c = 0; c < p->depth; c++) {                                                        \
        const int32_t diff = (int32_t)in[c] - max_in_row;                                     \
        if (diff >= p->diff_min) {                                                            \
          const int32_t scaled =                                                              \
              tfle_quant_mul_gt_one(diff, p->input_multiplier, p->input_left_shift);          \
          const int32_t e =                                                                   \
              tfle_exp_on_negative_values(scaled, TFLE_SOFTMAX_SCALED_DIFF_INTEGER_BITS);     \
          const int32_t unsat = tfle_div_pow2_round(tfle_doubling_high_mul(shifted_scale, e), \
                                                    num_bits_over_unit + 31 - (OUT_BITS));    \
          out[c] = (OUT_T)tfle_clamp_i32(unsat - (OUT_OFFSET), -(OUT_OFFSET), (OUT_MAX));     \
        } else {                                                                              \
          out[c] = -(OUT_OFFSET);                                                             \
        }                                                                                     \
      }                                                                                       \
    }                                                                                         \
  }

#endif /* TFLE_SOFTMAX_H */
