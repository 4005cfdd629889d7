/* FULLY_CONNECTED, int8, per-tensor or per-channel requantization.
 * Bit-exact with TFLM's reference_integer_ops::FullyConnected / FullyConnectedPerChannel.
 * `bias` is the folded bias (see tfle_kernels.h); weights have zero point 0, as TFLM's int8
 * weights always do, so the inner loop is sum(w * x). */
#include "tfle_kernels.h"

static inline int8_t requantize(const tfle_fc_params *p, int32_t sum, const int32_t *bias,
                                const int32_t *mult, const int8_t *shift, int32_t ch) {
  const int32_t q = p->per_channel ? ch : 0;
  int32_t acc = tfle_wrap_add(bias[ch], sum);
  acc = tfle_mbqm(acc, mult[q], shift[q]);
  acc += p->output_offset;
  return (int8_t)tfle_clamp_i32(acc, p->act_min, p->act_max);
}

void tfle_fully_connected_s8(const tfle_fc_params *p, const int8_t *input,
                             const int8_t *filter, const int32_t *bias, const int32_t *mult,
                             const int8_t *shift, int8_t *output) {
  int32_t b, oc;
  for (b = 0; b < p->batches; b++) {
    const int8_t *in = input + b * p->in_depth;
    for (oc = 0; oc < p->out_depth; oc++) {
      const int8_t *w = filter + oc * p->in_depth;
      const int32_t sum = tfle_dot_s8(w, in, p->in_depth);
      output[b * p->out_depth + oc] = requantize(p, sum, bias, mult, shift, oc);
    }
  }
}

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
      const int8_t *x = in;
      int32_t sum = 0;
      for (k = 0; k < n; k++) {
        x += deltas[k];
        sum += (int32_t)values[k] * *x;
      }
      values += n;
      deltas += n;
      output[b * p->out_depth + oc] = requantize(p, sum, bias, mult, shift, oc);
    }
  }
}
