"""UNIDIRECTIONAL_SEQUENCE_LSTM, int8 activations and weights with int16 gates and cell
state (TFLM's unidirectional_sequence_lstm.cc, lstm_eval.h/.cc, lstm_eval_common.cc: the
8x8->16 integer path), as the TFLite converter writes it for a Keras LSTM layer with a fixed
batch size. Peepholes, projection and layer norm are absent (TFLM's kernel refuses them).

The hidden state (input 18) and the cell state (input 19) are variable tensors: the planner
gives them arena bytes of their own for the model's lifetime and the layer fills them once,
on the first invocation, as TFLM does when it allocates them (planner.state_init_code).

The gates' sigmoid / tanh and the cell state's tanh are the int16 LOGISTIC / TANH kernels
(tfle_logistic_s16, tfle_tanh_s16) with tfle_sigmoid16_params of their own and the table of
activations.sigmoid16_table(), put in flash once per model (the constant pool shares it
between LSTM layers and int16 LOGISTIC / TANH ops).
"""

from __future__ import annotations

import math

import numpy as np

from ...model import quant
from ..operands import require_quantized
from ..packing import folded_bias
from ..params import declare_struct, ints, pointers
from ..planner import state_init_code, variable_fill
from ..registry import EmitContext, TensorView, register_op
from .activations import sigmoid16_table

HEADER = "tfle_lstm.h"

declare_struct(
    "tfle_lstm_params",
    [
        *ints("batches time_steps input_size state_size time_major"),
        *[(name, "i", 4) for name in ("in_mult", "in_shift", "rec_mult", "rec_shift")],
        *[(name, "p", 4) for name in ("in_weights", "rec_weights", "in_bias", "rec_bias")],
        *ints(
            "forget_mult forget_shift input_mult input_shift output_mult output_shift "
            "output_zp cell_clip use_clip"
        ),
        *pointers("gate_act cell_act sigmoid_table"),
    ],
    header=HEADER,
)

# TFLM's fixed scales of the gates: FC outputs Q3.12, nonlinearity outputs Q0.15
GATE_INPUT_SCALE = np.float32(2.0**-12)
GATE_OUTPUT_SCALE = np.float32(2.0**-15)

# input tensor indices (lstm_shared.h): per gate (input, forget, cell, output)
INPUT_WEIGHTS = (1, 2, 3, 4)
RECURRENT_WEIGHTS = (5, 6, 7, 8)
BIASES = (12, 13, 14, 15)
ABSENT = (9, 10, 11, 16, 17, 20, 21, 22, 23)  # peepholes, projection, layer norm
HIDDEN_STATE, CELL_STATE = 18, 19


def fc_multiplier(x_scale: float, w_scale: float) -> tuple[int, int]:
    """A gate's FC into Q3.12 (GetQuantizedConvolutionMultipler: the scale product in
    float32, the quotient in double)."""
    real = float(np.float32(x_scale) * np.float32(w_scale)) / float(GATE_INPUT_SCALE)
    return quant.quantize_multiplier(real)


def mul_multiplier(s1: float, s2: float, out: float) -> tuple[int, int]:
    """CreateInterGateMulParams: in1 x in2 / out in double."""
    return quant.quantize_multiplier(float(s1) * float(s2) / float(out))


def cell_scale_power(scale: float) -> int:
    """CheckedLog2 of the cell state scale (float32 logarithms, rounded half away)."""
    x = np.float32(np.log(np.float32(scale))) * (np.float32(1.0) / np.float32(np.log(2.0)))
    rounded = quant.tflite_round(float(x))
    if abs(abs(float(x) - rounded) - 0.5) < 1e-3:
        raise ValueError(f"a cell state scale {scale} halfway between two powers of two")
    return rounded


