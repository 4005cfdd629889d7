/* MAXIMUM and MINIMUM: TFLM's `el1 > el2 ? el1 : el2` (and `<`) on the raw values, the
 * output walked in order and each input through its broadcast strides. */
#include "tfle_maximum_minimum.h"

#define TFLE_MINMAX(name, type, cmp)                                        \
  void name(const tfle_bcast *b, const type *x1, const type *x2, type *y) { \
    TFLE_BCAST_EACH(b, i, j1, j2, y[i] = x1[j1] cmp x2[j2] ? x1[j1] : x2[j2]); \
  }

TFLE_MINMAX(tfle_maximum_s8, int8_t, >)
TFLE_MINMAX(tfle_minimum_s8, int8_t, <)
TFLE_MINMAX(tfle_maximum_s16, int16_t, >)
TFLE_MINMAX(tfle_minimum_s16, int16_t, <)
