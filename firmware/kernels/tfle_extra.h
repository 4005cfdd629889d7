/* tflite-edge: int8 (and some int16) element-wise, activation, reduction and data-movement
 * kernels.
 *
 * Portable C99, no dynamic allocation, bit-exact with TensorFlow Lite Micro's reference
 * kernels (same fixed-point requantization, same gemmlowp logistic/tanh, same hard-swish
 * int16 path, same integer MEAN, same float rounding in QUANTIZE/DEQUANTIZE). Every parameter
 * that TFLM computes in Prepare() is computed at compile time by tflite_edge/compiler/ops/ and
 * passed in a const struct that lives in flash. Shapes are given with up to TFLE_X_MAX_DIMS
 * dimensions, padded with leading 1s.
 *
 * Implementations, one file per op family: tfle_add_mul.c (ADD, SUB, MUL,
 * SQUARED_DIFFERENCE), tfle_softmax16.c (int16 SOFTMAX), tfle_quantize.c (QUANTIZE,
 * DEQUANTIZE, RELU), tfle_activations.c, tfle_reduce.c, tfle_concatenation.c, tfle_pad.c,
 * tfle_space_batch.c.
 */
#ifndef TFLE_EXTRA_H
#define TFLE_EXTRA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TFLE_X_MAX_DIMS 6

/* ---------------------------------------------------------------- broadcasting */

/* How two inputs map onto the output of a binary element-wise op. With broadcast == 0 the
 * three tensors have `size` elements each; otherwise `dims` is the output shape and
 * `stride1` / `stride2` the element strides of each input (0 along broadcast dimensions). */
typedef struct {
  int32_t broadcast;
  int32_t size;
  int32_t dims[TFLE_X_MAX_DIMS];
  int32_t stride1[TFLE_X_MAX_DIMS];
  int32_t stride2[TFLE_X_MAX_DIMS];
} tfle_bcast;

/* Runs STMT once per output element, in output order, with I the output index and J1 / J2
 * the element indices of the two inputs (identifiers this macro declares): flat when the
 * shapes agree, otherwise an odometer over the output (innermost dimension last) whose
 * inputs follow their strides. Shared by every broadcasting binary kernel. */
#define TFLE_BCAST_EACH(B, I, J1, J2, STMT)                                               \
  do {                                                                                    \
    const tfle_bcast *const tfle_bc_ = (B);                                               \
    const int32_t tfle_bn_ = tfle_bc_->size;                                              \
    int32_t I, J1, J2;                                                                    \
    if (!tfle_bc_->broadcast) {                                                           \
      for (I = 0; I < tfle_bn_; ++I) {                                                    \
        J1 = I;                                                                           \
        J2 = I;                                                                           \
        STMT;                                                                             \
      }                                                                                   \
    } else {                                                                              \
      int32_t tfle_bidx_[TFLE_X_MAX_DIMS];                                                \
      int32_t tfle_bd_;                                                                   \
      for (tfle_bd_ = 0; tfle_bd_ < TFLE_X_MAX_DIMS; ++tfle_bd_) {                        \
        tfle_bidx_[tfle_bd_] = 0;                                                         \
      }                                                                                   \
      J1 = 0;                                                                             \
      J2 = 0;                                                                             \
      for (I = 0; I < tfle_bn_; ++I) {                                                    \
        STMT;                                                                             \
        for (tfle_bd_ = TFLE_X_MAX_DIMS - 1; tfle_bd_ >= 0; --tfle_bd_) {                 \
          J1 += tfle_bc_->stride1[tfle_bd_];                                              \
          J2 += tfle_bc_->stride2[tfle_bd_];                                              \
          if (++tfle_bidx_[tfle_bd_] < tfle_bc_->dims[tfle_bd_]) {                        \
            break;                                                                        \
          }                                                                               \
          J1 -= tfle_bc_->stride1[tfle_bd_] * tfle_bc_->dims[tfle_bd_];                   \
          J2 -= tfle_bc_->stride2[tfle_bd_] * tfle_bc_->dims[tfle_bd_];                   \
          tfle_bidx_[tfle_bd_] = 0;                                                       \
        }                                                                                 \
      }                                                                                   \
    }                                                                                     \
  } while (0)

/* ---------------------------------------------------------------- ADD, SUB, MUL, ... */

/* ADD and SUB (left_shift 20 for int8, 15 for int16) and SQUARED_DIFFERENCE (left_shift 7
 * for int8, 0 for int16; its output multiplier may exceed one, output_shift > 0). */
