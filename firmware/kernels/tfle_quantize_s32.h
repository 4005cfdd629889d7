/* tflite-edge: QUANTIZE int8 -> int32, int16 -> int32, int32 -> int8 and int32 -> int16, as
 * TFLM's quantize_common.cc (reference_ops::Requantize with an int32 input or output type). Portable C99, no dynamic allocation;
 * parameters (tfle_requant_params, tfle_extra.h) from tflite_edge/compiler/ops/quantize.py. */
#ifndef TFLE_QUANTIZE_S32_H
#define TFLE_QUANTIZE_S32_H

#include "tfle_extra.h"

#ifdef __cplusplus
extern "C" {
#endif

void tfle_requant_s8_s32(const tfle_requant_params *p, const int8_t *x, int32_t *y);
void tfle_requant_s16_s32(const tfle_requant_params *p, const int16_t *x, int32_t *y);
void tfle_requant_s32_s8(const tfle_requant_params *p, const int32_t *x, int8_t *y);
void tfle_requant_s32_s16(const tfle_requant_params *p, const int32_t *x, int16_t *y);

#ifdef __cplusplus
}
#endif

#endif /* TFLE_QUANTIZE_S32_H */