def tanh_scaling(power: int) -> tuple[int, int]:
    """(multiplier, right shift) the integer tanh applies to its input (lstm_internal::Tanh
    then reference_integer_ops::Tanh's power-of-two case)."""
    shift, mult = 15 + power - 3, 0
    if shift < 0:
        shift, mult = -shift, 3
    if mult == 0:
        mult, shift = 3 << shift, 0
    return mult, shift


def activation_params(size: int, cell_power: int) -> tuple[dict, dict]:
    """tfle_sigmoid16_params of the gates' sigmoid and tanh and of the cell state's tanh, over
    `size` values each. A gate's input is Q3.12: TFLM's Sigmoid (Logistic with multiplier 0,
    shift 0: the power-of-two case) and its gate Tanh (cell_state_scale_power -12) both
    multiply by 3 and shift by nothing, tanh_scaling(-12); the cell state's Tanh scales by
    tanh_scaling(cell_power)."""
    gate_mult, gate_shift = tanh_scaling(-12)
    cell_mult, cell_shift = tanh_scaling(cell_power)
    gate = {"size": size, "input_multiplier": gate_mult, "input_left_shift": gate_shift}
    cell = {"size": size, "input_multiplier": cell_mult, "input_left_shift": cell_shift}
    return gate, cell


def cell_clip(clip: float, cell_scale: float) -> int:
    """CreateLstmCellStateInfo's quantized_cell_clip (double quotient, clamped, truncated)."""
    q = float(np.float32(clip)) / float(np.float32(cell_scale))
    return int(math.trunc(min(max(q, -32768.0), 32767.0)))


def _weights(ctx: EmitContext, w: TensorView | None, rows: int, cols: int) -> TensorView:
    if w is None or not w.is_constant:
        ctx.unsupported("absent or non-constant gate weights (CIFG is not supported by TFLM)")
    if w.dtype != np.int8 or w.quant is None:
        ctx.unsupported(f"gate weights of type {w.dtype} (the integer LSTM takes int8)")
    if w.quant.scale.size > 1:
        ctx.unsupported("per-channel gate weights (TFLM's LSTM uses one scale per tensor)")
    if int(w.quant.zero_point.ravel()[0]) != 0:
        ctx.unsupported("gate weights with a nonzero zero point")
    if tuple(w.shape) != (rows, cols):
        ctx.unsupported(f"gate weights of shape {w.shape}, expected {(rows, cols)}")
    return w


