/* FULLY_CONNECTED with weights in their own OI layout (the packed kernels are in
 * tfle_conv_fc_packed.c) and sparse, int8, per-tensor or per-channel requantization.
 * Bit-exact with TFLM's reference_integer_ops::FullyConnected / FullyConnectedPerChannel.
 * `bias` is the folded bias (see tfle_kernels.h); weights have zero point 0, as TFLM's int8
 * weights always do, so the inner loop is sum(w * x). */
#include "tfle_dsp.h"
#include "tfle_kernels.h"

/* A GEMM: y[m * y_stride + n] = x[m] . w[n] over k values, for m < rows, n < n_out (rows are
 * k apart in x, as are the weight rows in w). Two rows by two channels at a time, so each
 * loaded word feeds two multiply-accumulates; a single row goes four channels at a time. */
void tfle_gemm_s8(const int8_t *x, int32_t rows, int32_t k, const int8_t *w, int32_t n_out,
                  const tfle_requant *rq, int8_t *y, int32_t y_stride) {
  const tfle_requant local = *rq; /* a copy that the int8 stores cannot alias */
  const tfle_requant *const r = &local;
  const tfle_window row = tfle_window_of(1, k, 0, 0);
  int32_t m = 0, n;
  for (; m + 2 <= rows; m += 2, x += 2 * k, y += 2 * y_stride) {
    for (n = 0; n + 2 <= n_out; n += 2) {
      int32_t acc[4] = {0, 0, 0, 0};
      tfle_channel c0, c1;
      tfle_mk_2x2(x, k, w + n * k, k, row, 0, 0, acc);
      c0 = tfle_channel_of(r, n);
      c1 = tfle_channel_of(r, n + 1);
      y[n] = tfle_out(r, &c0, acc[0]);
      y[n + 1] = tfle_out(r, &c1, acc[1]);
      y[n + y_stride] = tfle_out(r, &c0, acc[2]);
      y[n + y_stride + 1] = tfle_out(r, &c1, acc[3]);
    }
    if (n < n_out) {
      int32_t acc[2] = {0, 0};
      tfle_channel c;
      tfle_mk_2x1(x, k, w + n * k, row, 0, 0, acc);
      c = tfle_channel_of(r, n);
      y[n] = tfle_out(r, &c, acc[0]);
      y[n + y_stride] = tfle_out(r, &c, acc[1]);
    }
  }
  if (m < rows) {
    for (n = 0; n + 4 <= n_out; n += 4) {
      int32_t acc[4] = {0, 0, 0, 0};
      tfle_channel c0, c1, c2, c3;
      tfle_mk_1x4(x, w + n * k, k, k, acc);
      c0 = tfle_channel_of(r, n);
      c1 = tfle_channel_of(r, n + 1);
      c2 = tfle_channel_of(r, n + 2);
      c3 = tfle_channel_of(r, n + 3);
      y[n] = tfle_out(r, &c0, acc[0]);
      y[n + 1] = tfle_out(r, &c1, acc[1]);
      y[n + 2] = tfle_out(r, &c2, acc[2]);
      y[n + 3] = tfle_out(r, &c3, acc[3]);
    }
    for (; n < n_out; n++) {
      int32_t acc[1] = {0};
      tfle_channel c;
      tfle_mk_1x1(x, w + n * k, row, 0, 0, acc);
      c = tfle_channel_of(r, n);
      y[n] = tfle_out(r, &c, acc[0]);
    }
  }
}

/* FULLY_CONNECTED (and a 1x1 CONV_2D of stride 1, pixels being the batches) is one GEMM. */
void tfle_fully_connected_s8(const tfle_fc_params *p, const int8_t *input,
                             const int8_t *filter, const int32_t *bias, const int32_t *mult,
                             const int8_t *shift, int8_t *output) {
  const tfle_requant r = tfle_requant_of(bias, mult, shift, p->per_channel, p->output_offset,
                                         p->act_min, p->act_max);
  tfle_gemm_s8(input, p->batches, p->in_depth, filter, p->out_depth, &r, output, p->out_depth);
}

/* x . w over one channel's n nonzeros, delta-coded: four at a time (the loop costs as much as
 * a multiply-accumulate here). */
static int32_t sparse_row(const int8_t *x, const int8_t *values, const uint8_t *deltas,
                          int32_t n) {
  int32_t sum = 0, k = 0;
  for (; k + 4 <= n; k += 4) {
    x += deltas[k];
    sum += values[k] * *x;
    x += deltas[k + 1];
    sum += values[k + 1] * *x;
    x += deltas[k + 2];
    sum += values[k + 2] * *x;
    x += deltas[k + 3];
    sum += values[k + 3] * *x;
  }
  for (; k < n; k++) {
    x += deltas[k];
    sum += values[k] * *x;
  }
  return sum;
}

void tfle_fully_connected_sparse_s8(const tfle_fc_params *p, const int8_t *input,
                                    const tfle_sparse_weights *filter, const int32_t *bias,
                                    const int32_t *mult, const int8_t *shift,
                                    int8_t *output) {
  const tfle_requant r = tfle_requant_of(bias, mult, shift, p->per_channel, p->output_offset,
                                         p->act_min, p->act_max);
  int32_t b, oc;
  for (b = 0; b < p->batches; b++) {
    const int8_t *in = input + b * p->in_depth;
    const int8_t *values = filter->values;
    const uint8_t *deltas = filter->deltas;
    int8_t *y = output + b * p->out_depth;
    for (oc = 0; oc < p->out_depth; oc++) {
      const int32_t n = filter->counts[oc];
      const tfle_channel c = tfle_channel_of(&r, oc);
      y[oc] = tfle_out(&r, &c, sparse_row(in, values, deltas, n));
      values += n;
      deltas += n;
    }
  }
}
