/* PAD and PADV2, int8 (the shared implementation is in tfle_pad.h). */
#include "tfle_extra.h"

#include "tfle_pad.h"

#define TFLE_PAD_FILL_S8(y, total, value) \
  memset((y), (unsigned char)(int8_t)(value), (size_t)(total))

TFLE_PAD_DEFINE(tfle_pad_s8, int8_t, TFLE_PAD_FILL_S8)
