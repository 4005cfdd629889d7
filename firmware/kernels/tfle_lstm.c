/* UNIDIRECTIONAL_SEQUENCE_LSTM, int8 x int8 -> int16 (TFLM's EvalLstm<int8_t, int8_t,
 * int16_t, int32_t>): one step per time step, each gate two fully connected layers into
 * int16, the integer sigmoid/tanh, the cell and hidden state updates by integer multiplies.
 * Right shifts of negative values are arithmetic, as TFLM also assumes. */
#include "tfle_lstm.h"

#include <stdlib.h>
#include <string.h>

#include "tfle_math.h"

/* sigmoid(i / 24) in 0.16 fixed point, i = 0..255: the table of TFLM's integer logistic and
 * tanh (tanh(x) = 2 sigmoid(2x) - 1), the same values as TensorFlow Lite's
 * sigmoid_table_uint16 (kernels/internal/common.h). */
static const uint16_t lstm_sigmoid_table[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149,
    40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369,
    47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169,
    53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370,
    60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302,
    62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
    63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786,
    64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079,
    65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
    65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
    65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498,
    65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522,
    65523, 65523, 65524, 65524, 65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528,
    65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531,
    65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65534, 65535,
};

void tfle_lstm_sigmoid_s16(int16_t *data, int32_t n) {
  /* reference_integer_ops::Logistic with input_multiplier 0, input_left_shift 0: the
   * power-of-two case multiplies by 3 and shifts by nothing */
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t x = (int32_t)data[i] * 3;
    const uint32_t ax = (uint32_t)abs(x);
    const uint32_t uh = ax >> 9;
    uint32_t result;
    if (uh >= 255) {
      result = 0x7FFFu << 10;
    } else {
      const uint32_t ua = lstm_sigmoid_table[uh];
      const uint32_t ub = lstm_sigmoid_table[uh + 1];
      const uint32_t ut = ax & 0x1ffu;
      result = (ua << 9) + ut * (ub - ua);
    }
    result = (x >= 0) ? (result + (1u << 9)) : ((1u << (16 + 9)) - result + (1u << 9) - 1u);
    result >>= 10;
    data[i] = (int16_t)result;
  }
}

void tfle_lstm_tanh_s16(int32_t mult, int32_t shift, const int16_t *x, int16_t *y, int32_t n) {
  /* reference_integer_ops::Tanh; mult and shift are already normalized (mult != 0) */
  const int32_t round = shift > 0 ? (int32_t)1 << (shift - 1) : 0;
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t v = ((int32_t)x[i] * mult + round) >> shift;
    const uint32_t av = (uint32_t)abs(v);
    const uint32_t uh = av >> 8;
    int32_t result;
    if (uh >= 255) {
      result = (int32_t)(0xFFFFu << 8);
    } else {
      const uint32_t ua = lstm_sigmoid_table[uh];
      const uint32_t ub = lstm_sigmoid_table[uh + 1];
      const uint8_t ut = (uint8_t)(av & 0xFFu);
      result = (int32_t)((ua << 8) + ut * (ub - ua));
    }
    result = (v >= 0) ? (result - (1 << (14 + 9)) + (1 << (9 - 2)))
                      : (-result + (1 << (14 + 9)) + (1 << (9 - 2)) - 1);
    result >>= (9 - 1);
    y[i] = (int16_t)result;
  }
}

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
    /* Tanh(cell_state_scale_power = -12): input left shift 15 - 12 - 3 = 0 -> x 3 */
    tfle_lstm_tanh_s16(3, 0, gate, gate, n);
  } else {
    tfle_lstm_sigmoid_s16(gate, n);
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
  tfle_lstm_tanh_s16(p->tanh_mult, p->tanh_shift, c, forget, n);
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
