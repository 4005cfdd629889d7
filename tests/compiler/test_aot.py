"""The AOT compiler and the core int8 kernels: bit-exact with the TFLM interpreter.

Every expected output comes from tflite_edge.reference.Reference (the real TFLM interpreter);
every generated file is compiled (host gcc and run through ctypes; arm-none-eabi-gcc for
Cortex-M4 and Cortex-M3).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
from aot_support import (
    ARM_CPUS,
    arm_objects,
    assert_bit_exact,
    random_inputs,
)

from opmodels import (
    convert_keras,
    keras,
    randomize,
    set_options,
    single_layer_model,
)
from tflite_edge import TFLiteEdgeError, UnsupportedOpError
from tflite_edge.compiler import (
    EMITTERS,
    GATHER_BYTES,
    build_host_runner,
    compile_aot,
    kernel_include_dir,
)
from tflite_edge.errors import ModelError
from tflite_edge.model import load_model
from tflite_edge.reference import Reference


@pytest.fixture(scope="module", autouse=True)
def _toolchains():
    for tool in ("gcc", "arm-none-eabi-gcc", "arm-none-eabi-size"):
        assert shutil.which(tool), f"{tool} is needed by the AOT tests and is not on PATH"


# --------------------------------------------------------------------------- reference models


@pytest.fixture(scope="module")
def compiled_reference(reference_model, tmp_path_factory):
    """(result, out_dir) of each reference model compiled with the default sparse policy."""
    out = tmp_path_factory.mktemp(reference_model.stem)
    return compile_aot(reference_model, out), out


def test_reference_model_bit_exact(reference_model, tmp_path):
    """Dense kernels, 100 random inputs + the known input, against the TFLM interpreter."""
    result = assert_bit_exact(reference_model, tmp_path / "dense", sparse=False)
    assert result.sparse_layers == []


def test_reference_model_bit_exact_sparse_kernels(reference_model, tmp_path):
    """sparse=True pushes every conv/depthwise/FC weight of a real model through the sparse
    kernels (not smaller here, the weights are dense), and outputs must not change."""
    result = assert_bit_exact(reference_model, tmp_path / "sparse", sparse=True)
    weighted = [
        op.index
        for op in load_model(reference_model).operators
        if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
    ]
    assert result.sparse_layers == weighted


def test_ram_not_above_tflm_activations(reference_model, compiled_reference):
    result, _ = compiled_reference
    head = Reference(reference_model).arena().head
    assert result.ram_bytes <= head, f"AOT plan {result.ram_bytes} B > TFLM head {head} B"


def test_memory_plan_is_sound(reference_model, compiled_reference):
    """No two tensors that are alive at the same step share arena bytes (alias ops excepted)."""
    result, _ = compiled_reference
    model = load_model(reference_model)
    n = len(model.operators)
    alias_of = {}
    for op in model.operators:
        if EMITTERS[op.op].alias:
            alias_of[op.outputs[0]] = op.inputs[0]
    life = {model.inputs[0]: [-1, -1]}
    for op in model.operators:
        for t in op.outputs:
            life.setdefault(t, [op.index, op.index])
        for t in op.inputs:
            if t in life:
                life[t][1] = max(life[t][1], op.index)
    life[model.outputs[0]][1] = n

    def root(t):
        while t in alias_of:
            t = alias_of[t]
        return t

    assert set(result.plan) == set(life)
    for t, (off, size) in result.plan.items():
        assert 0 <= off and off + size <= result.ram_bytes
        assert size == model.tensors[t].nbytes
    for a in life:
        for b in life:
            if a >= b or root(a) == root(b):
                continue
            (oa, sa), (ob, sb) = result.plan[a], result.plan[b]
            live_together = life[a][0] <= life[b][1] and life[b][0] <= life[a][1]
            overlap = oa < ob + sb and ob < oa + sa
            assert not (live_together and overlap), f"tensors {a} and {b} share bytes"
    for out, src in alias_of.items():
        assert result.plan[out][0] == result.plan[root(src)][0], "a reshape copied its input"


@pytest.mark.parametrize("cpu", ARM_CPUS)
def test_reference_model_builds_for_cortex_m(reference_model, compiled_reference, cpu):
    result, out = compiled_reference
    objs = arm_objects(out, cpu)
    proc = subprocess.run(
        ["arm-none-eabi-size", str(objs[0])], capture_output=True, text=True, check=True
    )
    text, data, bss = (int(v) for v in proc.stdout.splitlines()[1].split()[:3])
    assert data == 0, "constants must be const (flash), not initialized RAM"
    assert text >= result.weight_bytes
    assert bss == (result.ram_bytes + 3) // 4 * 4, "the arena is the only RAM the model uses"


def test_generated_header_api(compiled_reference, reference_model):
    result, out = compiled_reference
    model = load_model(reference_model)
    header = (out / "tfle_model.h").read_text()
    source = (out / "tfle_model.c").read_text()
    defines = dict(re.findall(r"#define (TFLE_\w+)\s+(\S+)", header))
    assert int(defines["TFLE_INPUT_BYTES"]) == model.input_tensors[0].nbytes
    assert int(defines["TFLE_OUTPUT_BYTES"]) == model.output_tensors[0].nbytes
    assert int(defines["TFLE_ARENA_BYTES"]) == result.ram_bytes
    assert int(defines["TFLE_WEIGHT_BYTES"]) == result.weight_bytes
    assert int(defines["TFLE_NUM_LAYERS"]) == len(result.layers)
    assert defines["TFLE_MODEL_SHA8"] == f'"{model.sha256[:8]}"'
    assert "int tfle_model_invoke(const int8_t *input, int8_t *output);" in header
    assert "void tfle_profile_layer(int layer, int op_index, const char *op_name);" in header
    for text in (header, source):
        first = text.splitlines()[0]
        assert first.startswith("/* Generated by tflite-edge") and model.sha256 in first
    # constants live in flash
    assert not re.search(r"^static (?!const)\w+ k_", source, re.M)
    assert result.files == [out / "tfle_model.h", out / "tfle_model.c"]
    # the constants take less flash than the .tflite that TFLM would have to carry
    assert model.weight_bytes - 64 <= result.weight_bytes < len(model.data)


def test_profile_hook_called_after_each_layer(tmp_path, models_dir):
    path = models_dir / "kws_ref_model.tflite"
    result = compile_aot(path, tmp_path)
    runner = build_host_runner(tmp_path, profile=True)
    ref = Reference(path)
    x = random_inputs(ref, 1)[0]
    assert np.array_equal(runner.run_one(x), ref.run_one(x))
    calls = runner.profile_calls()
    want = [(lay["layer"], lay["op_index"], lay["op"]) for lay in result.layers]
    assert calls == want
    ops = [op.op for op in load_model(path).operators]
    assert [c[2] for c in calls] == [op for op in ops if op != "RESHAPE"]


def test_rendering_is_deterministic(tmp_path, models_dir):
    path = models_dir / "micro_speech_quantized.tflite"
    a = compile_aot(path, tmp_path / "a", sparse=True)
    b = compile_aot(path.read_bytes(), tmp_path / "b", sparse=True, name="micro_speech_quantized")
    for fa, fb in zip(a.files, b.files, strict=True):
        assert fa.name == fb.name
        assert fa.read_bytes() == fb.read_bytes()
    # and a second render over existing files leaves the same bytes, with no temp files around
    compile_aot(path, tmp_path / "a", sparse=True)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["tfle_model.c", "tfle_model.h"]
    assert (tmp_path / "a" / "tfle_model.c").read_bytes() == b.files[1].read_bytes()


def test_unsupported_op_names_op_and_suggests_tflm(tmp_path, models_dir, monkeypatch):
    monkeypatch.delitem(EMITTERS, "SOFTMAX")
    out = tmp_path / "out"
    with pytest.raises(UnsupportedOpError) as info:
        compile_aot(models_dir / "kws_ref_model.tflite", out)
    assert info.value.op == "SOFTMAX"
    assert "SOFTMAX" in str(info.value) and "--runtime tflm" in str(info.value)
    assert not out.exists(), "a failed compile must leave nothing behind"


def test_unsupported_op_from_keras_layer(tmp_path):
    """A real converted model with an op no emitter handles (L2_NORMALIZATION, from
    tf.math.l2_normalize; TFLM has an int8 kernel for it)."""
    import tensorflow as tf

    k = keras()
    model = single_layer_model(k.layers.Lambda(lambda x: tf.math.l2_normalize(x, axis=-1)), (3, 4))
    tfl = convert_keras(model)
    assert [op.op for op in load_model(tfl).operators] == ["L2_NORMALIZATION"]
    assert "L2_NORMALIZATION" not in EMITTERS
    with pytest.raises(UnsupportedOpError, match=r"L2_NORMALIZATION.*--runtime tflm") as info:
        compile_aot(tfl, tmp_path / "out")
    assert info.value.op == "L2_NORMALIZATION" and info.value.runtime == "aot"
    assert not (tmp_path / "out").exists()


def test_not_a_model_is_a_model_error(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError, match="not a TFLite flatbuffer"):
        compile_aot(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_file_as_out_dir_is_refused(tmp_path, models_dir):
    out = tmp_path / "taken"
    out.write_text("mine")
    with pytest.raises(TFLiteEdgeError, match="is a file; pass a directory"):
        compile_aot(models_dir / "hello_world_int8.tflite", out)
    assert out.read_text() == "mine"


def test_bad_sparse_argument(tmp_path, models_dir):
    with pytest.raises(TFLiteEdgeError, match="sparse must be True .* found 'yes'"):
        compile_aot(models_dir / "hello_world_int8.tflite", tmp_path, sparse="yes")


# --------------------------------------------------------------------------- single-op models


def _clip(lo: float, hi: float):
    import tensorflow as tf

    return keras().layers.Lambda(lambda x: tf.clip_by_value(x, lo, hi))


# name -> (builder of the layer list, input shape, convert_keras keyword arguments, ops expected)


def _cases():
    L = keras().layers
    return {
        "conv_valid_relu": (
            lambda: [L.Conv2D(3, 3, activation="relu")], (8, 8, 2), {}, ["CONV_2D"]),
        "conv_same_stride2": (
            lambda: [L.Conv2D(4, 3, strides=2, padding="same")], (9, 9, 3), {}, ["CONV_2D"]),
        "conv_same_stride12_relu6": (
            lambda: [L.Conv2D(6, (2, 3), strides=(1, 2), padding="same"), L.ReLU(6.0)],
            (7, 10, 4), {}, ["CONV_2D"]),
        "conv_dilated_same": (
            lambda: [L.Conv2D(5, 3, dilation_rate=2, padding="same")], (10, 9, 2), {},
            ["CONV_2D"]),
        "conv_dilated_valid_relu_n1_to_1": (
            lambda: [L.Conv2D(5, (3, 2), dilation_rate=(2, 1)), _clip(-1.0, 1.0)],
            (10, 9, 2), {}, ["CONV_2D"]),
        "conv_1x1_no_bias": (
            lambda: [L.Conv2D(8, 1, use_bias=False)], (5, 5, 8), {}, ["CONV_2D"]),
        "conv_grouped": (
            lambda: [L.Conv2D(6, 3, groups=2, padding="same")], (6, 6, 4), {}, ["CONV_2D"]),
        "depthwise_same_relu": (
            lambda: [L.DepthwiseConv2D(3, padding="same", activation="relu")], (8, 8, 4), {},
            ["DEPTHWISE_CONV_2D"]),
        "depthwise_multiplier3_stride21": (
            lambda: [L.DepthwiseConv2D(3, depth_multiplier=3, strides=(2, 1), padding="same")],
            (7, 8, 2), {}, ["DEPTHWISE_CONV_2D"]),
        "depthwise_dilated_multiplier2": (
            lambda: [L.DepthwiseConv2D(3, dilation_rate=2, depth_multiplier=2, padding="same")],
            (9, 9, 3), {}, ["DEPTHWISE_CONV_2D"]),
        "depthwise_valid_stride2_relu6": (
            lambda: [L.DepthwiseConv2D((2, 3), strides=2), L.ReLU(6.0)], (9, 10, 3), {},
            ["DEPTHWISE_CONV_2D"]),
        "dense_per_channel": (
            lambda: [L.Dense(7)], (13,), {"per_channel_dense": True}, ["FULLY_CONNECTED"]),
        "dense_per_tensor_relu": (
            lambda: [L.Dense(7, activation="relu")], (13,), {"per_channel_dense": False},
            ["FULLY_CONNECTED"]),
        "dense_no_bias": (
            lambda: [L.Dense(5, use_bias=False)], (11,), {"per_channel_dense": False},
            ["FULLY_CONNECTED"]),
        "dense_keep_num_dims": (
            lambda: [L.Dense(6)], (3, 5), {}, ["FULLY_CONNECTED"]),
        "average_pool_same_stride2": (
            lambda: [L.AveragePooling2D(3, strides=2, padding="same")], (7, 8, 3), {},
            ["AVERAGE_POOL_2D"]),
        "average_pool_valid_23": (
            lambda: [L.AveragePooling2D((2, 3), strides=(2, 1))], (6, 7, 2), {},
            ["AVERAGE_POOL_2D"]),
        "max_pool_valid": (
            lambda: [L.MaxPooling2D(2)], (7, 8, 3), {}, ["MAX_POOL_2D"]),
        "max_pool_same_stride2": (
            lambda: [L.MaxPooling2D(3, strides=2, padding="same")], (9, 7, 2), {},
            ["MAX_POOL_2D"]),
        # shapes for the specialised kernels' edges (see KERNEL_OF below)
        "conv_rows_bottom_pad_odd_channels": (
            lambda: [L.Conv2D(5, 3, strides=2, padding="same")], (8, 7, 6), {}, ["CONV_2D"]),
        "conv_rows_kernel_wider_than_input": (
            lambda: [L.Conv2D(4, (3, 7), padding="same", activation="relu")], (4, 5, 3), {},
            ["CONV_2D"]),
        "conv_rows_one_channel_10x4_stride2": (
            lambda: [L.Conv2D(6, (10, 4), strides=2, padding="same")], (25, 10, 1), {},
            ["CONV_2D"]),
        "conv_1x1_stride2": (
            lambda: [L.Conv2D(6, 1, strides=2)], (7, 7, 5), {}, ["CONV_2D"]),
        "conv_1x1_odd_pixels_channels": (
            lambda: [L.Conv2D(7, 1, activation="relu")], (3, 5, 9), {}, ["CONV_2D"]),
        "conv_rows_large_window": (
            lambda: [L.Conv2D(3, 5, padding="same")], (6, 7, 12), {}, ["CONV_2D"]),
        "conv_large_window_dilated": (
            lambda: [L.Conv2D(2, 3, dilation_rate=(1, 2), padding="same")], (6, 9, 32), {},
            ["CONV_2D"]),
        "conv_1x1_large_depth": (
            lambda: [L.Conv2D(3, 1)], (3, 3, 300), {}, ["CONV_2D"]),
        "depthwise_dm1_7ch_stride2": (
            lambda: [L.DepthwiseConv2D(3, strides=2, padding="same")], (9, 8, 7), {},
            ["DEPTHWISE_CONV_2D"]),
        "depthwise_dm1_dilated_relu6": (
            lambda: [L.DepthwiseConv2D(3, dilation_rate=2, padding="same"), L.ReLU(6.0)],
            (9, 9, 6), {}, ["DEPTHWISE_CONV_2D"]),
        # 3 rows of 92 padded pixels: more than the band on the stack (DW_BAND_WORDS), so the
        # clipped windows take the path without a padded copy
        "depthwise_dm1_wider_than_the_band": (
            lambda: [L.DepthwiseConv2D(3, padding="same", activation="relu")], (4, 90, 5), {},
            ["DEPTHWISE_CONV_2D"]),
        "depthwise_one_channel_multiplier4": (
            lambda: [L.DepthwiseConv2D((4, 3), depth_multiplier=4, strides=(2, 1),
                                       padding="same")],
            (9, 7, 1), {}, ["DEPTHWISE_CONV_2D"]),
        "depthwise_one_channel_dilated_width": (
            lambda: [L.DepthwiseConv2D(3, dilation_rate=(1, 2), depth_multiplier=2,
                                       padding="same")],
            (6, 8, 1), {}, ["DEPTHWISE_CONV_2D"]),
        "depthwise_one_channel_large_window": (
            lambda: [L.DepthwiseConv2D((17, 16), depth_multiplier=2, padding="same")],
            (20, 18, 1), {}, ["DEPTHWISE_CONV_2D"]),
        "dense_odd_large_depth": (
            lambda: [L.Dense(5)], (259,), {}, ["FULLY_CONNECTED"]),
        "dense_batches_odd": (
            lambda: [L.Dense(10)], (5, 33), {}, ["FULLY_CONNECTED"]),
        "softmax": (lambda: [L.Softmax()], (10,), {}, ["SOFTMAX"]),
        "softmax_rows": (lambda: [L.Softmax()], (3, 6), {}, ["SOFTMAX"]),
        # Keras has no softmax beta; the option is set in the flatbuffer after conversion
        "softmax_beta": (lambda: [L.Softmax()], (12,), {"beta": 2.5}, ["SOFTMAX"]),
        "reshape_dense": (
            lambda: [L.Reshape((4, 6)), L.Dense(3)], (24,), {}, ["RESHAPE", "FULLY_CONNECTED"]),
    }  # fmt: skip


CASES = list(_cases())


@pytest.fixture(scope="module")
def op_models():
    """Each single-op case converted once: name -> .tflite bytes (lazily)."""
    cache: dict[str, bytes] = {}
    cases = _cases()

    def get(name: str) -> bytes:
        if name not in cache:
            layers, shape, kwargs, _ = cases[name]
            kwargs = dict(kwargs)
            beta = kwargs.pop("beta", None)
            model = randomize(single_layer_model(layers(), shape, name=name), seed=len(cache))
            tfl = convert_keras(model, seed=1, **kwargs)
            cache[name] = tfl if beta is None else set_options(tfl, 0, beta=beta)
        return cache[name]

    return get


@pytest.mark.parametrize("case", CASES)
def test_single_op_bit_exact(case, op_models, tmp_path):
    tfl = op_models(case)
    expected_ops = _cases()[case][3]
    # the converter must have produced the op under test (and nothing else)
    assert [op.op for op in load_model(tfl).operators] == expected_ops
    dense = assert_bit_exact(tfl, tmp_path / "dense", sparse=False)
    assert dense.ram_bytes <= Reference(tfl).arena().head
    if set(expected_ops) & {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}:
        sparse = assert_bit_exact(tfl, tmp_path / "sparse", sparse=True)
        assert sparse.sparse_layers


# The kernel each weighted case compiles to (dense), so that every specialised path, and every
# general one it falls back to, is checked against TFLM by test_single_op_bit_exact.


KERNEL_OF = {
    "conv_valid_relu": "tfle_conv2d_packed_s8",
    "conv_same_stride2": "tfle_conv2d_packed_s8",
    "conv_same_stride12_relu6": "tfle_conv2d_packed_s8",
    "conv_dilated_same": "tfle_conv2d_packed_s8",
    "conv_dilated_valid_relu_n1_to_1": "tfle_conv2d_packed_s8",
    "conv_rows_bottom_pad_odd_channels": "tfle_conv2d_packed_s8",
    "conv_rows_kernel_wider_than_input": "tfle_conv2d_packed_s8",
    "conv_rows_one_channel_10x4_stride2": "tfle_conv2d_packed_s8",
    "conv_1x1_stride2": "tfle_conv2d_packed_s8",
    "conv_1x1_no_bias": "tfle_conv2d_packed_s8",
    "conv_1x1_odd_pixels_channels": "tfle_conv2d_packed_s8",
    "conv_rows_large_window": "tfle_conv2d_rows_s8",
    "conv_large_window_dilated": "tfle_conv2d_s8",
    "conv_grouped": "tfle_conv2d_s8",
    "conv_1x1_large_depth": "tfle_fully_connected_s8",
    "depthwise_same_relu": "tfle_depthwise_conv2d_dm1_s8",
    "depthwise_valid_stride2_relu6": "tfle_depthwise_conv2d_dm1_s8",
    "depthwise_dm1_7ch_stride2": "tfle_depthwise_conv2d_dm1_s8",
    "depthwise_dm1_dilated_relu6": "tfle_depthwise_conv2d_dm1_s8",
    "depthwise_dm1_wider_than_the_band": "tfle_depthwise_conv2d_dm1_s8",
    "depthwise_one_channel_multiplier4": "tfle_conv2d_packed_s8",
    "depthwise_one_channel_dilated_width": "tfle_conv2d_packed_s8",
    "depthwise_one_channel_large_window": "tfle_conv2d_rows_s8",
    "depthwise_multiplier3_stride21": "tfle_depthwise_conv2d_s8",
    "depthwise_dilated_multiplier2": "tfle_depthwise_conv2d_s8",
    "dense_per_channel": "tfle_fully_connected_packed_s8",
    "dense_per_tensor_relu": "tfle_fully_connected_packed_s8",
    "dense_no_bias": "tfle_fully_connected_packed_s8",
    "dense_keep_num_dims": "tfle_fully_connected_packed_s8",
    "dense_batches_odd": "tfle_fully_connected_packed_s8",
    "dense_odd_large_depth": "tfle_fully_connected_s8",
}


def test_gather_limit_matches_the_kernels():
    """The compiler's limit for gathered windows is the stack buffer the kernels declare."""
    header = (kernel_include_dir() / "tfle_kernels.h").read_text()
    declared = re.search(r"#define TFLE_GATHER_BYTES (\d+)", header)
    assert declared and int(declared.group(1)) == GATHER_BYTES


