/* tflite-edge: LOG_SOFTMAX int8 over the last dimension, as TFLM's reference
 * LogSoftmaxQuantized (gemmlowp fixed point; output scale 16/256, zero point 127).
 * Portable C99, no dynamic allocation; parameters from tflite_edge/compiler/ops/log_softmax.py.
 */
#ifndef TFLE_LOG_SOFTMAX_H
#define TFLE_LOG_SOFTMAX_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t outer_size, depth;
  int32_t input_multiplier, input_left_shift;        /* PreprocessLogSoftmaxScalingExp */
  int32_t reverse_multiplier, reverse_shift;         /* reverse_shift <= 0 */
  int32_t diff_min;                                  /* -CalculateInputRadius(5, shift) */
} tfle_log_softmax_params;

void tfle_log_softmax_s8(const tfle_log_softmax_params *p, const int8_t *x, int8_t *y);

#ifdef __cplusplus
}
#endif

#endif /* TFLE_LOG_SOFTMAX_H */
