/* tflite-edge core int8 kernels: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, AVERAGE_POOL_2D,
 * MAX_POOL_2D, SOFTMAX; dense and sparse weights.
 *
 * Portable C99, no dynamic allocation, bit-exact with TensorFlow Lite Micro's reference
 * kernels. On cores with the DSP extension (Cortex-M4/M7/M33/M55, GCC-compatible compilers)
 * the inner loops use the ACLE's SIMD intrinsics and a little inline assembly instead (see
 * tfle_dsp.h); the C paths are what Cortex-M3 and hosts run. The specialised kernels use at
 * most about 1.3 KB of stack (TFLE_GATHER_BYTES, TFLE_SPARSE_WINDOW, TFLE_DW_BAND_WORDS). Tensors are NHWC
 * int8; filters are OHWI (conv), 1HWO (depthwise), OI (fully connected), or the packed
 * layouts below. Requantization multipliers/shifts are per output channel when per_channel
 * is 1, else one value applies to every channel. Called from the code that tflite_edge.compiler
 * generates; parameter blocks are `static const` (flash).
 *
 * `bias` is the folded bias of each output channel: the model's bias plus input_offset times
 * the sum of the channel's weights, computed at compile time. TFLM accumulates
 * sum(w * (x + input_offset)) + bias over the taps inside the image; with the folded bias the
 * kernels accumulate sum(w * x) where every tap is inside, and at the borders give each tap
 * that falls in the padding the value -input_offset (the input zero point), which cancels its
 * share of the fold; kernels that take `bias_raw` (the model's own bias) instead sum
 * w * (x + input_offset) over the taps of a clipped window, as TFLM does. The int32 results
 * are the same as TFLM's.
 */
#ifndef TFLE_KERNELS_H
#define TFLE_KERNELS_H

#include <stdint.h>

#include "tfle_math.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Constant arrays that kernels read a word at a time (packed weights) are 4-byte aligned. */
#if defined(__GNUC__)
#define TFLE_ALIGNED(n) __attribute__((aligned(n)))
#else
#define TFLE_ALIGNED(n)
#endif

/* Sparse weights, row by row (a row = one output channel's weights, flattened): row r has
 * counts[r] entries; entry k is at position pos += deltas[k] (pos starts at 0 for each row)
 * with weight values[k]. Gaps over 255 are bridged by zero-valued entries. */
typedef struct {
  const uint16_t *counts;
  const int8_t *values;
  const uint8_t *deltas;
} tfle_sparse_weights;

/* Sparse weights by position: channel r has counts[r] nonzeros; nonzero k has value
 * values[k] at position taps[k] of the channel's window (filter order), which is why windows
 * have at most TFLE_SPARSE_WINDOW values. */
typedef struct {
  const uint16_t *counts;
  const int8_t *values;
  const uint8_t *taps;
} tfle_sparse_taps;
#define TFLE_SPARSE_WINDOW 256

/* CONV_2D and DEPTHWISE_CONV_2D. */
typedef struct {
  int32_t batches, in_h, in_w, in_c;
  int32_t out_h, out_w, out_c;
  int32_t k_h, k_w, filter_in_c; /* filter_in_c < in_c: grouped conv (conv only) */
  int32_t stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
  int32_t input_offset;  /* -input zero point */
  int32_t output_offset; /* +output zero point */
  int32_t act_min, act_max;
  int32_t per_channel;
  int32_t depth_multiplier; /* depthwise only */
} tfle_conv_params;

void tfle_conv2d_s8(const tfle_conv_params *p, const int8_t *input, const int8_t *filter,
                    const int32_t *bias, const int32_t *mult, const int8_t *shift,
                    int8_t *output);
void tfle_conv2d_sparse_s8(const tfle_conv_params *p, const int8_t *input,
                           const tfle_sparse_weights *filter, const int32_t *bias,
                           const int32_t *mult, const int8_t *shift, int8_t *output);
void tfle_depthwise_conv2d_s8(const tfle_conv_params *p, const int8_t *input,
                              const int8_t *filter, const int32_t *bias, const int32_t *mult,
                              const int8_t *shift, int8_t *output);
/* Sparse CONV_2D with groups == 1 and windows of at most TFLE_SPARSE_WINDOW values: four
 * output pixels at a time over gathered windows (TFLE_SPARSE_WINDOW * 4 bytes of stack). */
void tfle_conv2d_sparse_taps_s8(const tfle_conv_params *p, const int8_t *input,
                                const tfle_sparse_taps *filter, const int32_t *bias,
                                const int32_t *mult, const int8_t *shift, int8_t *output);
/* Specialised CONV_2D for groups == 1 and dil_w == 1 (a filter row is contiguous in the
 * input): two pixels by two channels at a time. `bias_raw` is the model's bias, used where a
 * window is clipped by the padding (the folded `bias` elsewhere); it may equal `bias` when no
 * window is clipped. */
