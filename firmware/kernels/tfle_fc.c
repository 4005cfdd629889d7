/* FULLY_CONNECTED, int8, per-tensor or per-channel requantization.
 * Bit-exact with TFLM's reference_integer_ops::FullyConnected / FullyConnectedPerChannel. */
#include "tfle_kernels.h"

static inline int8_t requantize(const tfle_fc_params *p, int32_t acc, const int32_t *bias,
                                const int32_t *mult, const int8_t *shift, int32_t ch) {
  const int32_t q = p->per_channel ? ch : 0;
  if (bias) acc = tfle_wrap_add(acc, bias[ch]);
  acc = tfle_mbqm(acc, mult[q], shift[q]);
  acc += p->output_offset;
  return (int8_t)tfle_clamp_i32(acc, p->act_min, p->act_max);
}

void tfle_fully_connected_s8(const tfle_fc_params *p, const int8_t *input,
                             const int8_t *filter, const int32_t *bias, const int32_t *mult,
                             const int8_t *shift, int8_t *output) {
  int32_t b, oc, d;
  for (b = 0; b < p->batches; b++) {
    const int8_t *in = input + b * p->in_depth;
    for (oc = 0; oc < p->out_depth; oc++) {
      const int8_t *w = filter + oc * p->in_depth;
      int32_t acc = 0;
      for (d = 0; d < p->in_depth; d++) {
        acc += ((int32_t)w[d] + p->filter_offset) * ((int32_t)in[d] + p->input_offset);
      }
      output[b * p->out_depth + oc] = requantize(p, acc, bias, mult, shift, oc);
    }
  }
}

/* Only for weights with zero point 0 (TFLM's int8 weights always are): zeros add nothing. */
void tfle_fully_connected_sparse_s8(const tfle_fc_params *p, const int8_t *input,
                                    const tfle_sparse_weights *filter, const int32_t *bias,
                                    const int32_t *mult, const int8_t *shift,
                                    int8_t *output) {
  int32_t b, oc, k;
  for (b = 0; b < p->batches; b++) {
    const int8_t *in = input + b * p->in_depth;
    const int8_t *values = filter->values;
    const uint8_t *deltas = filter->deltas;
    for (oc = 0; oc < p->out_depth; oc++) {
      const int32_t n = filter->counts[oc];
      int32_t acc = 0;
      int32_t pos = 0;
      for (k = 0; k < n; k++) {
        pos += deltas[k];
        acc += (int32_t)values[k] * ((int32_t)in[pos] + p->input_offset);
      }
      values += n;
      deltas += n;
      output[b * p->out_depth + oc] = requantize(p, acc, bias, mult, shift, oc);
    }
  }
}
