/* tflite-edge: SOFTMAX int8 in, int16 out (output scale 1/65536, zero point -32768), as TFLM's
 * reference_ops::Softmax with an int16 OutputT (the int8 path's gemmlowp arithmetic, 16 output
 * bits). Portable C99, no dynamic allocation; parameters (tfle_softmax_params, tfle_kernels.h)
 * from tflite_edge/compiler/ops/softmax.py. */
#ifndef TFLE_SOFTMAX_S8_S16_H
#define TFLE_SOFTMAX_S8_S16_H

#include "tfle_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

void tfle_softmax_s8_s16(const tfle_softmax_params *p, const int8_t *input, int16_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TFLE_SOFTMAX_S8_S16_H */
