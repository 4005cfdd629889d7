/* SVDF, int8 (TFLM's EvalIntegerSvdfReference, svdf_common.cc), for int16 or int8 state.
 * One body serves both state types: `wide` selects int16 elements (state and time weights). */
#include "tfle_svdf.h"

#include "tfle_math.h"

static inline int32_t svdf_get(const void *v, int32_t i, int wide) {
  return wide ? (int32_t)((const int16_t *)v)[i] : (int32_t)((const int8_t *)v)[i];
}

static inline void svdf_set(void *v, int32_t i, int32_t value, int wide) {
  /* TFLM stores zero point + the clamped value with an implicit narrowing conversion */
  if (wide) {
    ((int16_t *)v)[i] = (int16_t)value;
  } else {
    ((int8_t *)v)[i] = (int8_t)value;
  }
}

static void svdf(const tfle_svdf_params *p, const int8_t *input, void *state, int wide,
                 int32_t *scratch, int8_t *output) {
  const int32_t n_batch = p->batches, n_input = p->input_size;
  const int32_t n_filter = p->num_filters, n_unit = p->num_units;
  const int32_t n_rank = p->rank, n_memory = p->memory_size;
  const int32_t state_min = wide ? -32768 : -128, state_max = wide ? 32767 : 127;
  const int32_t total = n_batch * n_filter * n_memory;
  int32_t *scratch_filter = scratch;                    /* [batch][filter] */
  int32_t *scratch_output = scratch + n_batch * n_filter; /* [batch][unit] */
  int32_t i, b, r, c, j;

  /* shift the whole state left by one element: each filter's oldest value drops (the last
   * element of each filter's row is overwritten next) */
  for (i = 0; i + 1 < total; ++i) {
    svdf_set(state, i, svdf_get(state, i + 1, wide), wide);
  }

  /* feature weights x input -> the newest state value of each filter */
  for (b = 0; b < n_batch; ++b) {
    const int8_t *w = p->weights_feature;
    const int8_t *x = input + b * n_input;
    int32_t at = b * n_filter * n_memory + (n_memory - 1);
    for (r = 0; r < n_filter; ++r) {
      int32_t dot = 0;
      for (c = 0; c < n_input; ++c) {
        dot += (int32_t)w[c] * ((int32_t)x[c] - p->input_zp);
      }
      w += n_input;
      dot = tfle_quant_mul(dot, p->scale1_mult, p->scale1_shift);
      dot = tfle_clamp_i32(dot, state_min, state_max);
      svdf_set(state, at, p->state_zp + dot, wide);
      at += n_memory;
    }
  }

  /* time weights x state, one sum per filter */
  for (b = 0; b < n_batch; ++b) {
    const int32_t base = b * n_memory * n_filter;
    for (i = 0; i < n_filter; ++i) {
      int32_t acc = 0;
      for (j = 0; j < n_memory; ++j) {
        const int32_t k = i * n_memory + j;
        acc += svdf_get(p->weights_time, k, wide) * (svdf_get(state, base + k, wide) - p->state_zp);
      }
      scratch_filter[b * n_filter + i] = acc;
    }
  }

  /* bias + the sum of each unit's `rank` filters, requantized to int8 (TFLM's integer path
   * applies no fused activation) */
  for (b = 0; b < n_batch; ++b) {
    const int32_t *s = scratch_filter + b * n_filter;
    int32_t *o = scratch_output + b * n_unit;
    for (i = 0; i < n_unit; ++i) {
      o[i] = p->bias ? p->bias[i] : 0;
      for (j = 0; j < n_rank; ++j) {
        o[i] += *s++;
      }
    }
  }
  for (i = 0; i < n_batch * n_unit; ++i) {
    const int32_t v = tfle_quant_mul(scratch_output[i], p->scale2_mult, p->scale2_shift);
    output[i] = (int8_t)tfle_clamp_i32(v + p->output_zp, -128, 127);
  }
}

void tfle_svdf_s8_s16(const tfle_svdf_params *p, const int8_t *input, int16_t *state,
                      int32_t *scratch, int8_t *output) {
  svdf(p, input, state, 1, scratch, output);
}

void tfle_svdf_s8_s8(const tfle_svdf_params *p, const int8_t *input, int8_t *state,
                     int32_t *scratch, int8_t *output) {
  svdf(p, input, state, 0, scratch, output);
}
