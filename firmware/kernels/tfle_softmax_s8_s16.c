/* SOFTMAX, int8 in and int16 out. Bit-exact with TFLM's reference_ops::Softmax<int8_t, int16_t>
 * (the shared int8-input core is in tfle_softmax.h): a rounding shift by
 * num_bits_over_unit + 31 - 16 and the offset -32768. */
#include "tfle_softmax_s8_s16.h"

#include "tfle_softmax.h"

TFLE_SOFTMAX_S8_DEFINE(tfle_softmax_s8_s16, int16_t, 16, 32768, 32767)
