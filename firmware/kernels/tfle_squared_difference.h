/* tflite-edge: SQUARED_DIFFERENCE, int8 and int16 (zero points 0), with broadcasting
 * (tfle_bcast of tfle_extra.h), as TFLM's quantized SquaredDifference: both inputs rescaled
 * to a common scale (left_shift 7 for int8, 0 for int16), the difference squared, rescaled.
 * Portable C99, no dynamic allocation; parameters from
 * tflite_edge/compiler/ops/squared_difference.py.
 */
#ifndef TFLE_SQUARED_DIFFERENCE_H
#define TFLE_SQUARED_DIFFERENCE_H

#include <stdint.h>

#include "tfle_extra.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t input1_offset, input2_offset, output_offset, left_shift;
  int32_t input1_multiplier, input1_shift, input2_multiplier, input2_shift; /* shifts <= 0 */
  int32_t output_multiplier, output_shift, qmin, qmax;
} tfle_squared_difference_params;

void tfle_squared_difference_s8(const tfle_squared_difference_params *p, const tfle_bcast *b,
                                const int8_t *x1, const int8_t *x2, int8_t *y);
void tfle_squared_difference_s16(const tfle_squared_difference_params *p, const tfle_bcast *b,
                                 const int16_t *x1, const int16_t *x2, int16_t *y);

#ifdef __cplusplus
}
#endif

#endif /* TFLE_SQUARED_DIFFERENCE_H */
