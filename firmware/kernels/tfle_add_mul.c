/* ADD and MUL, int8, with broadcasting. Bit-exact with TFLM's reference kernels: the
 * operands are rescaled to a common scale (ADD, left shift 20) or multiplied (MUL), then
 * requantized with tfle_math.h's MultiplyByQuantizedMultiplier equivalents. */
#include "tfle_extra.h"

#include "tfle_math.h"

/* ---------------------------------------------------------------- broadcasting */

typedef int8_t (*x_binary_fn)(const void *params, int8_t a, int8_t b);

static void x_binary(const void *params, const tfle_bcast *b, const int8_t *x1, const int8_t *x2,
           int8_t *y, x_binary_fn fn) {
  int32_t idx[TFLE_X_MAX_DIMS];
  int32_t off1 = 0, off2 = 0, i, d, n = b->size;
  if (!b->broadcast) {
    for (i = 0; i < n; ++i) {
      y[i] = fn(params, x1[i], x2[i]);
    }
    return;
  }
  for (d = 0; d < TFLE_X_MAX_DIMS; ++d) {
    idx[d] = 0;
  }
  /* odometer over the output, innermost dimension last; inputs follow their strides */
  for (i = 0; i < n; ++i) {
    y[i] = fn(params, x1[off1], x2[off2]);
    for (d = TFLE_X_MAX_DIMS - 1; d >= 0; --d) {
      off1 += b->stride1[d];
      off2 += b->stride2[d];
      if (++idx[d] < b->dims[d]) {
        break;
      }
      off1 -= b->stride1[d] * b->dims[d];
      off2 -= b->stride2[d] * b->dims[d];
      idx[d] = 0;
    }
  }
}

static int8_t x_add_one(const void *params, int8_t a, int8_t b) {
  const tfle_add_params *p = (const tfle_add_params *)params;
  const int32_t shifted1 = tfle_wrap_shl(p->input1_offset + a, p->left_shift);
  const int32_t shifted2 = tfle_wrap_shl(p->input2_offset + b, p->left_shift);
  const int32_t scaled1 = tfle_quant_mul_lt_one(shifted1, p->input1_multiplier, p->input1_shift);
  const int32_t scaled2 = tfle_quant_mul_lt_one(shifted2, p->input2_multiplier, p->input2_shift);
  const int32_t raw =
    tfle_quant_mul_lt_one(scaled1 + scaled2, p->output_multiplier, p->output_shift) +
    p->output_offset;
  return (int8_t)tfle_clamp_i32(raw, p->act_min, p->act_max);
}

static int8_t x_mul_one(const void *params, int8_t a, int8_t b) {
  const tfle_mul_params *p = (const tfle_mul_params *)params;
  const int32_t v1 = p->input1_offset + a;
  const int32_t v2 = p->input2_offset + b;
  const int32_t raw =
    p->output_offset + tfle_quant_mul(v1 * v2, p->output_multiplier, p->output_shift);
  return (int8_t)tfle_clamp_i32(raw, p->act_min, p->act_max);
}

void tfle_add_s8(const tfle_add_params *p, const tfle_bcast *b, const int8_t *x1,
         const int8_t *x2, int8_t *y) {
  x_binary(p, b, x1, x2, y, x_add_one);
}

void tfle_mul_s8(const tfle_mul_params *p, const tfle_bcast *b, const int8_t *x1,
         const int8_t *x2, int8_t *y) {
  x_binary(p, b, x1, x2, y, x_mul_one);
}
