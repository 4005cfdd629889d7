"""The AOT upsampling ops, bit-exact with TFLM: TRANSPOSE_CONV (int8 and 16x8),
RESIZE_NEAREST_NEIGHBOR (int8, int16) and RESIZE_BILINEAR (int8).

A few converted Keras models serve as templates (built once per session); a seeded generator
rewrites their shapes, filters, strides, paddings and options in the flatbuffer, and every
variant is compiled with compile_aot, built for the host with gcc (-Wall -Werror; a few also
checked with -Wextra) and run on random inputs next to the TFLM interpreter. A small U-Net (CONV_2D stride 2, TRANSPOSE_CONV, both
UpSampling2D modes, CONCATENATE skips) is compiled whole, and once for Cortex-M4.
"""

from __future__ import annotations

import functools
import subprocess

import numpy as np
import pytest
from aot_ops_support import edit_model, first_op, requantized, reshaped, tflite_schema, tflm_run
from aot_support import arm_objects, assert_bit_exact

import opmodels as om
from tflite_edge import compiler as aot
from tflite_edge.compiler.ops import resize as resize_op
from tflite_edge.compiler.ops import transpose_conv as tc_op
from tflite_edge.errors import UnsupportedOpError
from tflite_edge.model import load_model

N_INPUTS = 12  # random inputs per generated variant (the whole int range)
ACT = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}


def _int16(converter) -> None:
    import tensorflow as tf

    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
    ]
    converter.inference_input_type = tf.int16
    converter.inference_output_type = tf.int16


@functools.cache
def templates() -> dict[str, bytes]:
    """The one-op templates (converted once per session; the int16 resizes are the int8 ones
    with int16 tensors, which is what the converter writes for them)."""
    import tensorflow as tf

    k = om.keras()
    tconv = om.randomize(
        om.single_layer_model(
            [k.layers.Conv2DTranspose(4, 3, strides=2, padding="same")], (5, 5, 3)
        )
    )
    out = {
        "tconv": om.convert_keras(tconv),
        "tconv16": om.convert_keras(tconv, post_process=_int16),
    }
    for interp in ("nearest", "bilinear"):
        up = om.single_layer_model([k.layers.UpSampling2D(2, interpolation=interp)], (4, 5, 3))
        out[interp] = om.convert_keras(up)
        # the converter's int16 resize is the int8 one with int16 tensors (zero point 0)
        _, _, (x, _), y = first_op(out[interp])
        int16 = tflite_schema().TensorType.INT16
        out[f"{interp}16"] = requantized(
            out[interp],
            {
                x.index: (x.quantization.scale[0] / 256, 0),
                y.index: (y.quantization.scale[0] / 256, 0),
            },
            types={x.index: int16, y.index: int16},
        )
    # tf.image.resize with align_corners (the v1 API; the converter keeps the option)
    aligned = om.single_layer_model(
        [
            k.layers.Lambda(
                lambda x: tf.compat.v1.image.resize_bilinear(x, (7, 9), align_corners=True)
            )
        ],
        (4, 5, 3),
    )
    out["bilinear_aligned"] = om.convert_keras(aligned)
    return out


def _random_inputs(rng, data: bytes, n: int) -> list[np.ndarray]:
    m = load_model(data)
    t = m.tensors[m.inputs[0]]
    info = np.iinfo(t.dtype)
    return [rng.integers(info.min, info.max + 1, size=t.shape).astype(t.dtype) for _ in range(n)]


