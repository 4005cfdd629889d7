/* tflite-edge: TRANSPOSE_CONV (Keras Conv2DTranspose), int8 and 16x8.
 *
 * Portable C99, no dynamic allocation, bit-exact with TensorFlow Lite Micro's reference
 * kernel (reference_integer_ops::TransposeConv). TFLM scatters every input pixel into an
 * int32 (int8) or int64 (16x8) scratch copy of the output; these kernels gather instead:
 * each output value sums the input pixels whose window reaches it, so no scratch memory is
 * needed. The sums are the same integers (int32 sums wrap identically in either order).
 * Every parameter TFLM's Prepare() computes is computed at compile time by
 * tflite_edge/compiler/ops/transpose_conv.py.
 */
#ifndef TFLE_TRANSPOSE_CONV_H
#define TFLE_TRANSPOSE_CONV_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* NHWC input and output, OHWI filter [out_c][k_h][k_w][in_c]. pad_h / pad_w are TFLM's
 * padding values (ComputePaddingHeightWidth on the output size): input pixel (iy, ix) reaches
 * output rows iy * stride_h - pad_h + fy. input_offset / output_offset are 0 for 16x8. */
typedef struct {
  int32_t batches;
  int32_t in_h;
  int32_t in_w;
  int32_t in_c;
  int32_t out_h;
  int32_t out_w;
  int32_t out_c;
  int32_t k_h;
  int32_t k_w;
  int32_t stride_h;
  int32_t stride_w;
  int32_t pad_h;
  int32_t pad_w;
  int32_t input_offset;
  int32_t output_offset;
  int32_t act_min;
  int32_t act_max;
  int32_t per_channel; /* 1: mult/shift hold out_c values; 0: one value */
} tfle_transpose_conv_params;

/* int8: filter_sum[(oc * k_h + fy) * k_w + fx] = sum over in_c of the filter tap, so that
 * sum((x + input_offset) * w) = dot(x, w) + input_offset * filter_sum. bias may be NULL. */
void tfle_transpose_conv_s8(const tfle_transpose_conv_params *p, const int8_t *x,
                            const int8_t *filter, const int32_t *filter_sum, const int32_t *bias,
                            const int32_t *mult, const int8_t *shift, int8_t *y);

/* 16x8: int16 activations (zero points 0), int8 filter, int64 accumulators and bias (NULL if
 * absent), TFLM's int64 MultiplyByQuantizedMultiplier. */
void tfle_transpose_conv_s16(const tfle_transpose_conv_params *p, const int16_t *x,
                             const int8_t *filter, const int64_t *bias, const int32_t *mult,
                             const int8_t *shift, int16_t *y);

#ifdef __cplusplus
}
#endif

#endif /* TFLE_TRANSPOSE_CONV_H */
