/* tflite-edge: GATHER (int8 values, int32 indices), as TFLM's reference kernel.
 * Portable C99, no dynamic allocation; the sizes come from tflite_edge/compiler/ops/gather.py.
 */
#ifndef TFLE_GATHER_H
#define TFLE_GATHER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The input is [batch][outer][axis][inner], the indices [batch][coords], the output
 * [batch][outer][coords][inner]; sizes count elements of elem_size bytes. */
typedef struct {
  int32_t batch_size, outer_size, axis_size, coord_size, inner_size, elem_size;
} tfle_gather_params;

/* An index outside [0, axis_size) (possible only for indices computed at run time; TFLM
 * reads out of bounds there) gives a row of zero bytes. */
void tfle_gather(const tfle_gather_params *p, const void *x, const int32_t *coords, void *y);

#ifdef __cplusplus
}
#endif

#endif /* TFLE_GATHER_H */
