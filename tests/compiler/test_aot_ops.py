"""The AOT runtime's extra int8 ops, kernel by kernel (tflite_edge/compiler/ops/, tfle_extra.h).

Every expected value comes from the real TFLM interpreter (tflite-micro package): the
kernel tests call the C kernels through ctypes with parameters computed by the op modules
from a converted single-op model, over seeded random quantizations (rewritten into the
flatbuffer) and every int8 input value, and two-input ADD/MUL with broadcasting. Compiled
models (end to end, Cortex-M builds, emulated boards) are tested in test_aot_op_models.py.
"""

from __future__ import annotations

import ctypes
import subprocess

import numpy as np
import pytest
from aot_ops_models import (
    build_binary_models,
    build_lib,
    build_mean_models,
    build_unary_models,
)
from aot_ops_support import (
    ALL_INT8,
    BINARY_CASES,
    KERNELS,
    MEAN_CASES,
    edit_model,
    first_op,
    only_op,
    random_quant,
    requantized,
    struct,
    struct_class,
    tflite_schema,
    tflm_run,
    unary,
)

from tflite_edge import reference
from tflite_edge.compiler import params as kernel_params
from tflite_edge.compiler.ops import activations as activations_op
from tflite_edge.compiler.ops import elementwise as elementwise_op
from tflite_edge.compiler.ops import quantize as quantize_op
from tflite_edge.compiler.ops import reduce as reduce_op

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    """The extra kernels built for the host (aot_ops_models.build_lib)."""
    return build_lib(tmp_path_factory)


@pytest.fixture(scope="module")
def unary_models():
    """aot_ops_models.build_unary_models() (built once per session)."""
    return build_unary_models()


@pytest.fixture(scope="module")
def binary_models():
    """aot_ops_models.build_binary_models() (built once per session)."""
    return build_binary_models()


@pytest.fixture(scope="module")
def mean_models():
    """aot_ops_models.build_mean_models() (built once per session)."""
    return build_mean_models()


