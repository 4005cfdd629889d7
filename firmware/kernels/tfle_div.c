/* DIV: TFLM's quantized division per element, the output walked in order and each input
 * through its broadcast strides. */
#include "tfle_div.h"

#include "tfle_math.h"

/* TFLM's CountLeadingSignBits for int32 (__builtin_clrsb; 31 for 0). */
static inline int tfle_clrsb32(int32_t x) {
  return x >= 0 ? tfle_clz32((uint32_t)x) - 1 : tfle_clz32(~(uint32_t)x) - 1;
}

static inline int8_t tfle_div_one(const tfle_div_params *p, int32_t a, int32_t b) {
  int32_t v1 = p->input1_offset + a;
  int32_t v2 = p->input2_offset + b;
  int recip_shift, headroom;
  int32_t inv, quotient, out;
  if (v2 == 0) {
    return (int8_t)(v1 >= 0 ? p->act_max : p->act_min);
  }
  if (v2 < 0) {
    v1 = -v1;
    v2 = -v2;
  }
  inv = tfle_get_reciprocal(v2, 31, &recip_shift);
  headroom = tfle_clrsb32(v1);
  quotient = tfle_quant_mul_gt_one(v1, inv, headroom);
  out = p->output_offset +
        tfle_quant_mul_lt_one(quotient, p->multiplier, p->shift - recip_shift - headroom);
  return (int8_t)tfle_clamp_i32(out, p->act_min, p->act_max);
}

void tfle_div_s8(const tfle_div_params *p, const tfle_bcast *b, const int8_t *x1,
                 const int8_t *x2, int8_t *y) {
  TFLE_BCAST_EACH(b, i, j1, j2, y[i] = tfle_div_one(p, x1[j1], x2[j2]));
}
