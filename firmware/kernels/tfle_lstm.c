/* UNIDIRECTIONAL_SEQUENCE_LSTM, int8 x int8 -> int16 (TFLM's EvalLstm<int8_t, int8_t,
 * int16_t, int32_t>): one step per time step, each gate two fully connected layers into
 * int16, the integer sigmoid/tanh (tfle_logistic_s16 / tfle_tanh_s16 of tfle_activations.c,
 * in place), the cell and hidden state updates by integer multiplies.
 * Right shifts of negative values are arithmetic, as TFLM also assumes. */
#include "tfle_lstm.h"

#include <string.h>

#include "tfle_math.h"

/* rows x int8 vectors times an int8 [units][depth] matrix -> int16: TFLM's integer
 * FullyConnected (zero filter offset, output offset 0, the int16 range) with the input offset
 * folded into `bias` */
static void lstm_fc(const int8_t *x, const int8_t *w, const int32_t *bias, int32_t mult,
                    int32_t shift, int32_t rows, int32_t depth, int32_t units, int16_t *out) {
  int32_t b, u;
  for (b = 0; b < rows; ++b) {
    const int8_t *xb = x + b * depth;
    for (u = 0; u < units; ++u) {
      const int32_t acc = tfle_wrap_add(tfle_dot_s8(w + u * depth, xb, depth), bias[u]);
      out[b * units + u] = (int16_t)tfle_clamp_i32(tfle_quant_mul(acc, mult, shift), -32768, 32767);
    }
  }
}

static void lstm_add_sat(const int16_t *a, const int16_t *b, int16_t *out, int32_t n) {
  int32_t i;
  for (i = 0; i < n; ++i) {
    out[i] = (int16_t)tfle_clamp_i32((int32_t)a[i] + (int32_t)b[i], -32768, 32767);
  }
}

/* reference_integer_ops::MulElementwise of symmetric int16 inputs, into int16 */
static void lstm_mul_s16(const int16_t *a, const int16_t *b, int32_t mult, int32_t shift,
                         int16_t *out, int32_t n) {
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t v = tfle_quant_mul((int32_t)a[i] * (int32_t)b[i], mult, shift);
    out[i] = (int16_t)tfle_clamp_i32(v, -32768, 32767);
  }
}

/* one gate: input FC + recurrent FC (saturating int16 sum), then its activation */
static void lstm_gate(const tfle_lstm_params *p, int g, const int8_t *x, const int8_t *h,
                      int32_t rows, int tanh_act, int16_t *gate, int16_t *tmp) {
  const int32_t n = rows * p->state_size;
  lstm_fc(x, p->in_weights[g], p->in_bias[g], p->in_mult[g], p->in_shift[g], rows,
          p->input_size, p->state_size, gate);
  lstm_fc(h, p->rec_weights[g], p->rec_bias[g], p->rec_mult[g], p->rec_shift[g], rows,
          p->state_size, p->state_size, tmp);
  lstm_add_sat(gate, tmp, gate, n);
  if (tanh_act) {
    tfle_tanh_s16(p->gate_act, p->sigmoid_table, gate, gate);
  } else {
    tfle_logistic_s16(p->gate_act, p->sigmoid_table, gate, gate);
  }
}

static void lstm_step(const tfle_lstm_params *p, const int8_t *x, int8_t *h, int16_t *c,
                      int32_t rows, int16_t *scratch, int8_t *out) {
  const int32_t n = rows * p->state_size;
  const int32_t stride = p->batches * p->state_size; /* TFLM's buffer size */
  int16_t *forget = scratch, *in_gate = scratch + stride, *cell_gate = scratch + 2 * stride;
  int16_t *tmp = scratch + 3 * stride;
  int32_t i;
  lstm_gate(p, TFLE_LSTM_FORGET_GATE, x, h, rows, 0, forget, tmp);
  lstm_gate(p, TFLE_LSTM_INPUT_GATE, x, h, rows, 0, in_gate, tmp);
  lstm_gate(p, TFLE_LSTM_CELL_GATE, x, h, rows, 1, cell_gate, tmp); /* the op's TANH */
  /* cell = forget * cell + input * cell gate, clipped */
  lstm_mul_s16(forget, c, p->forget_mult, p->forget_shift, c, n);
  lstm_mul_s16(in_gate, cell_gate, p->input_mult, p->input_shift, in_gate, n);
  lstm_add_sat(c, in_gate, c, n);
  if (p->use_clip) {
    for (i = 0; i < n; ++i) {
      c[i] = (int16_t)tfle_clamp_i32(c[i], -p->cell_clip, p->cell_clip);
    }
  }
  /* hidden = tanh(cell) * output gate, into int8 */
  lstm_gate(p, TFLE_LSTM_OUTPUT_GATE, x, h, rows, 0, in_gate, tmp);
  tfle_tanh_s16(p->cell_act, p->sigmoid_table, c, forget);
  for (i = 0; i < n; ++i) {
    const int32_t v = tfle_quant_mul((int32_t)forget[i] * (int32_t)in_gate[i], p->output_mult,
                                     p->output_shift);
    h[i] = (int8_t)tfle_clamp_i32(v + p->output_zp, -128, 127);
  }
  memcpy(out, h, (size_t)n);
}

void tfle_lstm_s8(const tfle_lstm_params *p, const int8_t *input, int8_t *hidden,
                  int16_t *cell, int16_t *scratch, int8_t *output) {
  /* time major: each step takes every batch row; otherwise one batch's sequence after the
   * other, each with its own rows of the states */
  const int32_t rows = p->time_major ? p->batches : 1;
  const int32_t sequences = p->time_major ? 1 : p->batches;
  int32_t s, t, in_off = 0, out_off = 0;
  for (s = 0; s < sequences; ++s) {
    int8_t *h = hidden + s * p->state_size;
    int16_t *c = cell + s * p->state_size;
    for (t = 0; t < p->time_steps; ++t) {
      lstm_step(p, input + in_off, h, c, rows, scratch, output + out_off);
      in_off += rows * p->input_size;
      out_off += rows * p->state_size;
    }
  }
}
