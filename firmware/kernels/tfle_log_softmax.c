/* LOG_SOFTMAX: TFLM's LogSoftmaxQuantized<int8_t> and its log_x_for_x_greater_than_or_equal_to_1
 * (kernels/internal/common.h), with the gemmlowp helpers of tfle_math.h. */
#include "tfle_log_softmax.h"

#include "tfle_math.h"

static int32_t tfle_sat_add(int32_t a, int32_t b) {
  const int64_t s = (int64_t)a + (int64_t)b;
  return s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : (int32_t)s);
}

static int32_t tfle_sat_sub(int32_t a, int32_t b) {
  const int64_t s = (int64_t)a - (int64_t)b;
  return s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : (int32_t)s);
}

/* log(x) for x >= 1: input Q12 (raw), output Q5 (raw), accumulated in Q6. */
static int32_t tfle_log_x_ge_1_q12_to_q5(int32_t z_a) {
  enum { kInputBits = 12, kAccumBits = 6 };
  const int32_t log_2 = 1488522236;
  const int32_t sqrt_sqrt_half = 1805811301;
  const int32_t sqrt_half = 1518500250;
  const int32_t one_quarter = 536870912;
  const int32_t alpha_n = 117049297;
  const int32_t alpha_d = 127690142;
  const int32_t alpha_i = 1057819769;
  const int32_t alpha_f = 638450708;
  const int32_t shifted_quarter = tfle_div_pow2_round(one_quarter, kAccumBits);
  const int z_a_headroom_plus_1 = tfle_clz32((uint32_t)z_a);
  const int32_t r_a_tmp = tfle_mul_pow2_sat(z_a, z_a_headroom_plus_1 - 1);
  const int32_t r_a_raw = tfle_mul_pow2_sat(tfle_doubling_high_mul(r_a_tmp, sqrt_half), 1);
  const int32_t z_a_pow_2_adj = tfle_sat_add(
      tfle_mul_pow2_sat(kInputBits - z_a_headroom_plus_1, 31 - kAccumBits), shifted_quarter);
  const int32_t z_b = tfle_doubling_high_mul(z_a, sqrt_half);
  const int z_b_headroom = tfle_clz32((uint32_t)z_b) - 1;
  const int32_t r_b_raw = tfle_mul_pow2_sat(z_a, z_b_headroom);
  const int32_t z_b_pow_2_adj = tfle_sat_sub(
      tfle_mul_pow2_sat(kInputBits - z_b_headroom, 31 - kAccumBits), shifted_quarter);
  const int32_t r = tfle_min_i32(r_a_raw, r_b_raw);
  const int32_t z_pow_2_adj = tfle_max_i32(z_a_pow_2_adj, z_b_pow_2_adj);
  const int32_t pp = tfle_rounding_half_sum(r, sqrt_sqrt_half);
  int32_t q = tfle_wrap_sub(r, sqrt_sqrt_half);
  int32_t common_sq, num, denom_minus_one, recip_denom, num_scaled, sum;
  q = tfle_wrap_add(q, q);
  common_sq = tfle_doubling_high_mul(q, q);
  num = tfle_wrap_add(tfle_doubling_high_mul(q, r),
                      tfle_doubling_high_mul(tfle_doubling_high_mul(q, common_sq), alpha_n));
  denom_minus_one = tfle_wrap_add(
      tfle_doubling_high_mul(
          pp, tfle_wrap_add(tfle_wrap_add(alpha_i, q), tfle_doubling_high_mul(alpha_d, common_sq))),
      tfle_doubling_high_mul(alpha_f, q));
  recip_denom = tfle_one_over_one_plus_x_for_x_in_0_1(denom_minus_one);
  num_scaled = tfle_div_pow2_round(num, kAccumBits); /* Rescale<6> from Q0 */
  sum = tfle_wrap_add(tfle_doubling_high_mul(z_pow_2_adj, log_2),
                      tfle_doubling_high_mul(num_scaled, recip_denom));
  return tfle_mul_pow2_sat(sum, 1); /* Rescale<5> from Q6 */
}

void tfle_log_softmax_s8(const tfle_log_softmax_params *p, const int8_t *x, int8_t *y) {
  const int32_t depth = p->depth;
  int32_t o, c;
  for (o = 0; o < p->outer_size; ++o) {
    const int8_t *in = x + (size_t)o * (size_t)depth;
    int8_t *out = y + (size_t)o * (size_t)depth;
    int32_t max_in_row = -128, sum_q12 = 0, log_sum_q5, adjusted_diff_min;
    for (c = 0; c < depth; ++c) {
      max_in_row = tfle_max_i32(max_in_row, in[c]);
    }
    for (c = 0; c < depth; ++c) {
      const int32_t diff = in[c] - max_in_row;
      if (diff >= p->diff_min) {
        const int32_t diff_q5 = tfle_quant_mul(diff, p->input_multiplier, p->input_left_shift);
        sum_q12 = tfle_wrap_add(
            sum_q12, tfle_div_pow2_round(tfle_exp_on_negative_values(diff_q5, 5), 12));
      }
    }
    log_sum_q5 = tfle_log_x_ge_1_q12_to_q5(sum_q12);
    adjusted_diff_min =
        tfle_max_i32(p->diff_min - 1, tfle_quant_mul(tfle_wrap_add(log_sum_q5, INT32_MIN),
                                                     p->reverse_multiplier, p->reverse_shift));
    for (c = 0; c < depth; ++c) {
      const int32_t diff = in[c] - max_in_row;
      if (diff > adjusted_diff_min) {
        const int32_t diff_q5 = tfle_quant_mul(diff, p->input_multiplier, p->input_left_shift);
        const int32_t v =
            tfle_div_pow2_round(tfle_wrap_sub(diff_q5, log_sum_q5), 31 - 5 - 4) + 127;
        out[c] = (int8_t)tfle_clamp_i32(v, -128, 127);
      } else {
        out[c] = -128;
      }
    }
  }
}
