/* tflite-edge: SVDF, int8 input and output with an int16 (or int8) activation state and time
 * weights, bit-exact with TFLM's EvalIntegerSvdfReference (svdf_common.cc). Every parameter
 * is computed at compile time (tflite_edge/compiler/ops/svdf.py) as TFLM's PrepareSvdf does.
 *
 * The activation state is a variable tensor: it lives in arena bytes that no other tensor
 * shares, keeps its values from one invocation to the next, and is filled once before the
 * first invocation by the generated model (as TFLM fills it when it allocates the arena).
 */
#ifndef TFLE_SVDF_H
#define TFLE_SVDF_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t batches, input_size, num_filters, num_units, rank, memory_size;
  int32_t input_zp, state_zp, output_zp;
  int32_t scale1_mult, scale1_shift; /* input x feature weights -> state */
  int32_t scale2_mult, scale2_shift; /* state x time weights -> output */
  const int8_t *weights_feature;     /* [num_filters][input_size] */
  const void *weights_time;          /* [num_filters][memory_size], the state's type */
  const int32_t *bias;               /* [num_units] */
} tfle_svdf_params;

/* int16 state and time weights. scratch: (batches * num_filters + batches * num_units) int32. */
void tfle_svdf_s8_s16(const tfle_svdf_params *p, const int8_t *input, int16_t *state,
                      int32_t *scratch, int8_t *output);

/* int8 state and time weights; the same scratch. */
void tfle_svdf_s8_s8(const tfle_svdf_params *p, const int8_t *input, int8_t *state,
                     int32_t *scratch, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TFLE_SVDF_H */
