/* tflite-edge: MAXIMUM and MINIMUM, int8 and int16, with broadcasting (tfle_bcast of
 * tfle_extra.h). As TFLM's reference kernel they compare the raw quantized values: no
 * rescaling, whatever the tensors' scales and zero points.
 */
#ifndef TFLE_MAXIMUM_MINIMUM_H
#define TFLE_MAXIMUM_MINIMUM_H

#include <stdint.h>

#include "tfle_extra.h"

#ifdef __cplusplus
extern "C" {
#endif

void tfle_maximum_s8(const tfle_bcast *b, const int8_t *x1, const int8_t *x2, int8_t *y);
void tfle_minimum_s8(const tfle_bcast *b, const int8_t *x1, const int8_t *x2, int8_t *y);
void tfle_maximum_s16(const tfle_bcast *b, const int16_t *x1, const int16_t *x2, int16_t *y);
void tfle_minimum_s16(const tfle_bcast *b, const int16_t *x1, const int16_t *x2, int16_t *y);

#ifdef __cplusplus
}
#endif

#endif /* TFLE_MAXIMUM_MINIMUM_H */
