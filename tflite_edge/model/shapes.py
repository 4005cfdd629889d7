"""Activation shapes inferred from the graph, as TFLite's Prepare() computes them.

A converted file stores a shape for every tensor, but with a dynamic batch dimension (a
Keras Input without batch_size) those are placeholders: a dilated Conv2D becomes
SPACE_TO_BATCH_ND -> CONV_2D -> BATCH_TO_SPACE_ND whose middle tensors keep batch 1 where
the blocks make it 4. TFLM trusts the stored shapes (it computes only part of such a
layer); `infer_shapes` recomputes every activation shape from the model's inputs, operator
by operator, so the compiler works with the shapes the graph defines.

Ops without a rule here keep their stored output shapes, and so does an op whose inputs do
not fit its rule (its emitter then refuses what it cannot compile).
`shaped_flatbuffer` writes the inferred shapes back into the .tflite, for TFLM.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable

import numpy as np

from .reader import Model, Operator

Shape = tuple[int, ...]
_Rule = Callable[[Operator, list, Model], "Shape | None"]

# One output, the shape of input 0.
SAME_AS_INPUT = (
    "ABS CAST CEIL COS DEQUANTIZE ELU EXP FLOOR HARD_SWISH L2_NORMALIZATION LEAKY_RELU LOG "
    "LOGICAL_NOT LOGISTIC LOG_SOFTMAX NEG QUANTIZE RELU RELU6 RELU_N1_TO_1 ROUND RSQRT SIN "
    "SOFTMAX SQRT SQUARE TANH ZEROS_LIKE"
).split()
# One output, the broadcast shape of inputs 0 and 1.
BROADCAST = (
    "ADD DIV EQUAL FLOOR_DIV FLOOR_MOD GREATER GREATER_EQUAL LESS LESS_EQUAL LOGICAL_AND "
    "LOGICAL_OR MAXIMUM MINIMUM MUL NOT_EQUAL POW PRELU SQUARED_DIFFERENCE SUB"
).split()

_RULES: dict[str, _Rule] = {}


def _rule(*ops: str) -> Callable[[_Rule], _Rule]:
    def deco(fn: _Rule) -> _Rule:
        for op in ops:
            _RULES[op] = fn
        return fn

    return deco


def rules() -> list[str]:
    """The ops whose output shapes are inferred (the others keep their stored shapes)."""
    return sorted(_RULES)


def _const(model: Model, index: int) -> np.ndarray | None:
    if index < 0:
        return None
    t = model.tensors[index]
    return None if t.data is None else np.asarray(t.data).astype(np.int64).ravel()


def _out_size(size: int, k: int, stride: int, dilation: int, padding: str) -> int:
    # TFLite's ComputeOutSize
    eff = (k - 1) * dilation + 1
    if padding == "SAME":
        return (size + stride - 1) // stride
    if padding == "VALID":
        return (size + stride - eff) // stride
    raise ValueError(padding)


@_rule(*SAME_AS_INPUT)
def _same(op, ins, model):
    return ins[0]


@_rule(*BROADCAST)
def _broadcast(op, ins, model):
    return tuple(int(d) for d in np.broadcast_shapes(ins[0], ins[1]))


@_rule("CONV_2D", "DEPTHWISE_CONV_2D")
def _conv(op, ins, model):
    x, w = ins[0], ins[1]
    if len(x) != 4 or len(w) != 4:
        return None
    o = op.options
    oh = _out_size(x[1], w[1], o["strideH"], o.get("dilationHFactor", 1), o["padding"])
    ow = _out_size(x[2], w[2], o["strideW"], o.get("dilationWFactor", 1), o["padding"])
    channels = w[0] if op.op == "CONV_2D" else w[3]
    return (x[0], oh, ow, channels)


@_rule("AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D")
def _pool(op, ins, model):
    x, o = ins[0], op.options
    if len(x) != 4:
        return None
    oh = _out_size(x[1], o["filterHeight"], o["strideH"], 1, o["padding"])
    ow = _out_size(x[2], o["filterWidth"], o["strideW"], 1, o["padding"])
    return (x[0], oh, ow, x[3])


@_rule("FULLY_CONNECTED")
def _fully_connected(op, ins, model):
    x, w = ins[0], ins[1]
    if len(w) != 2 or not w[1]:
        return None
    units, depth = w
    if op.options.get("keepNumDims"):
        return (*x[:-1], units)
    size = int(np.prod(x, dtype=np.int64))
    if size % depth:
        return None
    return (size // depth, units)


def _resolve(shape: list[int], size: int) -> Shape | None:
    """A new shape with its one -1 computed from the element count (TFLite's Reshape)."""
    if shape.count(-1) > 1:
        return None
    known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
    if -1 in shape:
        if known == 0 or size % known:
            return None
        shape = [size // known if d == -1 else d for d in shape]
    return tuple(int(d) for d in shape) if int(np.prod(shape, dtype=np.int64)) == size else None


@_rule("RESHAPE")
def _reshape(op, ins, model):
    size = int(np.prod(ins[0], dtype=np.int64))
    new = _const(model, op.inputs[1]) if len(op.inputs) > 1 else None
    if new is None and len(op.inputs) > 1 and op.inputs[1] >= 0:
        return None  # a shape computed at run time
    if new is None:
        new = op.options.get("newShape")
    if new is None:  # TFLM: the stored output shape, its -1 resolved
        new = model.tensors[op.outputs[0]].shape
    new = [int(d) for d in new]
    if new == [0] and size == 1:  # the legacy scalar shape [0]
        return ()
    return _resolve(new, size)


@_rule("SQUEEZE")
def _squeeze(op, ins, model):
    x = ins[0]
    dims = [d % len(x) for d in op.options.get("squeezeDims") or []] if x else []
    if not dims:
        return tuple(d for d in x if d != 1)
    if any(x[d] != 1 for d in dims):
        return None
    return tuple(d for i, d in enumerate(x) if i not in dims)


@_rule("EXPAND_DIMS")
def _expand_dims(op, ins, model):
    axis = _const(model, op.inputs[1])
    if axis is None or axis.size != 1:
        return None
    x = list(ins[0])
    a = int(axis[0])
    a = a + len(x) + 1 if a < 0 else a
    if not 0 <= a <= len(x):
        return None
    return tuple(x[:a] + [1] + x[a:])


@_rule("SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND")
def _space_batch(op, ins, model):
    x = ins[0]
    block, pads = _const(model, op.inputs[1]), _const(model, op.inputs[2])
    if block is None or pads is None or pads.size != 2 * block.size:
        return None
    nd = block.size
    if len(x) < nd + 1 or (block <= 0).any():
        return None
    n = int(np.prod(block))
    pads = pads.reshape(-1, 2)
    spatial = x[1 : 1 + nd]
    if op.op == "SPACE_TO_BATCH_ND":
        sizes = [s + int(p[0]) + int(p[1]) for s, p in zip(spatial, pads, strict=True)]
        if any(sz % int(b) for sz, b in zip(sizes, block, strict=True)):
            return None
        out = [sz // int(b) for sz, b in zip(sizes, block, strict=True)]
        return (x[0] * n, *out, *x[1 + nd :])
    if x[0] % n:
        return None
    out = [s * int(b) - int(p[0]) - int(p[1]) for s, b, p in zip(spatial, block, pads, strict=True)]
    return (x[0] // n, *out, *x[1 + nd :])


@_rule("PAD", "PADV2", "MIRROR_PAD")
def _pad(op, ins, model):
    x = ins[0]
    pads = _const(model, op.inputs[1])
    if pads is None or pads.size != 2 * len(x):
        return None
    pads = pads.reshape(-1, 2)
    return tuple(int(d + p[0] + p[1]) for d, p in zip(x, pads, strict=True))


@_rule("CONCATENATION")
def _concatenation(op, ins, model):
    shapes = [s for s in ins if s is not None]
    rank = len(shapes[0])
    axis = int(op.options.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank or any(len(s) != rank for s in shapes):
        return None
    rest = {s[:axis] + s[axis + 1 :] for s in shapes}
    if len(rest) != 1:
        return None
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    return tuple(out)


@_rule("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD")
def _reduce(op, ins, model):
    x = ins[0]
    axes = _const(model, op.inputs[1])
    if axes is None or not x:
        return None
    if any(not -len(x) <= int(a) < len(x) for a in axes):
        return None
    dims = {int(a) % len(x) for a in axes}
    if op.options.get("keepDims"):
        return tuple(1 if i in dims else d for i, d in enumerate(x))
    return tuple(d for i, d in enumerate(x) if i not in dims)


@_rule("TRANSPOSE")
def _transpose(op, ins, model):
    perm = _const(model, op.inputs[1])
    x = ins[0]
    if perm is None or sorted(int(p) % len(x) for p in perm) != list(range(len(x))):
        return None
    return tuple(x[int(p) % len(x)] for p in perm)


@_rule("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR")
def _resize(op, ins, model):
    size = _const(model, op.inputs[1])
    x = ins[0]
    if size is None or size.size != 2 or len(x) != 4:
        return None
    return (x[0], int(size[0]), int(size[1]), x[3])


@_rule("DEPTH_TO_SPACE", "SPACE_TO_DEPTH")
def _depth_space(op, ins, model):
    x, b = ins[0], int(op.options["blockSize"])
    if len(x) != 4 or b < 1:
        return None
    if op.op == "DEPTH_TO_SPACE":
        return None if x[3] % (b * b) else (x[0], x[1] * b, x[2] * b, x[3] // (b * b))
    if x[1] % b or x[2] % b:
        return None
    return (x[0], x[1] // b, x[2] // b, x[3] * b * b)


@_rule("TRANSPOSE_CONV")
def _transpose_conv(op, ins, model):
    shape = _const(model, op.inputs[0])  # the output shape is an input
    return None if shape is None else tuple(int(d) for d in shape)


@_rule("SLICE")
def _slice(op, ins, model):
    x = ins[0]
    begin, size = _const(model, op.inputs[1]), _const(model, op.inputs[2])
    if begin is None or size is None or begin.size != len(x) or size.size != len(x):
        return None
    return tuple(
        d - int(b) if int(n) == -1 else int(n) for d, b, n in zip(x, begin, size, strict=True)
    )


@_rule("ARG_MAX", "ARG_MIN")
def _arg(op, ins, model):
    axis = _const(model, op.inputs[1])
    x = ins[0]
    if axis is None or axis.size != 1 or not -len(x) <= int(axis[0]) < len(x):
        return None
    a = int(axis[0]) % len(x)
    return tuple(d for i, d in enumerate(x) if i != a)


@_rule("SHAPE")
def _shape(op, ins, model):
    return (len(ins[0]),)


def infer_shapes(model: Model) -> Model:
    """A copy of the model whose activation tensors have the shapes the graph gives them.

    The model inputs keep their stored shapes; each operator with a rule (`rules()`) sets
    its outputs' shapes from its inputs' in graph order, the others keep their stored
    ones. Constants are never changed. The file bytes (`data`, `sha256`) stay the
    original's: `shaped_flatbuffer` gives a .tflite with the inferred shapes.
    """
    shapes = {t.index: tuple(t.shape) for t in model.tensors}
    for op in model.operators:
        rule = _RULES.get(op.op)
        if rule is None or len(op.outputs) != 1 or not op.inputs or op.inputs[0] < 0:
            continue
        out = op.outputs[0]
        if model.tensors[out].is_constant:
            continue
        ins = [shapes[i] if i >= 0 else None for i in op.inputs]
        try:
            shape = rule(op, ins, model)
        except (ValueError, KeyError, IndexError, TypeError, ZeroDivisionError):
            shape = None  # options or inputs the rule cannot read: keep the stored shape
        if shape is not None and all(d >= 0 for d in shape):
            shapes[out] = tuple(int(d) for d in shape)
    new = copy.copy(model)
    new.tensors = [
        t
        if t.is_constant or shapes[t.index] == t.shape
        else dataclasses.replace(t, shape=shapes[t.index])
        for t in model.tensors
    ]
    return new


def changed_shapes(model: Model) -> dict[int, tuple[Shape, Shape]]:
    """Tensor index -> (stored shape, inferred shape) for every tensor `infer_shapes` changes."""
    inferred = infer_shapes(model)
    return {
        t.index: (t.shape, u.shape)
        for t, u in zip(model.tensors, inferred.tensors, strict=True)
        if t.shape != u.shape
    }


def shaped_flatbuffer(model: Model) -> bytes:
    """The model's .tflite with its first subgraph's tensor shapes set to the model's
    (after `infer_shapes`): the file TFLM runs the way the graph means it."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    mt = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model.data, 0))
    for t, tt in zip(model.tensors, mt.subgraphs[0].tensors, strict=True):
        tt.shape = list(t.shape)
    builder = flatbuffers.Builder(len(model.data) + 1024)
    builder.Finish(mt.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def as_tflm_runs_it(model: Model) -> Model:
    """The model TFLM should be given: itself when its stored shapes follow from the graph,
    else a model of `shaped_flatbuffer` bytes. TFLM trusts stored shapes: on a file whose
    shapes are placeholders (a Keras model converted with a dynamic batch and a dilated
    convolution) it would compute only part of each layer, while the AOT compiler infers them."""
    inferred = infer_shapes(model)
    if all(t.shape == u.shape for t, u in zip(model.tensors, inferred.tensors, strict=True)):
        return model
    shaped = Model(shaped_flatbuffer(inferred), name=model.name, path=model.path)
    shaped.__dict__["sha256"] = model.sha256  # still the user's file (its known input, its name)
    return shaped