@register_op("UNIDIRECTIONAL_SEQUENCE_LSTM", dtypes=("int8",))
def _emit_lstm(ctx: EmitContext) -> str:
    ins = ctx.inputs
    if len(ins) != 24:
        ctx.unsupported(f"{len(ins)} inputs (TFLM's kernel takes 24)")
    x, y = ins[0], ctx.outputs[0]
    h, c = ins[HIDDEN_STATE], ins[CELL_STATE]
    require_quantized(ctx, x, y, h, dtypes=("int8",))
    present = [i for i in ABSENT if ins[i] is not None]
    if present:
        ctx.unsupported(f"inputs {present} (peepholes, projection or layer norm)")
    for state in (h, c):
        if state is None or state.is_constant or not state.tensor.is_variable:
            ctx.unsupported("hidden or cell states that are not variable tensors")
    if c.dtype != np.int16 or c.quant is None:
        ctx.unsupported(f"a cell state of type {c.dtype} (TFLM's integer LSTM takes int16)")
    act = ctx.options.get("fusedActivationFunction", "NONE") or "NONE"
    if act != "TANH":
        # TFLM's CalculateLstmGate runs sigmoid or tanh only, and a flatbuffer cannot say
        # sigmoid: anything but TANH would stop TFLM at run time
        ctx.unsupported(f"the cell gate activation {act} (TFLM runs TANH)")
    if len(x.shape) != 3 or len(y.shape) != 3 or len(h.shape) != 2:
        ctx.unsupported("an input or output that is not 3-D, or a hidden state not 2-D")
    time_major = bool(ctx.options.get("timeMajor", False))
    d0, d1, n_input = (int(d) for d in x.shape)
    batches, steps = (d1, d0) if time_major else (d0, d1)
    n_state = int(h.shape[1])
    if tuple(y.shape) != (d0, d1, n_state) or h.size != batches * n_state or c.size != h.size:
        ctx.unsupported(f"states {h.shape}/{c.shape} and output {y.shape} for input {x.shape}")

    in_mult, in_shift, rec_mult, rec_shift = [], [], [], []
    in_w, rec_w, in_bias, rec_bias = [], [], [], []
    for g in range(4):
        w = _weights(ctx, ins[INPUT_WEIGHTS[g]], n_state, n_input)
        r = _weights(ctx, ins[RECURRENT_WEIGHTS[g]], n_state, n_state)
        b = ins[BIASES[g]]
        if b is None or not b.is_constant or b.dtype != np.int32 or tuple(b.shape) != (n_state,):
            ctx.unsupported(f"a gate bias that is not a constant int32 [{n_state}] tensor")
        m, s = fc_multiplier(x.scale, w.scale)
        in_mult.append(m)
        in_shift.append(s)
        m, s = fc_multiplier(h.scale, r.scale)
        rec_mult.append(m)
        rec_shift.append(s)
        in_w.append(w.expr)
        rec_w.append(r.expr)
        # TFLM adds the bias to the input FC only; the recurrent FC has none
        in_bias.append(folded_bias(ctx, b, x, np.asarray(w.data)))
        rec_bias.append(folded_bias(ctx, None, h, np.asarray(r.data)))

    cs = float(np.float32(c.scale))
    try:
        power = cell_scale_power(cs)
    except ValueError as err:
        ctx.unsupported(str(err))
    # one step's gates and states: every batch row when time major, else one row
    gate_act, cell_act = activation_params((batches if time_major else 1) * n_state, power)
    gate_p = ctx.param_struct("lstm_gate_act", "tfle_sigmoid16_params", gate_act)
    cell_p = ctx.param_struct("lstm_cell_act", "tfle_sigmoid16_params", cell_act)
    table = ctx.const_array("sigmoid_lut", sigmoid16_table(), align=2)
    forget = mul_multiplier(GATE_OUTPUT_SCALE, cs, cs)
    inp = mul_multiplier(GATE_OUTPUT_SCALE, GATE_OUTPUT_SCALE, cs)
    out = mul_multiplier(GATE_OUTPUT_SCALE, GATE_OUTPUT_SCALE, np.float32(h.scale))
    clip = float(np.float32(ctx.options.get("cellClip", 0.0) or 0.0))
    values = {
        "batches": batches, "time_steps": steps, "input_size": n_input, "state_size": n_state,
        "time_major": int(time_major),
        "in_mult": in_mult, "in_shift": in_shift, "rec_mult": rec_mult, "rec_shift": rec_shift,
        "in_weights": in_w, "rec_weights": rec_w, "in_bias": in_bias, "rec_bias": rec_bias,
        "forget_mult": forget[0], "forget_shift": forget[1],
        "input_mult": inp[0], "input_shift": inp[1],
        "output_mult": out[0], "output_shift": out[1], "output_zp": h.zero_point,
        "cell_clip": cell_clip(clip, cs) if clip > 0 else 0, "use_clip": int(clip > 0),
        "gate_act": f"&{gate_p}", "cell_act": f"&{cell_p}", "sigmoid_table": table,
    }  # fmt: skip
    p = ctx.param_struct("lstm", "tfle_lstm_params", values)
    scratch = ctx.scratch(4 * batches * n_state * 2)
    init = state_init_code(
        f"{ctx.prefix}_state_ready",
        [(s.expr, s.nbytes, variable_fill(s.tensor)) for s in (h, c)],
    )
    return (
        f"{init}\ntfle_lstm_s8(&{p}, {x.expr}, {h.expr}, {c.expr}, "
        f"(int16_t *)({scratch}), {y.expr});"
    )