def _wextra_clean(out_dir) -> None:
    """The generated tfle_model.c passes gcc -std=c99 -Wall -Wextra -Werror (the host build
    and its cached kernel objects use -Wall -Werror)."""
    cmd = ["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
           f"-I{out_dir}", f"-I{aot.kernel_include_dir()}", str(out_dir / "tfle_model.c")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _matches_tflm(data: bytes, out_dir, rng, n: int = N_INPUTS, *, wextra: bool = False) -> None:
    """compile_aot + host gcc build of `data` gives TFLM's output on n random inputs."""
    aot.compile_aot(data, out_dir)
    if wextra:
        _wextra_clean(out_dir)
    runner = aot.build_host_runner(out_dir)
    for x in _random_inputs(rng, data, n):
        want = tflm_run(data, [x])
        got = runner.run_one(x)
        assert np.array_equal(got.ravel(), want.ravel()), (
            f"{int(np.sum(got.ravel() != want.ravel()))} of {want.size} values differ"
        )


# --------------------------------------------------------------------------- TRANSPOSE_CONV


def tconv_variant(
    base: bytes,
    rng: np.random.Generator,
    *,
    in_hw: tuple[int, int],
    in_c: int,
    out_c: int,
    kernel: tuple[int, int],
    strides: tuple[int, int],
    padding: str,
    bias: bool,
    activation: str = "NONE",
    per_channel: bool = True,
    out_hw: tuple[int, int] | None = None,
    batch: int = 1,
) -> bytes:
    """The TRANSPOSE_CONV template rewritten: shapes, a seeded int8 filter with per-channel
    (or one) scales, a seeded bias (int32, or int64 for 16x8) or none, strides, padding,
    fused activation and output quantization chosen so that outputs are not all saturated."""
    schema = tflite_schema()
    kh, kw = kernel
    sh, sw = strides
    ih, iw = in_hw
    if out_hw is None:  # Keras' output size: SAME in * s, VALID in * s + max(k - s, 0)
        extra = (0, 0) if padding == "SAME" else (max(kh - sh, 0), max(kw - sw, 0))
        out_hw = (ih * sh + extra[0], iw * sw + extra[1])
    oh, ow = out_hw

    def fn(mt):
        sg = mt.subgraphs[0]
        op = sg.operators[0]
        t_shape, t_w, t_x = (sg.tensors[i] for i in op.inputs[:3])
        t_b = sg.tensors[op.inputs[3]] if len(op.inputs) > 3 and op.inputs[3] >= 0 else None
        t_y = sg.tensors[op.outputs[0]]
        int16 = t_x.type == schema.TensorType.INT16
        t_x.shape, t_y.shape = [batch, ih, iw, in_c], [batch, oh, ow, out_c]
        t_x.shapeSignature = t_y.shapeSignature = None

        def set_data(t, arr):
            t.shape, t.shapeSignature = list(arr.shape), None
            mt.buffers[t.buffer].data = np.frombuffer(np.ascontiguousarray(arr).tobytes(), np.uint8)

        set_data(t_shape, np.array([batch, oh, ow, out_c], "<i4"))
        w = rng.integers(-127, 128, size=(out_c, kh, kw, in_c)).astype(np.int8)
        set_data(t_w, w)
        n_scales = out_c if per_channel else 1
        w_scales = (10.0 ** rng.uniform(-3, -2, size=n_scales)).astype(np.float32)
        t_w.quantization.scale = [float(s) for s in w_scales]
        t_w.quantization.zeroPoint = [0] * n_scales
        t_w.quantization.quantizedDimension = 0
        x_scale = float(t_x.quantization.scale[0])
        if not int16:  # a nonzero input zero point exercises the input offset
            t_x.quantization.zeroPoint = [int(rng.integers(-60, 61))]
        taps = max(kh * kw * in_c / (sh * sw), 1.0)
        qmax = 32767 if int16 else 127
        # acc spread ~ qmax * 73 * sqrt(taps) (uniform inputs and weights): fill the output range
        y_real = x_scale * float(np.mean(w_scales)) * qmax * 73 * np.sqrt(taps)
        t_y.quantization.scale = [float(np.float32(y_real / qmax * rng.uniform(0.8, 2.0)))]
        t_y.quantization.zeroPoint = [0 if int16 else int(rng.integers(-40, 41))]
        if t_b is not None and bias:
            b = rng.integers(-(1 << 14), 1 << 14, size=out_c)
            set_data(t_b, b.astype("<i8" if int16 else "<i4"))
            t_b.quantization.scale = [float(np.float32(x_scale * s)) for s in w_scales] * (
                out_c // n_scales
            )
            t_b.quantization.zeroPoint = [0] * out_c
        elif t_b is not None:
            op.inputs = list(op.inputs[:3])
        opts = op.builtinOptions
        opts.strideH, opts.strideW = sh, sw
        opts.padding = {"SAME": schema.Padding.SAME, "VALID": schema.Padding.VALID}[padding]
        opts.fusedActivationFunction = ACT[activation]

    return edit_model(base, fn)


def _tconv_cases(seed: int, n: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        stride = int(rng.integers(1, 4))
        cases.append(
            {
                "in_hw": (int(rng.integers(1, 6)), int(rng.integers(1, 6))),
                "in_c": int(rng.integers(1, 6)),
                "out_c": int(rng.integers(1, 6)),
                "kernel": (int(rng.integers(1, 6)), int(rng.integers(1, 6))),
                # mostly square strides, sometimes not
                "strides": (stride, stride if i % 3 else int(rng.integers(1, 4))),
                "padding": ("SAME", "VALID")[i % 2],
                "bias": i % 4 != 3,
                "activation": ("NONE", "RELU", "NONE", "RELU6", "RELU_N1_TO_1")[i % 5],
                "per_channel": i % 5 != 4,
                "batch": 2 if i == 1 else 1,
            }
        )
    return cases


@pytest.mark.parametrize("kind", ["int8", "int16"])
def test_transpose_conv_generated_variants(kind, tmp_path):
    """Seeded shapes, kernel sizes 1-5, strides 1-3 (also unequal), SAME/VALID, bias or none,
    per-channel or per-tensor filter scales, fused RELU/RELU6/RELU_N1_TO_1: TFLM's output."""
    base = templates()["tconv" if kind == "int8" else "tconv16"]
    int16 = kind == "int16"
    rng = np.random.default_rng(3 if int16 else 2)
    for i, case in enumerate(_tconv_cases(11 if int16 else 10, 6 if int16 else 10)):
        data = tconv_variant(base, rng, **case)
        try:
            _matches_tflm(data, tmp_path / f"v{i}", rng, wextra=i < 2)
        except AssertionError as err:
            raise AssertionError(f"{kind} case {case}: {err}") from None


def test_transpose_conv_converted_models_bit_exact(tmp_path):
    """The converted Conv2DTranspose as the converter wrote it, int8 (100 inputs) and 16x8
    with its int64 bias (40 inputs); and an output larger than Keras' VALID size."""
    t = templates()
    assert_bit_exact(t["tconv"], tmp_path / "int8")
    _, op, (shape_t, w, x, b), y = first_op(t["tconv16"])
    assert (x.dtype, w.dtype, b.dtype, y.dtype) == (np.int16, np.int8, np.int64, np.int16)
    rng = np.random.default_rng(4)
    _matches_tflm(t["tconv16"], tmp_path / "int16", rng, n=40)  # int16 inputs: our own
    # an int16 bias in a 16x8 model (older converters): TFLM widens it to int64 at run time
    bias16 = np.random.default_rng(6).integers(-3000, 3000, size=b.shape).astype("<i2")

    def int16_bias(mt):
        tb = mt.subgraphs[0].tensors[b.index]
        tb.type = tflite_schema().TensorType.INT16
        mt.buffers[tb.buffer].data = np.frombuffer(bias16.tobytes(), np.uint8)

    _matches_tflm(edit_model(t["tconv16"], int16_bias), tmp_path / "bias16", rng, n=10)
    # Conv2DTranspose(output_padding=...) style: an output one larger than Keras' VALID size
    odd = tconv_variant(
        t["tconv"], rng, in_hw=(3, 4), in_c=2, out_c=3, kernel=(3, 2), strides=(2, 2),
        padding="VALID", bias=True, out_hw=(8, 9),
    )  # fmt: skip
    _matches_tflm(odd, tmp_path / "odd", rng)


def test_transpose_conv_padding_follows_tflm():
    """ComputePaddingHeightWidth on the output size, as TFLM's Prepare calls it."""
    # SAME, out 10, k 3, s 2: out' = 5, total = 4 * 2 + 3 - 10 = 1 -> 0; k 4 -> 2 // 2 = 1
    assert tc_op.transpose_conv_padding("SAME", 10, 10, 3, 4, 2, 2) == (0, 1)
    # VALID: out' = (11 + 2 - 3) // 2 = 5, total = 8 + 3 - 11 = 0
    assert tc_op.transpose_conv_padding("VALID", 11, 11, 3, 3, 2, 2) == (0, 0)
    with pytest.raises(ValueError, match="padding"):
        tc_op.transpose_conv_padding("NONE", 4, 4, 3, 3, 1, 1)


def test_transpose_conv_refusals(tmp_path):
    """What TFLM's kernel would compute wrongly is refused, naming the reason."""
    base = templates()["tconv"]
    rng = np.random.default_rng(5)
    data = tconv_variant(
        base, rng, in_hw=(3, 3), in_c=2, out_c=2, kernel=(3, 3), strides=(2, 2),
        padding="SAME", bias=True,
    )  # fmt: skip
    _, op, (_, w, _, _), _ = first_op(data)

    def nonzero_filter_zp(mt):
        mt.subgraphs[0].tensors[w.index].quantization.zeroPoint = [1, 0]

    with pytest.raises(UnsupportedOpError, match="filter zero points"):
        aot.compile_aot(edit_model(data, nonzero_filter_zp), tmp_path / "zp")
    with pytest.raises(UnsupportedOpError, match="TANH"):
        aot.compile_aot(reshaped(data, {}, options={"fusedActivationFunction": 4}), tmp_path / "a")
    # int16 activations with a nonzero zero point (TFLM's 16x8 kernel has no offsets)
    data16 = templates()["tconv16"]
    _, _, (_, _, x16, _), _ = first_op(data16)

    def zp16(mt):
        mt.subgraphs[0].tensors[x16.index].quantization.zeroPoint = [3]

    with pytest.raises(UnsupportedOpError, match="zero points other than 0"):
        aot.compile_aot(edit_model(data16, zp16), tmp_path / "zp16")
    # an int32 bias in a 16x8 model: TFLM would read it as int64
    _, _, (_, _, _, b16), _ = first_op(data16)

    def int32_bias(mt):
        tb = mt.subgraphs[0].tensors[b16.index]
        tb.type = tflite_schema().TensorType.INT32
        mt.buffers[tb.buffer].data = np.zeros(b16.shape, "<i4").view(np.uint8)

    with pytest.raises(UnsupportedOpError, match="16x8 bias of type int32"):
        aot.compile_aot(edit_model(data16, int32_bias), tmp_path / "b32")


# --------------------------------------------------------------------------- RESIZE_*


def resize_variant(
    base: bytes, in_hw, out_hw, channels: int, *, align: bool, half: bool, batch: int = 1
):
    """The resize template with new input/output sizes and options."""
    _, _, (x, size), y = first_op(base)
    return reshaped(
        base,
        {x.index: (batch, *in_hw, channels), y.index: (batch, *out_hw, channels)},
        {size.index: list(out_hw)},
        options={"alignCorners": align, "halfPixelCenters": half},
    )


def _resize_cases(seed: int, n: int, *, bilinear: bool) -> list[tuple]:
    rng = np.random.default_rng(seed)
    modes = [(False, False), (True, False), (False, True)] + ([] if bilinear else [(True, True)])
    cases = []
    for i in range(n):
        in_hw = (int(rng.integers(1, 7)), int(rng.integers(1, 7)))
        # mostly upsampling, some downsampling and odd ratios
        out_hw = tuple(int(rng.integers(1, 3 * s + 3)) for s in in_hw)
        cases.append((in_hw, out_hw, int(rng.integers(1, 5)), *modes[i % len(modes)]))
    return cases


@pytest.mark.parametrize("template,n", [("nearest", 7), ("nearest16", 5), ("bilinear", 9)])
def test_resize_generated_variants(template, n, tmp_path):
    """Seeded sizes (up, down, odd ratios, 1-pixel edges), align_corners / half_pixel_centers:
    TFLM's output, through compile_aot."""
    base = templates()[template]
    rng = np.random.default_rng(7)
    for i, (in_hw, out_hw, c, align, half) in enumerate(
        _resize_cases(20 + n, n, bilinear=template.startswith("bilinear"))
    ):
        data = resize_variant(base, in_hw, out_hw, c, align=align, half=half, batch=1 + (i == 1))
        try:
            _matches_tflm(data, tmp_path / f"v{i}", rng, n=6, wextra=i == 0)
        except AssertionError as err:
            raise AssertionError(
                f"{template} {in_hw}->{out_hw}x{c} {align=} {half=}: {err}"
            ) from None


def test_nearest_indices_match_tflm_on_many_sizes():
    """The nearest-neighbour source indices (float32 arithmetic at compile time) against TFLM
    itself over many sizes and every option pair, quickly: a one-row input holding its own
    column index, so TFLM's output names the source column it read."""
    base = templates()["nearest16"]
    cases = [(i, o, a, h) for i in (1, 2, 3, 5, 7) for o in (1, 2, 3, 4, 6, 9, 13, 16)
             for a, h in ((False, False), (True, False), (False, True), (True, True))]  # fmt: skip
    for size, out, align, half in cases:
        data = resize_variant(base, (1, size), (1, out), 1, align=align, half=half)
        x = np.arange(size, dtype=np.int16).reshape(1, 1, size, 1)
        want = tflm_run(data, [x]).ravel().tolist()
        assert resize_op.nearest_indices(size, out, align, half) == want, (size, out, align, half)


def test_resize_converted_models_bit_exact(tmp_path):
    """UpSampling2D nearest (int8, int16) and bilinear (int8, half_pixel_centers as the
    converter writes them) and tf.image.resize_bilinear(align_corners=True), 30 inputs."""
    t = templates()
    assert load_model(t["bilinear"]).operators[0].options["halfPixelCenters"] is True
    assert load_model(t["bilinear_aligned"]).operators[0].options["alignCorners"] is True
    for name in ("nearest", "bilinear", "bilinear_aligned"):
        assert_bit_exact(t[name], tmp_path / name, n=30)
    _matches_tflm(t["nearest16"], tmp_path / "nearest16", np.random.default_rng(8), n=30)


def test_resize_refusals(tmp_path):
    """int16 bilinear (TFLM has no such kernel) and align_corners + half_pixel_centers."""
    t = templates()
    with pytest.raises(UnsupportedOpError, match="int16"):
        aot.compile_aot(t["bilinear16"], tmp_path / "b16")
    both = reshaped(t["bilinear"], {}, options={"alignCorners": True, "halfPixelCenters": True})
    with pytest.raises(UnsupportedOpError, match="align_corners together"):
        aot.compile_aot(both, tmp_path / "both")


# --------------------------------------------------------------------------- a small U-Net


@functools.cache
def unet() -> bytes:
    """Conv2D stride 2 down, Conv2DTranspose and UpSampling2D (nearest, bilinear) up,
    Concatenate skips (int8: the AOT compiler has no int16 CONV_2D / CONCATENATION yet)."""
    k = om.keras()
    inp = k.Input(shape=(16, 16, 3), batch_size=1)
    e0 = k.layers.Conv2D(4, 3, padding="same", activation="relu")(inp)  # 16x16
    e1 = k.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(e0)  # 8x8
    e2 = k.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(e1)  # 4x4
    d1 = k.layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(e2)
    d1 = k.layers.Concatenate()([d1, e1])  # 8x8x16
    d0 = k.layers.UpSampling2D(2)(d1)  # 16x16, nearest
    side = k.layers.UpSampling2D(2, interpolation="bilinear")(e1)  # 16x16
    d0 = k.layers.Concatenate()([d0, side, e0])
    out = k.layers.Conv2D(2, 1)(d0)
    model = om.randomize(k.Model(inp, out, name="unet"), seed=1, scale=0.4)
    return om.convert_keras(model)


def test_unet_compiled_whole_bit_exact_and_for_cortex_m4(tmp_path):
    """The whole U-Net bit-exact on the host; its C (model and kernels) builds for Cortex-M4
    with -Wall -Wextra -Werror. The converter fuses the Conv2DTranspose's RELU (with a bias)."""
    data = unet()
    model = load_model(data)
    ops = [op.op for op in model.operators]
    (tconv,) = [op for op in model.operators if op.op == "TRANSPOSE_CONV"]
    assert tconv.options["fusedActivationFunction"] == "RELU"
    assert {"TRANSPOSE_CONV", "RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR", "CONCATENATION"} <= set(
        ops
    )
    assert_bit_exact(data, tmp_path, n=30)
    objs = arm_objects(tmp_path, "cortex-m4")
    names = subprocess.run(
        ["arm-none-eabi-nm", *map(str, objs)], capture_output=True, text=True, check=True
    ).stdout
    for fn in ("tfle_transpose_conv_s8", "tfle_resize_nearest", "tfle_resize_bilinear_s8"):
        assert f"T {fn}" in names
