/* tflite-edge: UNIDIRECTIONAL_SEQUENCE_LSTM, int8 activations and weights, int16 gates and
 * cell state, int32 biases: TFLM's 8x8->16 integer LSTM (unidirectional_sequence_lstm.cc,
 * lstm_eval.h/.cc, lstm_eval_common.cc), without peepholes, projection or layer norm (TFLM's
 * kernel refuses those). Every parameter is computed at compile time
 * (tflite_edge/compiler/ops/lstm.py) as TFLM's PrepareGateParametersInteger does.
 *
 * The hidden state (int8) and the cell state (int16) are variable tensors: arena bytes of
 * their own that keep their values between invocations, filled once before the first one by
 * the generated model (the hidden state with its zero point, the cell state with 0), as TFLM
 * fills them when it allocates its arena.
 */
#ifndef TFLE_LSTM_H
#define TFLE_LSTM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The gates, in TFLM's tensor order. */
#define TFLE_LSTM_INPUT_GATE 0
#define TFLE_LSTM_FORGET_GATE 1
#define TFLE_LSTM_CELL_GATE 2
#define TFLE_LSTM_OUTPUT_GATE 3

typedef struct {
  int32_t batches, time_steps, input_size, state_size, time_major;
  /* per gate: input x weights and hidden state x recurrent weights -> int16 Q3.12 */
  int32_t in_mult[4], in_shift[4], rec_mult[4], rec_shift[4];
  const int8_t *in_weights[4];  /* [state_size][input_size] */
  const int8_t *rec_weights[4]; /* [state_size][state_size] */
  /* [state_size] each: the gate bias + the input offset times each row's weight sum, and
   * the hidden state offset times each recurrent row's weight sum (folded at compile time,
   * exact in wrapping int32 as TFLM's accumulators) */
  const int32_t *in_bias[4];
  const int32_t *rec_bias[4];
  int32_t forget_mult, forget_shift; /* forget gate x cell state -> cell state */
  int32_t input_mult, input_shift;   /* input gate x cell gate -> cell state */
  int32_t output_mult, output_shift, output_zp; /* tanh(cell) x output gate -> hidden */
  int32_t cell_clip, use_clip;       /* quantized cell clip (symmetric) */
  int32_t tanh_mult, tanh_shift;     /* the integer tanh's input scaling for the cell */
} tfle_lstm_params;

/* scratch: 4 * batches * state_size int16 values. output: [batch][time][state] (or
 * [time][batch][state] when time major), each step's hidden state. */
void tfle_lstm_s8(const tfle_lstm_params *p, const int8_t *input, int8_t *hidden,
                  int16_t *cell, int16_t *scratch, int8_t *output);

/* The integer sigmoid and tanh of int16 values in place, as TFLM's reference_integer_ops
 * Logistic / Tanh with the LSTM's parameters (exposed for the tests). */
void tfle_lstm_sigmoid_s16(int16_t *data, int32_t n);
void tfle_lstm_tanh_s16(int32_t mult, int32_t shift, const int16_t *x, int16_t *y, int32_t n);

#ifdef __cplusplus
}
#endif

#endif /* TFLE_LSTM_H */
