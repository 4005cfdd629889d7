"""infer_shapes: activation shapes recomputed from the graph, as TFLite's Prepare does.

A dilated Conv2D converted with a dynamic batch keeps placeholder batch sizes around its
SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND pair; with the inferred shapes compile_aot compiles it
bit-exact with TFLM running the same graph with those shapes.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np
import pytest

import opmodels as om
from tflite_edge.compiler import aot_problem, build_host_runner, compile_aot
from tflite_edge.model import load_model
from tflite_edge.model.shapes import changed_shapes, infer_shapes, rules, shaped_flatbuffer
from tflite_edge.reference import Reference
from tflite_edge.support import inspect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "compiler"))
from aot_ops_support import edit_model, requantized  # noqa: E402
from aot_support import arm_objects, random_inputs  # noqa: E402

MODELS = Path(__file__).resolve().parents[2].parent / "shared" / "models"


@functools.cache
def _dilated() -> bytes:
    """Dilated Conv2D and DepthwiseConv2D, the Keras Input without batch_size (the default
    conversion): SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND with paddings and crops."""
    k = om.keras()
    inp = k.Input(shape=(11, 10, 3))
    x = k.layers.Conv2D(4, 3, dilation_rate=2, padding="same")(inp)
    x = k.layers.DepthwiseConv2D(3, dilation_rate=(2, 3), padding="same")(x)
    return om.convert_keras(om.randomize(k.Model(inp, x)))


@functools.cache
def _many_ops() -> bytes:
    """One model with most of the ops infer_shapes has rules for, float in and out (so it
    has QUANTIZE and DEQUANTIZE), batch 1: its stored shapes are all consistent."""
    import tensorflow as tf

    k = om.keras()
    L = k.layers
    inp = k.Input(shape=(12, 10, 3), batch_size=1)
    a = L.Conv2D(6, 3, strides=2, padding="same", activation="relu")(inp)
    b = L.DepthwiseConv2D((3, 2), padding="valid")(L.ZeroPadding2D(((2, 1), (1, 2)))(a))
    c = L.Concatenate()([L.MaxPooling2D(2, strides=1, padding="same")(b), b])
    d = L.AveragePooling2D((2, 3), strides=(2, 1))(c)
    e = L.Add()([L.LeakyReLU(0.2)(d), L.Multiply()([d, d])])
    f = L.Reshape((-1, 4))(e)
    g = L.Dense(3)(L.Flatten()(f))
    h = L.Dense(2)(L.GlobalAveragePooling2D()(e))
    i = L.UpSampling2D(2)(L.Permute((2, 1, 3))(c))  # TRANSPOSE, RESIZE_NEAREST_NEIGHBOR
    i = L.Conv2DTranspose(4, 3, strides=2, padding="same")(i)
    i = L.Lambda(lambda t: tf.nn.depth_to_space(tf.nn.space_to_depth(t, 4), 2))(i)
    j = L.Dense(2)(L.GlobalAveragePooling2D()(i))
    out = L.Softmax()(L.Concatenate()([g, h, j]))
    model = om.randomize(k.Model(inp, out))

    def post(converter):
        converter.inference_input_type = tf.float32
        converter.inference_output_type = tf.float32

    return om.convert_keras(model, post_process=post)


def _scrambled(data: bytes) -> bytes:
    """Every activation shape but the model inputs' replaced by a wrong placeholder."""

    def fn(mt):
        sg = mt.subgraphs[0]
        for i, t in enumerate(sg.tensors):
            const = t.buffer and mt.buffers[t.buffer].data is not None
            if not const and i not in list(sg.inputs) and t.shape is not None and len(t.shape):
                t.shape = [1] * len(t.shape)

    return edit_model(data, fn)


