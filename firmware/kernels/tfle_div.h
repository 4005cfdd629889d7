/* tflite-edge: DIV int8 with broadcasting (tfle_bcast of tfle_extra.h), as TFLM's reference
 * DivElementwise / BroadcastDivSlowQuantized: a fixed-point reciprocal of the divisor.
 * Portable C99, no dynamic allocation; parameters from tflite_edge/compiler/ops/div.py.
 */
#ifndef TFLE_DIV_H
#define TFLE_DIV_H

#include <stdint.h>

#include "tfle_extra.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t input1_offset, input2_offset, output_offset; /* -zp1, -zp2, +zp_out */
  int32_t multiplier, shift;                           /* s1 / (s2 * s_out) */
  int32_t act_min, act_max;
} tfle_div_params;

/* A divisor equal to its zero point (a real 0) is undefined in TFLM (a debug check; a
 * shift by 32 in release builds); this kernel writes act_max there for a dividend >= 0 and
 * act_min for a negative one. */
void tfle_div_s8(const tfle_div_params *p, const tfle_bcast *b, const int8_t *x1,
                 const int8_t *x2, int8_t *y);

#ifdef __cplusplus
}
#endif

#endif /* TFLE_DIV_H */
