/* SOFTMAX, int8 in and out. Bit-exact with TFLM's reference_ops::Softmax for int8, which
 * TFLM's SOFTMAX kernel calls for int8 -> int8 (the shared core is in tfle_softmax.h). */
#include "tfle_softmax.h"

TFLE_SOFTMAX_S8_DEFINE(tfle_softmax_s8, int8_t, 8, 128, 127)
