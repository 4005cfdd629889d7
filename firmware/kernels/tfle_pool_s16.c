/* AVERAGE_POOL_2D and MAX_POOL_2D, int16 (the shared implementation is in tfle_pool.h). */
#include "tfle_s16.h"

#include "tfle_pool.h"

TFLE_POOL_DEFINE(tfle_average_pool_s16, tfle_max_pool_s16, int16_t, -32768)