typedef struct {
  int32_t input1_offset, input2_offset, output_offset; /* -zp1, -zp2, +zp_out */
  int32_t left_shift;
  int32_t input1_multiplier, input1_shift;             /* shift <= 0 */
  int32_t input2_multiplier, input2_shift;
  int32_t output_multiplier, output_shift;
  int32_t act_min, act_max;
} tfle_add_params;

typedef struct {
  int32_t input1_offset, input2_offset, output_offset;
  int32_t output_multiplier, output_shift;
  int32_t act_min, act_max;
} tfle_mul_params;

void tfle_add_s8(const tfle_add_params *p, const tfle_bcast *b, const int8_t *x1,
         const int8_t *x2, int8_t *y);
void tfle_add_s16(const tfle_add_params *p, const tfle_bcast *b, const int16_t *x1,
          const int16_t *x2, int16_t *y);
void tfle_sub_s8(const tfle_add_params *p, const tfle_bcast *b, const int8_t *x1,
         const int8_t *x2, int8_t *y);
void tfle_sub_s16(const tfle_add_params *p, const tfle_bcast *b, const int16_t *x1,
          const int16_t *x2, int16_t *y);
void tfle_squared_difference_s8(const tfle_add_params *p, const tfle_bcast *b, const int8_t *x1,
                const int8_t *x2, int8_t *y);
void tfle_squared_difference_s16(const tfle_add_params *p, const tfle_bcast *b,
                 const int16_t *x1, const int16_t *x2, int16_t *y);
void tfle_mul_s8(const tfle_mul_params *p, const tfle_bcast *b, const int8_t *x1,
         const int8_t *x2, int8_t *y);
void tfle_mul_s16(const tfle_mul_params *p, const tfle_bcast *b, const int16_t *x1,
          const int16_t *x2, int16_t *y);

/* ---------------------------------------------------------------- requantize, RELU, RELU6 */

/* y = clamp(output_zp + MultiplyByQuantizedMultiplier(x - input_zp), act_min, act_max):
 * QUANTIZE int8 -> int8 and RELU (act_min = max(-128, output_zp)). */
typedef struct {
  int32_t size;
  int32_t input_zp, output_zp;
  int32_t multiplier, shift;
  int32_t act_min, act_max;
} tfle_requant_params;

void tfle_requant_s8(const tfle_requant_params *p, const int8_t *x, int8_t *y);

/* y = min(max(x, lo), hi) on the raw values: TFLM's RELU6 (and RELU_N1_TO_1). */
void tfle_clamp_s8(int32_t size, int32_t lo, int32_t hi, const int8_t *x, int8_t *y);

/* ---------------------------------------------------------------- QUANTIZE / DEQUANTIZE */

typedef struct {
  int32_t size;
  int32_t zero_point;
  float scale;
} tfle_affine_params;

/* float32 -> int8: clamp(round(x / scale) + zero_point), round half away from zero. */
void tfle_quantize_f32_s8(const tfle_affine_params *p, const float *x, int8_t *y);
/* int8 -> float32: scale * (x - zero_point). */
void tfle_dequantize_s8_f32(const tfle_affine_params *p, const int8_t *x, float *y);

/* ---------------------------------------------------------------- LEAKY_RELU, HARD_SWISH */

typedef struct {
  int32_t size;
  int32_t input_zp, output_zp;
  int32_t multiplier_identity, shift_identity;
  int32_t multiplier_alpha, shift_alpha;
} tfle_leaky_relu_params;

void tfle_leaky_relu_s8(const tfle_leaky_relu_params *p, const int8_t *x, int8_t *y);

typedef struct {
  int32_t size;
  int32_t input_zp, output_zp;
  int32_t output_multiplier_fixedpoint_int16, output_multiplier_exponent;
  int32_t reluish_multiplier_fixedpoint_int16, reluish_multiplier_exponent;
} tfle_hard_swish_params;

void tfle_hard_swish_s8(const tfle_hard_swish_params *p, const int8_t *x, int8_t *y);

/* ---------------------------------------------------------------- LOGISTIC, TANH */

typedef struct {
  int32_t size;
  int32_t input_zp;
  int32_t input_range_radius;
  int32_t input_multiplier, input_left_shift;
} tfle_sigmoid_params;

/* Output quantization is fixed by the converter: logistic 1/256 zp -128, tanh 1/128 zp 0. */
void tfle_logistic_s8(const tfle_sigmoid_params *p, const int8_t *x, int8_t *y);
void tfle_tanh_s8(const tfle_sigmoid_params *p, const int8_t *x, int8_t *y);

/* ---------------------------------------------------------------- int16 activations */

