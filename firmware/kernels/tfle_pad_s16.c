/* PAD and PADV2, int16 (the shared implementation is in tfle_pad.h). */
#include "tfle_s16.h"

#include "tfle_pad.h"

#define TFLE_PAD_FILL_S16(y, total, value)                  \
  do {                                                      \
    int32_t i_;                                             \
    for (i_ = 0; i_ < (total); ++i_) (y)[i_] = (int16_t)(value); \
  } while (0)

TFLE_PAD_DEFINE(tfle_pad_s16, int16_t, TFLE_PAD_FILL_S16)
