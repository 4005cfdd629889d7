/* tflite-edge: RESIZE_NEAREST_NEIGHBOR (int8, int16) and RESIZE_BILINEAR (int8).
 *
 * Portable C99, no dynamic allocation, bit-exact with TensorFlow Lite Micro's reference
 * kernels (reference_ops::ResizeNearestNeighbor, ResizeBilinearInteger). TFLM computes the
 * source rows and columns (and the bilinear weights, in 1/1024ths) from the output position
 * at run time; they depend on sizes and options only, so tflite_edge/compiler/ops/resize.py
 * computes them at compile time with TFLM's arithmetic (float32 for nearest neighbour) and
 * passes them as tables in flash: no float arithmetic runs on the device.
 */
#ifndef TFLE_RESIZE_H
#define TFLE_RESIZE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* NHWC tensors. Nearest neighbour copies bytes: the tables hold byte offsets and
 * pixel_bytes = depth * element size, so one kernel serves int8 and int16. */
typedef struct {
  int32_t batches;
  int32_t out_h;
  int32_t out_w;
  int32_t pixel_bytes;
  int32_t batch_bytes; /* in_h * in_w * pixel_bytes */
} tfle_resize_nearest_params;

/* row_offset[oy] = in_y(oy) * in_w * pixel_bytes, col_offset[ox] = in_x(ox) * pixel_bytes */
void tfle_resize_nearest(const tfle_resize_nearest_params *p, const void *x,
                         const int32_t *row_offset, const int32_t *col_offset, void *y);

typedef struct {
  int32_t batches;
  int32_t out_h;
  int32_t out_w;
  int32_t depth;
  int32_t batch_size; /* in_h * in_w * depth */
} tfle_resize_bilinear_params;

/* rows[3 * oy] = y0 * in_w * depth, rows[3 * oy + 1] = y1 * in_w * depth, rows[3 * oy + 2] =
 * input_y - 1024 * y0 (TFLM's ComputeInterpolationValuesInteger); cols likewise with x0 * depth,
 * x1 * depth and input_x - 1024 * x0. */
void tfle_resize_bilinear_s8(const tfle_resize_bilinear_params *p, const int8_t *x,
                             const int32_t *rows, const int32_t *cols, int8_t *y);

#ifdef __cplusplus
}
#endif

#endif /* TFLE_RESIZE_H */
