/* FULLY_CONNECTED, int16 activations and int8 weights (16x8). Bit-exact with TFLM's
 * reference_integer_ops FullyConnected / FullyConnectedPerChannel for int16 inputs with an
 * int64 bias: int64 sum of w * (x + input_offset), plus the bias, MultiplyByQuantizedMultiplier
 * on int64, plus output_offset, clamped. The weights' zero point is 0 (filter_offset unused). */
#include "tfle_s16.h"

void tfle_fully_connected_s16(const tfle_fc_params *p, const int16_t *input,
                              const int8_t *filter, const int64_t *bias, const int32_t *mult,
                              const int8_t *shift, int16_t *output) {
  int32_t b, oc, d;
  for (b = 0; b < p->batches; ++b) {
    const int16_t *x = input + b * p->in_depth;
    for (oc = 0; oc < p->out_depth; ++oc) {
      const int8_t *w = filter + oc * p->in_depth;
      const int32_t q = p->per_channel ? oc : 0;
      int64_t acc = 0;
      int32_t v;
      for (d = 0; d < p->in_depth; ++d) {
        acc += (int32_t)w[d] * ((int32_t)x[d] + p->input_offset);
      }
      acc += bias[oc];
      v = tfle_quant_mul_s64(acc, mult[q], shift[q]) + p->output_offset;
      output[b * p->out_depth + oc] = (int16_t)tfle_clamp_i32(v, p->act_min, p->act_max);
    }
  }
}
