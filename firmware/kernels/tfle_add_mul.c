/* ADD, SUB, MUL and SQUARED_DIFFERENCE, int8 and int16, with broadcasting. Bit-exact with
 * TFLM's reference kernels: ADD, SUB and SQUARED_DIFFERENCE rescale both operands to a common
 * scale after a left shift (20 for int8 ADD/SUB, 15 for int16, 7 / 0 for SQUARED_DIFFERENCE),
 * MUL multiplies them; the result is requantized with tfle_math.h's
 * MultiplyByQuantizedMultiplier equivalents and clamped to the activation range. */
#include "tfle_extra.h"

#include "tfle_math.h"

/* ---------------------------------------------------------------- one element, any type */

static int32_t x_add_val(const tfle_add_params *p, int32_t a, int32_t b) {
  const int32_t shifted1 = tfle_wrap_shl(p->input1_offset + a, p->left_shift);
  const int32_t shifted2 = tfle_wrap_shl(p->input2_offset + b, p->left_shift);
  const int32_t scaled1 = tfle_quant_mul_lt_one(shifted1, p->input1_multiplier, p->input1_shift);
  const int32_t scaled2 = tfle_quant_mul_lt_one(shifted2, p->input2_multiplier, p->input2_shift);
  const int32_t raw =
    tfle_quant_mul_lt_one(scaled1 + scaled2, p->output_multiplier, p->output_shift) +
    p->output_offset;
  return tfle_clamp_i32(raw, p->act_min, p->act_max);
}

static int32_t x_sub_val(const tfle_add_params *p, int32_t a, int32_t b) {
  const int32_t shifted1 = tfle_wrap_shl(p->input1_offset + a, p->left_shift);
  const int32_t shifted2 = tfle_wrap_shl(p->input2_offset + b, p->left_shift);
  const int32_t scaled1 = tfle_quant_mul_lt_one(shifted1, p->input1_multiplier, p->input1_shift);
  const int32_t scaled2 = tfle_quant_mul_lt_one(shifted2, p->input2_multiplier, p->input2_shift);
  const int32_t raw =
    tfle_quant_mul_lt_one(scaled1 - scaled2, p->output_multiplier, p->output_shift) +
    p->output_offset;
  return tfle_clamp_i32(raw, p->act_min, p->act_max);
}

/* TFLM's SquaredDifference: the rescaled difference squared (wrapping like its int32), then
 * MultiplyByQuantizedMultiplier (the output multiplier may exceed one). */
static int32_t x_squared_difference_val(const tfle_add_params *p, int32_t a, int32_t b) {
  const int32_t shifted1 = tfle_wrap_shl(p->input1_offset + a, p->left_shift);
  const int32_t shifted2 = tfle_wrap_shl(p->input2_offset + b, p->left_shift);
  const int32_t scaled1 = tfle_quant_mul_lt_one(shifted1, p->input1_multiplier, p->input1_shift);
  const int32_t scaled2 = tfle_quant_mul_lt_one(shifted2, p->input2_multiplier, p->input2_shift);
  const int32_t diff = tfle_wrap_sub(scaled1, scaled2);
  const int32_t squared = (int32_t)((uint32_t)diff * (uint32_t)diff);
  const int32_t raw =
    tfle_quant_mul(squared, p->output_multiplier, p->output_shift) + p->output_offset;
  return tfle_clamp_i32(raw, p->act_min, p->act_max);
}

static int32_t x_mul_val(const tfle_mul_params *p, int32_t a, int32_t b) {
  const int32_t v1 = p->input1_offset + a;
  const int32_t v2 = p->input2_offset + b;
  const int32_t raw =
    p->output_offset + tfle_quant_mul(v1 * v2, p->output_multiplier, p->output_shift);
  return tfle_clamp_i32(raw, p->act_min, p->act_max);
}

/* ---------------------------------------------------------------- broadcasting */

/* y[i] = VAL(p, x1[..], x2[..]) over the output, for element type T, the inputs followed
 * through their broadcast strides (TFLE_BCAST_EACH). */
#define X_BINARY(NAME, PARAMS, T, VAL)                                              \
  void NAME(const PARAMS *p, const tfle_bcast *b, const T *x1, const T *x2, T *y) { \
    TFLE_BCAST_EACH(b, i, j1, j2, y[i] = (T)VAL(p, x1[j1], x2[j2]));                \
  }

X_BINARY(tfle_add_s8, tfle_add_params, int8_t, x_add_val)
X_BINARY(tfle_add_s16, tfle_add_params, int16_t, x_add_val)
X_BINARY(tfle_sub_s8, tfle_add_params, int8_t, x_sub_val)
X_BINARY(tfle_sub_s16, tfle_add_params, int16_t, x_sub_val)
X_BINARY(tfle_squared_difference_s8, tfle_add_params, int8_t, x_squared_difference_val)
X_BINARY(tfle_squared_difference_s16, tfle_add_params, int16_t, x_squared_difference_val)
X_BINARY(tfle_mul_s8, tfle_mul_params, int8_t, x_mul_val)
X_BINARY(tfle_mul_s16, tfle_mul_params, int16_t, x_mul_val)
