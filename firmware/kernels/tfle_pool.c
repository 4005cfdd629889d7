/* AVERAGE_POOL_2D and MAX_POOL_2D, int8 (the shared implementation is in tfle_pool.h). */
#include "tfle_pool.h"

TFLE_POOL_DEFINE(tfle_average_pool_s8, tfle_max_pool_s8, int8_t, -128)