def test_band_limit_leaves_wide_depthwise_to_the_clipped_path():
    """The case meant to miss the depthwise kernel's padded band does miss it (and the others
    fit), so both paths stay under test; see TFLE_DW_BAND_WORDS in tfle_kernels.h."""
    header = (kernel_include_dir() / "tfle_kernels.h").read_text()
    words = int(re.search(r"#define TFLE_DW_BAND_WORDS (\d+)", header).group(1))
    assert 3 * (90 + 2) > words  # depthwise_dm1_wider_than_the_band: 3 rows of 1 + 90 + 1
    assert 3 * (8 + 2) <= words  # depthwise_same_relu


@pytest.mark.parametrize("case", sorted(KERNEL_OF))
def test_single_op_kernel_choice(case, op_models, tmp_path):
    """The compiler picks the kernel KERNEL_OF names, and no other conv/FC kernel."""
    compile_aot(op_models(case), tmp_path, sparse=False)
    calls = re.findall(r"\b(tfle_\w+_s8)\(", (tmp_path / "tfle_model.c").read_text())
    assert calls == [KERNEL_OF[case]]


def test_single_op_sparse_kernel_choice(op_models, tmp_path):
    """With sparse=True, convolutions whose windows fit take the gathering sparse kernel, the
    others (grouped, windows over 256 values) the general one."""
    want = {
        "conv_valid_relu": "tfle_conv2d_sparse_taps_s8",
        "conv_dilated_same": "tfle_conv2d_sparse_taps_s8",
        "conv_1x1_no_bias": "tfle_conv2d_sparse_taps_s8",
        "conv_rows_large_window": "tfle_conv2d_sparse_s8",
        "conv_grouped": "tfle_conv2d_sparse_s8",
    }
    for case, kernel in want.items():
        compile_aot(op_models(case), tmp_path / case, sparse=True)
        calls = re.findall(r"\b(tfle_\w+_s8)\(", (tmp_path / case / "tfle_model.c").read_text())
        assert calls == [kernel], case