def test_struct_layouts_match_the_header(tmp_path):
    """kernel_params.STRUCTS (C initializers, ctypes mirrors) agrees with the headers' layout."""
    headers = sorted(set(kernel_params.STRUCT_HEADERS.values()))
    lines = ['#include <stdio.h>', '#include <stddef.h>',
             *[f'#include "{h}"' for h in headers], "int main(void) {"]  # fmt: skip
    for name, fields in kernel_params.STRUCTS.items():
        lines.append(f'printf("{name} %u\\n", (unsigned)sizeof({name}));')
        for field, _, _ in fields:
            lines.append(f'printf("{name}.{field} %u\\n", (unsigned)offsetof({name}, {field}));')
    lines.append("return 0; }")
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines))
    exe = tmp_path / "layout"
    proc = subprocess.run(["gcc", "-std=c99", f"-I{KERNELS}", str(src), "-o", str(exe)],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    c_side = dict(
        line.split() for line in subprocess.check_output([str(exe)], text=True).split("\n") if line
    )
    for name, fields in kernel_params.STRUCTS.items():
        cls = struct_class(name)
        assert int(c_side[name]) == ctypes.sizeof(cls), name
        for field, _, _ in fields:
            assert int(c_side[f"{name}.{field}"]) == getattr(cls, field).offset, (name, field)


# --------------------------------------------------------------------------- kernel tests


def _run_unary_case(lib, data, op, x):
    """Run op 0 of `data` in TFLM and through its kernel; returns (ours, tflm)."""
    m, o, ins, y = first_op(data)
    xt = ins[0]
    expected = reference.Reference(data).run_one(x.reshape(xt.shape))
    if op == "LOGISTIC" or op == "TANH":
        ours = unary(lib, f"tfle_{op.lower()}_s8", "tfle_sigmoid_params",
                     activations_op.sigmoid_params(xt), x)  # fmt: skip
    elif op == "RELU":
        ours = unary(lib, "tfle_requant_s8", "tfle_requant_params",
                     quantize_op.requant_params(xt, y, relu=True), x)  # fmt: skip
    elif op == "RELU6":
        lo, hi = activations_op.relu6_bounds(xt)
        ours = unary(lib, "tfle_clamp_s8", None, (x.size, lo, hi), x)
    elif op == "LEAKY_RELU":
        ours = unary(lib, "tfle_leaky_relu_s8", "tfle_leaky_relu_params",
                     activations_op.leaky_relu_params(xt, y, o.options["alpha"]), x)  # fmt: skip
    elif op == "HARD_SWISH":
        ours = unary(lib, "tfle_hard_swish_s8", "tfle_hard_swish_params",
                     activations_op.hard_swish_params(xt, y), x)  # fmt: skip
    else:
        raise AssertionError(op)
    return ours.reshape(expected.shape), expected


@pytest.mark.parametrize("op", ["LOGISTIC", "TANH", "RELU", "RELU6", "LEAKY_RELU", "HARD_SWISH"])
def test_unary_kernel_every_input_many_quantizations(lib, unary_models, op):
    """All 256 int8 inputs, the converter's quantization and 24 seeded random ones."""
    base = unary_models[op]
    _, o, ins, y = first_op(base)
    rng = np.random.default_rng(sum(map(ord, op)))
    configs = [None]
    for (si, zi), (so, zo) in zip(random_quant(rng, 24), random_quant(rng, 24), strict=True):
        if op == "LOGISTIC":
            so, zo = 1.0 / 256, -128
        elif op == "TANH":
            so, zo = 1.0 / 128, 0
        elif op == "HARD_SWISH":
            so = max(so, si / 64)  # TFLM needs in_scale / (128 out_scale) < 1
        configs.append({ins[0].index: (si, zi), y.index: (so, zo)})
    alphas = [0.2, 0.01, 0.5, -0.3, 1.7]
    for n, cfg in enumerate(configs):
        data = base if cfg is None else requantized(base, cfg)
        if op == "LEAKY_RELU":
            alpha = alphas[n % len(alphas)]

            def set_alpha(mt, alpha=alpha):
                mt.subgraphs[0].operators[0].builtinOptions.alpha = alpha

            data = edit_model(data, set_alpha)
        ours, expected = _run_unary_case(lib, data, op, ALL_INT8)
        assert np.array_equal(ours, expected), (op, cfg, np.flatnonzero(ours != expected)[:8])


def test_quantize_dequantize_kernels(lib, unary_models):
    """QUANTIZE float32 -> int8 (with exact ties), int8 -> int8, and DEQUANTIZE int8 -> float32."""
    schema = tflite_schema()
    base = unary_models["FLOAT_IO"]
    quantize, dequantize = only_op(base, 0), only_op(base, 2)
    rng = np.random.default_rng(7)
    for (si, zi), (so, zo) in zip(random_quant(rng, 16), random_quant(rng, 16), strict=True):
        # float32 -> int8: ties at (k + 1/2) * scale and random values, 256 at a time
        _, _, (x,), y = first_op(quantize)
        data = requantized(quantize, {y.index: (so, zo)})
        _, _, _, yt = first_op(data)
        ref = reference.Reference(data)
        ties = ((np.arange(-128, 128) + 0.5) * np.float32(so)).astype(np.float32)
        # far out of range too (still inside int32, where TFLM's cast is defined)
        far = np.float32(so) * np.repeat([-1e8, -1e5, -1500.0, 1500.0, 1e5, 1e8], 16)[:96]
        for xs in (
            ties,
            rng.normal(0, 100 * so, size=256).astype(np.float32),
            far.astype(np.float32),
        ):
            for chunk in xs.reshape(-1, 16):
                ours = unary(lib, "tfle_quantize_f32_s8", "tfle_affine_params",
                             quantize_op.affine_params(yt, 16), chunk)  # fmt: skip
                assert np.array_equal(ours, ref.run_one(chunk).ravel()), (so, zo)

        # int8 -> int8: the same QUANTIZE with its input retyped to int8, every input value
        data = requantized(
            quantize,
            {x.index: (si, zi), y.index: (so, zo)},
            types={x.index: schema.TensorType.INT8},
        )
        _, _, (xt,), yt = first_op(data)
        ref = reference.Reference(data)
        p = {**quantize_op.requant_params(xt, yt), "size": 16}
        for chunk in ALL_INT8.reshape(-1, 16):
            ours = unary(lib, "tfle_requant_s8", "tfle_requant_params", p, chunk)
            assert np.array_equal(ours, ref.run_one(chunk).ravel()), (si, zi, so, zo)

        # int8 -> float32 DEQUANTIZE of every value, compared bit for bit
        _, _, (x,), _ = first_op(dequantize)
        data = requantized(dequantize, {x.index: (si, zi)})
        _, _, (xt,), _ = first_op(data)
        ref = reference.Reference(data)
        for chunk in ALL_INT8.reshape(-1, 16):
            ours = unary(lib, "tfle_dequantize_s8_f32", "tfle_affine_params",
                         quantize_op.affine_params(xt, 16), chunk, out_dtype=np.float32)  # fmt: skip
            assert ours.tobytes() == ref.run_one(chunk).astype(np.float32).tobytes(), (si, zi)


@pytest.mark.parametrize("case", range(len(BINARY_CASES)))
def test_binary_kernel_broadcasting(lib, binary_models, case):
    """Two-input ADD/MUL (broadcast either way, fused activations) against TFLM."""
    op = BINARY_CASES[case][0]
    data = binary_models[case]
    m, o, (a, b), y = first_op(data)
    act = o.options.get("fusedActivationFunction")
    fn = elementwise_op.add_params if op == "ADD" else elementwise_op.mul_params
    params = struct(f"tfle_{op.lower()}_params", fn(a, b, y, act))
    bcast = struct("tfle_bcast", elementwise_op.broadcast_params(a.shape, b.shape, y.shape))
    # the model's inputs are in the order the converter chose; map them to op inputs
    in_order = [list(m.inputs).index(a.index), list(m.inputs).index(b.index)]
    rng = np.random.default_rng(case)
    for _ in range(20):
        xa = rng.integers(-128, 128, size=a.shape, dtype=np.int8)
        xb = rng.integers(-128, 128, size=b.shape, dtype=np.int8)
        feeds = [None, None]
        feeds[in_order[0]], feeds[in_order[1]] = xa, xb
        expected = tflm_run(data, feeds)
        ours = np.zeros(y.size, np.int8)
        lib(f"tfle_{op.lower()}_s8", params, bcast, xa.ravel(), xb.ravel(), ours)
        assert np.array_equal(ours.reshape(expected.shape), expected)


@pytest.mark.parametrize("case", range(len(MEAN_CASES)))
def test_reduce_kernel(lib, mean_models, case):
    """MEAN (TFLM's integer path; also with equal in/out quantization) and REDUCE_MAX."""
    base = mean_models[case]
    m, o, (x, axes), y = first_op(base)
    rng = np.random.default_rng(case)
    configs = [None, {y.index: (float(x.quantization.scale[0]), int(x.quantization.zero_point[0]))}]
    if o.op == "MEAN":
        configs += [{x.index: qi, y.index: qo} for qi, qo in zip(
            random_quant(rng, 6), random_quant(rng, 6), strict=True)]  # fmt: skip
    for cfg in configs:
        data = base if cfg is None else requantized(base, cfg)
        _, _, (xt, _), yt = first_op(data)
        shape = reduce_op.reduce_shape(xt.shape, reduce_op.resolve_axes(axes.data, len(xt.shape)))
        xs = rng.integers(-128, 128, size=(8, *xt.shape[1:]), dtype=np.int8)
        expected = reference.Reference(data).run(xs)
        for xi, ei in zip(xs, expected, strict=True):
            ours = np.zeros(yt.size, np.int8)
            if o.op == "MEAN":
                p = reduce_op.mean_params(xt, yt, shape["num_reduced"])
                lib("tfle_mean_s8", struct("tfle_mean_params", p),
                    struct("tfle_reduce_shape", shape), np.ascontiguousarray(xi), ours)  # fmt: skip
            else:
                lib("tfle_reduce_max_s8", struct("tfle_reduce_shape", shape),
                    np.ascontiguousarray(xi), ours)  # fmt: skip
            assert np.array_equal(ours, ei.ravel()), (o.op, cfg)
