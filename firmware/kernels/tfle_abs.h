/* tflite-edge: ABS, int8 (tfle_abs.c); parameters computed by tflite_edge/compiler/ops/abs.py
 * as TFLM's GenericPrepare computes them. */
#ifndef TFLE_ABS_H
#define TFLE_ABS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t size;
  int32_t input_zp, output_zp;
  int32_t needs_rescale; /* 0: the input and output scales are equal */
  int32_t multiplier, shift;
} tfle_abs_params;

/* y = clamp(output_zp + MultiplyByQuantizedMultiplier(|x - input_zp|)), int8. */
void tfle_abs_s8(const tfle_abs_params *p, const int8_t *x, int8_t *y);

#ifdef __cplusplus
}
#endif

#endif /* TFLE_ABS_H */
