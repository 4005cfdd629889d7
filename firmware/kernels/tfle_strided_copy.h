/* tflite-edge: the strided copy behind the data-movement ops STRIDED_SLICE, SLICE, TRANSPOSE,
 * SPLIT, SPLIT_V, PACK and UNPACK (any element size: int8, int16, ...).
 *
 * No arithmetic: TFLM's reference kernels of these ops copy elements, so a copy with the
 * element offsets and strides computed at compile time (tflite_edge/compiler/ops/slicing.py)
 * is bit-exact with them. Portable C99, no dynamic allocation.
 */
#ifndef TFLE_STRIDED_COPY_H
#define TFLE_STRIDED_COPY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TFLE_COPY_DIMS 6

/* y[y_offset + sum_d i_d * y_strides[d]] = x[x_offset + sum_d i_d * x_strides[d]] for every
 * index 0 <= i_d < dims[d]; offsets and strides count elements of elem_size bytes (strides
 * may be negative: a reversed STRIDED_SLICE). */
typedef struct {
  int32_t dims[TFLE_COPY_DIMS];
  int32_t x_strides[TFLE_COPY_DIMS];
  int32_t y_strides[TFLE_COPY_DIMS];
  int32_t x_offset, y_offset, elem_size;
} tfle_strided_copy_params;

void tfle_strided_copy(const tfle_strided_copy_params *p, const void *x, void *y);

#ifdef __cplusplus
}
#endif

#endif /* TFLE_STRIDED_COPY_H */
