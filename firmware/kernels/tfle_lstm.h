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
 *
 * The gates' sigmoid and tanh and the cell state's tanh are the int16 LOGISTIC / TANH
 * kernels of tfle_activations.c (tfle_logistic_s16, tfle_tanh_s16), run in place with their
 * own parameter structs and the sigmoid table the compiler puts in flash.
 */
#ifndef TFLE_LSTM_H
#define TFLE_LSTM_H

#include <stdint.h>

#include "tfle_extra.h"

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
  /* the gates' sigmoid and tanh (input Q3.12) and the cell state's tanh, each over
   * rows x state_size values (rows: batches when time major, else 1) */
  const tfle_sigmoid16_params *gate_act;
  const tfle_sigmoid16_params *cell_act;
  const uint16_t *sigmoid_table; /* TFLM's 256-entry sigmoid table (sigmoid16_table()) */
} tfle_lstm_params;

/* scratch: 4 * batches * state_size int16 values. output: [batch][time][state] (or
 * [time][batch][state] when time major), each step's hidden state. */
void tfle_lstm_s8(const tfle_lstm_params *p, const int8_t *input, int8_t *hidden,
                  int16_t *cell, int16_t *scratch, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TFLE_LSTM_H */