/* TFLM's RELU6 for int16 clamps the raw values (no requantization); RELU requantizes. */
void tfle_clamp_s16(int32_t size, int32_t lo, int32_t hi, const int16_t *x, int16_t *y);
void tfle_relu_s16(const tfle_requant_params *p, const int16_t *x, int16_t *y);
void tfle_leaky_relu_s16(const tfle_leaky_relu_params *p, const int16_t *x, int16_t *y);

/* int16 LOGISTIC / TANH (zero points 0, output scale 2^-15): the input is brought to the
 * sigmoid table's scale as (x * input_multiplier + round) >> input_left_shift; `table` is
 * TFLM's 256-entry sigmoid table (sigmoid(i / 24) in unsigned Q0.16), made at compile time. */
typedef struct {
  int32_t size;
  int32_t input_multiplier, input_left_shift;
} tfle_sigmoid16_params;

void tfle_logistic_s16(const tfle_sigmoid16_params *p, const uint16_t *table, const int16_t *x,
               int16_t *y);
void tfle_tanh_s16(const tfle_sigmoid16_params *p, const uint16_t *table, const int16_t *x,
           int16_t *y);

/* ---------------------------------------------------------------- SOFTMAX int16 */

/* int16 in, int16 out (zero points 0, output scale 1/32768): TFLM's SoftmaxInt16, with its
 * two 513-entry interpolated lookup tables (exp on [-10, 0] and 1 / (1 + x) on [0, 1]),
 * generated at compile time and passed in flash. The output doubles as the exp cache. */
typedef struct {
  int32_t outer, depth;
  int32_t input_multiplier, input_left_shift;
} tfle_softmax16_params;

void tfle_softmax_s16(const tfle_softmax16_params *p, const int16_t *exp_lut,
              const int16_t *one_over_one_plus_x_lut, const int16_t *x, int16_t *y);

/* ---------------------------------------------------------------- MEAN, REDUCE_MAX */

/* The input viewed as (kept dims) x (reduced dims), each with its own element strides; the
 * output is the kept dims in order. */
typedef struct {
  int32_t n_kept;
  int32_t kept_dims[TFLE_X_MAX_DIMS];
  int32_t kept_strides[TFLE_X_MAX_DIMS];
  int32_t n_reduced;
  int32_t reduced_dims[TFLE_X_MAX_DIMS];
  int32_t reduced_strides[TFLE_X_MAX_DIMS];
  int32_t num_reduced; /* product of reduced_dims */
} tfle_reduce_shape;

/* TFLM's integer MEAN: the sum over the reduced elements less input_zp * count, requantized
 * with a multiplier that already includes 1 / count. */
typedef struct {
  int32_t input_zp, output_zp;
  int32_t multiplier, shift;
} tfle_mean_params;

void tfle_mean_s8(const tfle_mean_params *p, const tfle_reduce_shape *s, const int8_t *x,
          int8_t *y);
void tfle_mean_s16(const tfle_mean_params *p, const tfle_reduce_shape *s, const int16_t *x,
           int16_t *y);
void tfle_reduce_max_s8(const tfle_reduce_shape *s, const int8_t *x, int8_t *y);

/* ---------------------------------------------------------------- CONCATENATION */

/* For each of `outer` rows, copy copy_bytes[i] bytes of input i in turn (any element type). */
void tfle_concat(int32_t n_inputs, const void *const *inputs, const int32_t *copy_bytes,
         int32_t outer, void *y);

/* ---------------------------------------------------------------- PAD */

typedef struct {
  int32_t in_dims[TFLE_X_MAX_DIMS];
  int32_t before[TFLE_X_MAX_DIMS];
  int32_t after[TFLE_X_MAX_DIMS];
  int32_t pad_value;
} tfle_pad_params;

void tfle_pad_s8(const tfle_pad_params *p, const int8_t *x, int8_t *y);

/* ---------------------------------------------------------------- SPACE_TO_BATCH_ND etc. */

/* 4-D NHWC shapes (a 3-D NHC tensor is N,H,1,C); `pad_top/left` are the paddings of
 * SPACE_TO_BATCH_ND or the crops of BATCH_TO_SPACE_ND. */
typedef struct {
  int32_t in_dims[4];
  int32_t out_dims[4];
  int32_t block_h, block_w;
  int32_t pad_top, pad_left;
  int32_t pad_value;
} tfle_space_batch_params;

void tfle_space_to_batch_s8(const tfle_space_batch_params *p, const int8_t *x, int8_t *y);
void tfle_batch_to_space_s8(const tfle_space_batch_params *p, const int8_t *x, int8_t *y);

#ifdef __cplusplus
}
#endif

#endif /* TFLE_EXTRA_H */
