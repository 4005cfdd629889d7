/* MEAN, int8 and int16, and REDUCE_MAX, int8. Bit-exact with TFLM's integer MEAN (the sum less the input
 * zero point times the count, requantized with 1 / count folded into the multiplier) and its
 * REDUCE_MAX. */
#include "tfle_extra.h"

#include "tfle_math.h"

/* ---------------------------------------------------------------- MEAN */

/* Sum of the reduced elements that start at x (an odometer over the reduced dims), for the
 * element type T; wraps like TFLM's int32 accumulator. */
#define X_REDUCED_SUM(NAME, T)                                                  \
  static int32_t NAME(const tfle_reduce_shape *s, const T *x) {                 \
    int32_t idx[TFLE_X_MAX_DIMS];                                               \
    int32_t off = 0, sum = 0, i, d;                                             \
    for (d = 0; d < s->n_reduced; ++d) {                                        \
      idx[d] = 0;                                                               \
    }                                                                           \
    for (i = 0; i < s->num_reduced; ++i) {                                      \
      sum = tfle_wrap_add(sum, x[off]);                                         \
      for (d = s->n_reduced - 1; d >= 0; --d) {                                 \
        off += s->reduced_strides[d];                                           \
        if (++idx[d] < s->reduced_dims[d]) {                                    \
          break;                                                                \
        }                                                                       \
        off -= s->reduced_strides[d] * s->reduced_dims[d];                      \
        idx[d] = 0;                                                             \
      }                                                                         \
    }                                                                           \
    return sum;                                                                 \
  }

X_REDUCED_SUM(x_reduced_sum_s8, int8_t)
X_REDUCED_SUM(x_reduced_sum_s16, int16_t)

static int32_t x_kept_count(const tfle_reduce_shape *s) {
  int32_t n = 1, d;
  for (d = 0; d < s->n_kept; ++d) {
    n *= s->kept_dims[d];
  }
  return n;
}

/* Advance the kept-dims odometer; returns the input offset of the next output element. */
static int32_t x_kept_next(const tfle_reduce_shape *s, int32_t *idx, int32_t off) {
  int32_t d;
  for (d = s->n_kept - 1; d >= 0; --d) {
    off += s->kept_strides[d];
    if (++idx[d] < s->kept_dims[d]) {
      break;
    }
    off -= s->kept_strides[d] * s->kept_dims[d];
    idx[d] = 0;
  }
  return off;
}

/* TFLM's QuantizedMeanOrSum (mean): per output, the sum less input_zp * count, requantized
 * (1 / count is in the multiplier) and clamped to T's range. */
#define X_MEAN(NAME, T, SUM, LO, HI)                                                       \
  void NAME(const tfle_mean_params *p, const tfle_reduce_shape *s, const T *x, T *y) {     \
    int32_t idx[TFLE_X_MAX_DIMS];                                                          \
    const int32_t n_out = x_kept_count(s);                                                 \
    int32_t off = 0, o, d;                                                                 \
    for (d = 0; d < TFLE_X_MAX_DIMS; ++d) {                                                \
      idx[d] = 0;                                                                          \
    }                                                                                      \
    for (o = 0; o < n_out; ++o) {                                                          \
      /* wraps like TFLM's static_cast<int32_t> of the int64 difference */                 \
      const int32_t shifted =                                                              \
        (int32_t)((int64_t)SUM(s, x + off) - (int64_t)p->input_zp * s->num_reduced);       \
      const int32_t v = tfle_quant_mul(shifted, p->multiplier, p->shift) + p->output_zp;   \
      y[o] = (T)tfle_clamp_i32(v, LO, HI);                                                 \
      off = x_kept_next(s, idx, off);                                                      \
    }                                                                                      \
  }

X_MEAN(tfle_mean_s8, int8_t, x_reduced_sum_s8, -128, 127)
X_MEAN(tfle_mean_s16, int16_t, x_reduced_sum_s16, -32768, 32767)

void tfle_reduce_max_s8(const tfle_reduce_shape *s, const int8_t *x, int8_t *y) {
  int32_t idx[TFLE_X_MAX_DIMS], ridx[TFLE_X_MAX_DIMS];
  const int32_t n_out = x_kept_count(s);
  int32_t off = 0, o, d, i;
  for (d = 0; d < TFLE_X_MAX_DIMS; ++d) {
    idx[d] = 0;
  }
  for (o = 0; o < n_out; ++o) {
    int8_t m = -128;
    int32_t r = 0;
    for (d = 0; d < s->n_reduced; ++d) {
      ridx[d] = 0;
    }
    for (i = 0; i < s->num_reduced; ++i) {
      if (x[off + r] > m) {
        m = x[off + r];
      }
      for (d = s->n_reduced - 1; d >= 0; --d) {
        r += s->reduced_strides[d];
        if (++ridx[d] < s->reduced_dims[d]) {
          break;
        }
        r -= s->reduced_strides[d] * s->reduced_dims[d];
        ridx[d] = 0;
      }
    }
    y[o] = m;
    off = x_kept_next(s, idx, off);
  }
}
