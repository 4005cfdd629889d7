"""The ahead-of-time compiler: a quantized .tflite (int8, or 16x8: int16 activations with int8
weights) becomes straight-line C calling our kernels; `tflite-edge ops` lists each op's types.

`compile_aot()` reads the model, plans one static activation arena from tensor lifetimes,
asks one *emitter* per operator for the C statement that runs it, and renders
`tfle_model.h` / `tfle_model.c` (the API in firmware/README.md) with jinja2.

Where things live
-----------------
- compile.py: `compile_aot`, the graph checks, the two emitter passes, rendering and writing.
- registry.py: `register_op`, the op table `EMITTERS`, `EmitContext`, `TensorView`.
- planner.py: the static memory plan (lifetimes, aliases, greedy placement in the arena;
  variable tensors, the state of SVDF and LSTM, keep bytes of their own for the model's life).
- shapes.py: `infer_shapes`, the activation shapes that follow from the graph (as TFLM's
  Prepare computes them), not the stored ones.
- params.py: the one schema of kernel parameter structs (`declare_struct`, `c_initializer`).
- constants.py / ctext.py: the constants of tfle_model.c and the C text of values.
- packing.py: weights prepared at compile time (packed GEMM layouts, sparse rows, biases).
- operands.py: checks and derived values several op families share.
- host.py: `kernel_sources`, `kernel_objects`, `build_host_runner` / `HostRunner` (gcc).
- ops/: one module per op family (conv, depthwise, fully_connected, transpose_conv, pool,
  softmax, reshape, elementwise, activations, quantize, concatenation, pad, reduce,
  space_batch, slicing, transpose, split, pack, gather, maximum_minimum, resize, svdf, lstm,
  prelu, unary_math, log_softmax, div).
- TFLM's quantization arithmetic (rounding, multipliers, activation ranges) is in
  tflite_edge/model/quant.py, once each.

Adding an op
------------
1. A module under tflite_edge/compiler/ops/ (it is imported automatically, no list to edit)
   that registers an emitter; it receives an `EmitContext` and returns the C statement text
   for one layer. A parameter struct used only by this op is declared in the same module::

       declare_struct("tfle_abs_params", ints("size input_zp output_zp multiplier shift"),
                      header="tfle_abs.h")

       @register_op("ABS")
       def _abs(ctx: EmitContext) -> str:
           x, y = ctx.inputs[0], ctx.outputs[0]
           require_quantized_int8(ctx, x, y)
           p = ctx.param_struct("abs", "tfle_abs_params", {"size": x.size, ...})
           return f"tfle_abs_s8(&{p}, {x.expr}, {y.expr});"

   Compute every parameter as TFLM's Prepare() does, with the helpers of model/quant.py.
2. The C kernel: firmware/kernels/tfle_<op>.c (named after the op) and its declarations in
   a header (an existing one or tfle_<op>.h). Kernel sources are found by globbing the
   folder (`kernel_sources()`, firmware/Makefile, the ESP-IDF project), so no list changes.
3. A test under tests/compiler/ that builds a one-op model, compiles it with `compile_aot`,
   runs it with `build_host_runner` and checks it bit-exact against the TFLM interpreter
   (tflite_edge.reference).

ABS, PRELU, RSQRT, LOG_SOFTMAX and DIV were added this way, each family touching only new
files: tflite_edge/compiler/ops/unary_math.py (ABS, RSQRT, ELU), firmware/kernels/
tfle_unary_math.c/.h and its tests in tests/compiler/test_aot_math_ops.py.

What the context gives an emitter:

- `ctx.op` (tflite_edge.model.Operator: `.op`, `.index`, `.options`, `.inputs`, ...),
  `ctx.options` (the op's builtin options dict), `ctx.model`, `ctx.layer` (layer number).
- `ctx.inputs` / `ctx.outputs`: one `TensorView` per operator input/output (None for an
  absent optional input, index -1). A view has `.shape`, `.dtype`, `.ctype` ("int8_t", ...),
  `.size` (elements), `.nbytes`, `.scale` / `.zero_point` (per tensor; `.quant` for
  per-channel), `.is_constant`, `.data` (numpy array of a constant), and `.expr`: a C
  expression of type `<ctype> *` for the tensor's buffer. For an activation it points into
  the static arena (`((int8_t *)(tfle_arena + 1024))`); for a constant, reading `.expr`
  emits the tensor's data as a `static const` array in flash and names it.
- `ctx.param_struct(hint, struct, values) -> str`: emit a kernel parameter struct declared
  in params.py (or an op module) from a dict of its fields, include its header; returns its
  name. `ctx.const_struct(hint, ctype, initializer)` emits one from raw initializer text.
- `ctx.const_array(hint, values, ctype=None, *, align=1) -> str`: emit a `static const` array
  (dtype of `values` picks the C type unless `ctype` is given; identical arrays are shared;
  `align=4` for data a kernel reads a word at a time) and return its C name.
- `ctx.scratch(nbytes) -> str`: scratch memory for this layer only, planned into the arena;
  a C expression of type `int8_t *`, 4-byte aligned (cast it as needed).
- `ctx.require_header("tfle_extra.h")`: `#include` it in tfle_model.c.
- `ctx.unsupported(reason)`: raise UnsupportedOpError naming the op (suggests --runtime tflm).
- operands.py: `activation_range(activation, view)`, `conv_padding(...)`, `require_int8`,
  `guard`, `check_shape`, ...; ctext.py: `c_list(values)`.

Rules: emitters are called twice (a planning pass, then the real pass; expressions differ
between the passes), so they must be deterministic and act only through the context.
An op whose output is its input's bytes reinterpreted (RESHAPE, SQUEEZE, EXPAND_DIMS) is
registered with `register_op("NAME", alias=True)`: its output 0 shares input 0's arena
bytes, no layer is counted and its emitter should return "" (it may still validate).

How the core ops are compiled (each choice is covered by a bit-exactness test against TFLM):
CONV_2D whose windows hold at most GATHER_BYTES / 2 values, pointwise ones included, and
DEPTHWISE_CONV_2D with one input channel become `tfle_conv2d_packed_s8`: windows gathered two
pixels at a time on the stack, weights packed at compile time (`pack_pairs`); larger windows
take `tfle_conv2d_rows_s8` (dilation 1 across) or the general `tfle_conv2d_s8` (grouped).
DEPTHWISE_CONV_2D with depth multiplier 1 takes `tfle_depthwise_conv2d_dm1_s8`
(`pack_depthwise`), other multipliers the general kernel. FULLY_CONNECTED takes
`tfle_fully_connected_packed_s8`. Sparse convolutions with windows of at most SPARSE_WINDOW
values list nonzeros by tap position (`tfle_conv2d_sparse_taps_s8`). Biases are folded with the
input offset at compile time (`tfle_kernels.h`).

Kernels live in firmware/kernels/*.c (`kernel_sources()`), headers in the same folder
(`kernel_include_dir()`). `build_host_runner(out_dir)` compiles a generated model with the
host gcc into a ctypes library so tests can run it on many inputs.
"""

from __future__ import annotations

from ..model.quant import per_channel_multipliers, quantize_multiplier
from .compile import AotResult, aot_problem, compile_aot
from .ctext import c_list
from .host import HostRunner, build_host_runner, kernel_include_dir, kernel_objects, kernel_sources
from .operands import activation_range, conv_padding
from .packing import GATHER_BYTES, SPARSE_MIN_ZEROS, SPARSE_WINDOW, pack_depthwise, pack_pairs
from .registry import EMITTERS, EmitContext, TensorView, register_op, unsupported_error

__all__ = [
    "AotResult",
    "aot_problem",
    "EMITTERS",
    "EmitContext",
    "GATHER_BYTES",
    "HostRunner",
    "SPARSE_MIN_ZEROS",
    "SPARSE_WINDOW",
    "TensorView",
    "activation_range",
    "build_host_runner",
    "c_list",
    "compile_aot",
    "conv_padding",
    "kernel_include_dir",
    "kernel_objects",
    "kernel_sources",
    "pack_depthwise",
    "pack_pairs",
    "per_channel_multipliers",
    "quantize_multiplier",
    "register_op",
    "unsupported_error",
]