def _zero_padding_zero_points(data: bytes) -> bytes:
    """The model with SPACE_TO_BATCH_ND's tensors at zero point 0 (scales kept).

    TFLM pads SPACE_TO_BATCH_ND with SpaceToBatchParams.output_offset, which its Prepare never
    sets (0 in practice, see tests/compiler/aot_ops_support.space_to_batch_expected); we pad
    with the output zero point, a real 0. At zero point 0 the two agree."""
    m = load_model(data)
    quant = {}
    for op in m.operators:
        if op.op == "SPACE_TO_BATCH_ND":
            for i in (op.inputs[0], op.outputs[0]):
                quant[i] = (float(m.tensors[i].quantization.scale[0]), 0)
    return requantized(data, quant)


def test_dilated_conv_with_a_dynamic_batch_compiles_bit_exact(tmp_path):
    data = _zero_padding_zero_points(_dilated())
    m = load_model(data)
    ops = [o.op for o in m.operators]
    assert ops.count("SPACE_TO_BATCH_ND") == 2 and ops.count("BATCH_TO_SPACE_ND") == 2
    assert aot_problem(m) is None  # compile_aot infers the shapes itself
    changed = changed_shapes(m)
    # the batch the blocks make: 2 x 2 for the conv, 2 x 3 for the depthwise conv
    assert sorted({new[0] for _, new in changed.values()}) == [4, 6]
    inferred = infer_shapes(m)
    assert inferred.sha256 == m.sha256 and inferred.data == m.data
    assert changed_shapes(inferred) == {}  # inferring again changes nothing
    # TFLM trusts stored shapes: with these placeholders it computes a quarter (a sixth) of
    # each layer; the same file with the inferred shapes is what the graph means
    fixed = shaped_flatbuffer(inferred)
    assert changed_shapes(load_model(fixed)) == {}
    compile_aot(inferred, tmp_path)  # compile_aot takes the Model
    ref = Reference(fixed)
    xs = random_inputs(ref, 40)
    np.testing.assert_array_equal(build_host_runner(tmp_path).run(xs), ref.run(xs))
    # the kit's TFLM (Reference, TFLM projects) is given the shaped file too
    np.testing.assert_array_equal(Reference(data).run(xs), ref.run(xs))
    arm_objects(tmp_path, "cortex-m4")
    report = inspect(data)
    assert report.aot_error is None
    assert any("do not follow from the graph" in w for w in report.warnings)


@pytest.mark.parametrize("name", ["many_ops", "kws_ref_model", "ad01_int8", "micro_speech"])
def test_scrambled_shapes_are_inferred_back(name):
    if name == "many_ops":
        data = _many_ops()
    else:
        file = {"micro_speech": "micro_speech_quantized"}.get(name, name)
        data = (MODELS / f"{file}.tflite").read_bytes()
    m = load_model(data)
    assert changed_shapes(m) == {}  # consistent stored shapes are kept
    inferred = infer_shapes(load_model(_scrambled(data)))
    got = {t.index: t.shape for t in inferred.tensors}
    want = {t.index: t.shape for t in m.tensors}
    assert got == want
    if name == "many_ops":
        covered = {o.op for o in m.operators}
        assert covered <= set(rules())
        assert {"QUANTIZE", "DEQUANTIZE", "PAD", "CONCATENATION", "MEAN", "RESHAPE"} <= covered
        assert {"TRANSPOSE", "TRANSPOSE_CONV", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH"} <= covered


def test_reshape_new_shape_from_options_with_minus_one():
    # a RESHAPE without its shape input: the options' new_shape, its -1 computed
    data = (MODELS / "kws_ref_model.tflite").read_bytes()
    m = load_model(data)
    op = next(o for o in m.operators if o.op == "RESHAPE")
    want = m.tensors[op.outputs[0]].shape

    def fn(mt):
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

        o = mt.subgraphs[0].operators[op.index]
        o.inputs = [o.inputs[0]]
        o.builtinOptionsType = schema.BuiltinOptions.ReshapeOptions
        o.builtinOptions = schema.ReshapeOptionsT()
        o.builtinOptions.newShape = [-1, int(want[-1])]

    edited = load_model(_scrambled(edit_model(data, fn)))
    assert infer_shapes(edited).tensors[op.outputs[0]].shape == (
        int(np.prod(want)) // want[-1],
        want[-1],
    )
