/* tflite-edge: PRELU (int8, and int16 activations with int8 alpha), as TFLM's reference
 * BroadcastPrelu4DSlow: alpha broadcast to the input with tfle_bcast (tfle_extra.h).
 * Portable C99, no dynamic allocation; parameters from tflite_edge/compiler/ops/prelu.py.
 */
#ifndef TFLE_PRELU_H
#define TFLE_PRELU_H

#include <stdint.h>

#include "tfle_extra.h"

#ifdef __cplusplus
extern "C" {
#endif

/* x >= 0 (after input_offset): x * mult1 * 2^shift1; else x * (alpha + alpha_offset) *
 * mult2 * 2^shift2; then + output_offset, clamped to [qmin, qmax]. */
typedef struct {
  int32_t input_offset, alpha_offset, output_offset; /* -zp_in, -zp_alpha, +zp_out */
  int32_t mult1, shift1, mult2, shift2;
  int32_t qmin, qmax;
} tfle_prelu_params;

void tfle_prelu_s8(const tfle_prelu_params *p, const tfle_bcast *b, const int8_t *x,
                   const int8_t *alpha, int8_t *y);
void tfle_prelu_s16(const tfle_prelu_params *p, const tfle_bcast *b, const int16_t *x,
                    const int8_t *alpha, int16_t *y);

#ifdef __cplusplus
}
#endif

#endif /* TFLE_PRELU_H */