void tfle_conv2d_rows_s8(const tfle_conv_params *p, const int8_t *input, const int8_t *filter,
                         const int32_t *bias, const int32_t *bias_raw, const int32_t *mult,
                         const int8_t *shift, int8_t *output);
/* Specialised DEPTHWISE_CONV_2D for depth_multiplier == 1: four channels at a time.
 * `packed` is the filter by blocks of four channels: for each block, tap after tap (filter
 * order), the block's four weights; then the last channels (fewer than four), tap after tap
 * (4-byte aligned, written by tflite_edge.compiler). `bias_raw` as for tfle_conv2d_rows_s8.
 * Each block of four channels reads its input through a copy padded with the input zero
 * point, TFLE_DW_BAND_WORDS * 4 bytes of stack, when the rows of one output row's windows
 * fit in it; otherwise clipped windows take the slower path with `bias_raw`. */
#ifndef TFLE_DW_BAND_WORDS
#define TFLE_DW_BAND_WORDS 256
#endif
void tfle_depthwise_conv2d_dm1_s8(const tfle_conv_params *p, const int8_t *input,
                                  const int8_t *packed, const int32_t *bias,
                                  const int32_t *bias_raw, const int32_t *mult,
                                  const int8_t *shift, int8_t *output);
/* Sparse depthwise: rows are output channels over the (ky, kx) positions. */
void tfle_depthwise_conv2d_sparse_s8(const tfle_conv_params *p, const int8_t *input,
                                     const tfle_sparse_weights *filter, const int32_t *bias,
                                     const int32_t *mult, const int8_t *shift,
                                     int8_t *output);

/* FULLY_CONNECTED. */
typedef struct {
  int32_t batches, in_depth, out_depth;
  int32_t input_offset, filter_offset, output_offset; /* filter_offset: always 0 (int8) */
  int32_t act_min, act_max;
  int32_t per_channel;
} tfle_fc_params;

void tfle_fully_connected_s8(const tfle_fc_params *p, const int8_t *input,
                             const int8_t *filter, const int32_t *bias, const int32_t *mult,
                             const int8_t *shift, int8_t *output);
void tfle_fully_connected_sparse_s8(const tfle_fc_params *p, const int8_t *input,
                                    const tfle_sparse_weights *filter, const int32_t *bias,
                                    const int32_t *mult, const int8_t *shift, int8_t *output);

/* Packed weights for the GEMM kernels: each output channel's weights (a row of k values in
 * filter order, OHWI or OI) run on with zeros to k4, a multiple of 4; channels 2j and 2j + 1
 * are interleaved 4 bytes at a time (4 of row 2j, 4 of row 2j + 1, ...); an odd last channel
 * follows alone (4-byte aligned; tflite_edge.compiler writes this layout). The convolution
 * gathers the windows of two output pixels (im2col) on the stack, so it takes windows of
 * k4 <= TFLE_GATHER_BYTES / 2 values (2.5 * TFLE_GATHER_BYTES bytes of stack: the pair as
 * sign-extended halfwords, and one window); so does a fully connected layer whose in_depth is
 * not a multiple of 4. */
#define TFLE_GATHER_BYTES 512

/* CONV_2D with groups == 1 (any kernel size, stride, dilation and padding). */
void tfle_conv2d_packed_s8(const tfle_conv_params *p, const int8_t *input, const int8_t *packed,
                           const int32_t *bias, const int32_t *mult, const int8_t *shift,
                           int8_t *output);
/* FULLY_CONNECTED, one input row at a time, four output channels at a time. */
void tfle_fully_connected_packed_s8(const tfle_fc_params *p, const int8_t *input,
                                    const int8_t *packed, const int32_t *bias,
                                    const int32_t *mult, const int8_t *shift, int8_t *output);

/* AVERAGE_POOL_2D and MAX_POOL_2D (input and output share quantization). */
typedef struct {
  int32_t batches, in_h, in_w, channels;
  int32_t out_h, out_w;
  int32_t f_h, f_w, stride_h, stride_w, pad_h, pad_w;
  int32_t act_min, act_max;
} tfle_pool_params;

void tfle_average_pool_s8(const tfle_pool_params *p, const int8_t *input, int8_t *output);
void tfle_max_pool_s8(const tfle_pool_params *p, const int8_t *input, int8_t *output);

/* SOFTMAX, int8 in, int8 out (output scale 1/256, zero point -128). */
typedef struct {
  int32_t outer, depth;
  int32_t input_multiplier, input_left_shift, diff_min;
} tfle_softmax_params;

void tfle_softmax_s8(const tfle_softmax_params *p, const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TFLE_KERNELS_H */
