/* tflite-edge int16 kernels of 16x8 models (int16 activations, int8 weights, int64 biases):
 * CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, AVERAGE_POOL_2D, MAX_POOL_2D, QUANTIZE,
 * DEQUANTIZE, PAD/PADV2. (CONCATENATION copies bytes of any type: tfle_concat.)
 *
 * Portable C99, no dynamic allocation, bit-exact with TensorFlow Lite Micro's reference
 * kernels (reference_integer_ops ConvPerChannel / DepthwiseConvPerChannel / FullyConnected
 * with int16 inputs, int64 accumulators and MultiplyByQuantizedMultiplier on int64). The
 * parameter structs are the int8 kernels' (tfle_kernels.h, tfle_extra.h); every parameter is
 * computed at compile time by tflite_edge.compiler. Tensors are NHWC int16, filters OHWI (conv)
 * or 1HWO (depthwise) or OI (fully connected) int8, in the model's own layout. `bias` is the
 * model's int64 bias (zeros when the model has none). TFLM's int16 CONV_2D and
 * DEPTHWISE_CONV_2D use no zero points (they must be 0); FULLY_CONNECTED applies
 * input_offset and output_offset.
 */
#ifndef TFLE_S16_H
#define TFLE_S16_H

#include <stdint.h>

#include "tfle_extra.h"
#include "tfle_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* TFLM's MultiplyByQuantizedMultiplier(int64_t x, ...): the multiplier rounded to 16 bits,
 * then one rounding shift (x within +-2^47, as TFLM assumes); TFLM's single- and
 * double-rounding builds compute the same here. */
static inline int32_t tfle_quant_mul_s64(int64_t x, int32_t multiplier, int32_t shift) {
  const int32_t reduced = multiplier < 0x7FFF0000 ? ((multiplier + (1 << 15)) >> 16) : 0x7FFF;
  const int total_shift = 15 - shift;
  const int64_t r = x * (int64_t)reduced + ((int64_t)1 << (total_shift - 1));
  return (int32_t)(r >> total_shift);
}

void tfle_conv2d_s16(const tfle_conv_params *p, const int16_t *input, const int8_t *filter,
                     const int64_t *bias, const int32_t *mult, const int8_t *shift,
                     int16_t *output);
void tfle_depthwise_conv2d_s16(const tfle_conv_params *p, const int16_t *input,
                               const int8_t *filter, const int64_t *bias, const int32_t *mult,
                               const int8_t *shift, int16_t *output);
/* mult/shift hold out_depth values when per_channel is 1, else one. */
void tfle_fully_connected_s16(const tfle_fc_params *p, const int16_t *input,
                              const int8_t *filter, const int64_t *bias, const int32_t *mult,
                              const int8_t *shift, int16_t *output);

void tfle_average_pool_s16(const tfle_pool_params *p, const int16_t *input, int16_t *output);
void tfle_max_pool_s16(const tfle_pool_params *p, const int16_t *input, int16_t *output);

/* QUANTIZE: TFLM's Requantize (act_min/act_max are the output type's range), AffineQuantize. */
void tfle_requant_s16_s16(const tfle_requant_params *p, const int16_t *x, int16_t *y);
void tfle_requant_s8_s16(const tfle_requant_params *p, const int8_t *x, int16_t *y);
void tfle_requant_s16_s8(const tfle_requant_params *p, const int16_t *x, int8_t *y);
void tfle_quantize_f32_s16(const tfle_affine_params *p, const float *x, int16_t *y);
void tfle_dequantize_s16_f32(const tfle_affine_params *p, const int16_t *x, float *y);

void tfle_pad_s16(const tfle_pad_params *p, const int16_t *x, int16_t *y);

#ifdef __cplusplus
}
#endif

#endif /* TFLE_S16_H */
