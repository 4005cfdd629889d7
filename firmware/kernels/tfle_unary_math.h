/* tflite-edge: elementwise quantized math as TFLM's kernels compute it: ABS (int8, int16),
 * RSQRT (int8) and a 256-entry lookup table (int8 ELU, whose table TFLM's Prepare fills in
 * float; ours is filled the same way at compile time).
 * Portable C99, no dynamic allocation; parameters from tflite_edge/compiler/ops/unary_math.py.
 */
#ifndef TFLE_UNARY_MATH_H
#define TFLE_UNARY_MATH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABS: |x - input_zp|, rescaled by multiplier * 2^shift when needs_rescale, + output_zp,
 * clamped to [qmin, qmax]. RSQRT: TFLM's fixed-point 1 / sqrt(x - input_zp) (the largest
 * output for x == input_zp), times multiplier * 2^shift, + output_zp, clamped. */
typedef struct {
  int32_t size, input_zp, output_zp, needs_rescale, multiplier, shift, qmin, qmax;
} tfle_unary_math_params;

void tfle_abs_s8(const tfle_unary_math_params *p, const int8_t *x, int8_t *y);
void tfle_abs_s16(const tfle_unary_math_params *p, const int16_t *x, int16_t *y);
/* An input below input_zp (a negative real value) stops TFLM's RSQRT with an error; there
 * this kernel writes qmax, as for zero. */
void tfle_rsqrt_s8(const tfle_unary_math_params *p, const int8_t *x, int8_t *y);

/* y[i] = table[(uint8_t)x[i]] */
void tfle_lut_s8(int32_t size, const int8_t *table, const int8_t *x, int8_t *y);

#ifdef __cplusplus
}
#endif

#endif /* TFLE_UNARY_MATH_H */