def test_single_op_options_are_covered(op_models):
    """The cases above really vary what they claim to vary (read back from the .tflite)."""
    seen: dict[str, set] = {}
    for name in CASES:
        for op in load_model(op_models(name)).operators:
            o = op.options
            for key in ("padding", "fusedActivationFunction", "depthMultiplier"):
                if key in o:
                    seen.setdefault(f"{op.op}.{key}", set()).add(o[key])
            if "strideH" in o:
                seen.setdefault(f"{op.op}.stride", set()).add((o["strideH"], o["strideW"]))
            if "dilationHFactor" in o:
                seen.setdefault(f"{op.op}.dilation", set()).add(
                    (o["dilationHFactor"], o["dilationWFactor"])
                )
            if "beta" in o:
                seen.setdefault("SOFTMAX.beta", set()).add(round(o["beta"], 3))
    assert seen["CONV_2D.padding"] == {"SAME", "VALID"}
    assert {"NONE", "RELU", "RELU6", "RELU_N1_TO_1"} <= seen["CONV_2D.fusedActivationFunction"]
    assert len(seen["CONV_2D.stride"]) >= 3 and len(seen["CONV_2D.dilation"]) >= 3
    assert seen["DEPTHWISE_CONV_2D.depthMultiplier"] >= {1, 2, 3}
    assert len(seen["DEPTHWISE_CONV_2D.dilation"]) >= 2
    assert seen["AVERAGE_POOL_2D.padding"] == {"SAME", "VALID"}
    assert seen["MAX_POOL_2D.padding"] == {"SAME", "VALID"}
    assert 2.5 in seen["SOFTMAX.beta"]
    scales = {
        load_model(op_models(n))
        .tensors[load_model(op_models(n)).operators[0].inputs[1]]
        .quantization.scale.size
        > 1
        for n in ("dense_per_channel", "dense_per_tensor_relu")
    }
    assert scales == {True, False}, "need both per-channel and per-tensor FULLY_CONNECTED"
