"""The AOT compiler's sparse weights (smaller in flash, bit-exact) and the core kernels on an
emulated Cortex-M4, bit-exact with the TFLM interpreter (helpers in aot_support.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from aot_support import (
    ARM_CPUS,
    arm_objects,
    assert_bit_exact,
    flash_bytes,
    random_inputs,
)

from opmodels import (
    convert_keras,
    keras,
    randomize,
    single_layer_model,
    sparsify,
)
from tflite_edge.compiler import (
    compile_aot,
)
from tflite_edge.model import load_model
from tflite_edge.reference import Reference


@pytest.fixture(scope="module", autouse=True)
def _toolchains():
    for tool in ("gcc", "arm-none-eabi-gcc", "arm-none-eabi-size"):
        assert shutil.which(tool), f"{tool} is needed by the AOT tests and is not on PATH"


# --------------------------------------------------------------------------- sparse models


@pytest.fixture(scope="module")
def sparse_cnn() -> tuple[bytes, bytes]:
    """(dense, 75 %-sparse) int8 versions of the same small CNN (conv, depthwise, dense)."""
    L = keras().layers

    def build():
        layers = [
            L.Conv2D(16, 3, activation="relu"),
            L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu"),
            L.Conv2D(16, 1, activation="relu"),
            L.Flatten(),
            L.Dense(48, activation="relu"),
            L.Dense(10),
        ]
        return randomize(single_layer_model(layers, (12, 12, 1), name="cnn"), seed=3)

    dense = convert_keras(build(), seed=2)
    sparse = convert_keras(sparsify(build(), 0.75, seed=4), seed=2)
    return dense, sparse


def test_sparse_model_smaller_in_flash_and_bit_exact(sparse_cnn, tmp_path):
    _, tfl = sparse_cnn
    model = load_model(tfl)
    zeros = {
        op.index: float(np.mean(model.tensors[op.inputs[1]].data == 0))
        for op in model.operators
        if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
    }
    assert all(z >= 0.7 for z in zeros.values()), zeros
    sparse = assert_bit_exact(tfl, tmp_path / "sparse", sparse=True)
    dense = assert_bit_exact(tfl, tmp_path / "dense", sparse=False)
    auto = compile_aot(tfl, tmp_path / "auto")
    assert sparse.sparse_layers == sorted(zeros)
    assert dense.sparse_layers == []
    assert auto.sparse_layers, "sparse='auto' must pick the 75 %-sparse layers"
    assert sparse.weight_bytes < dense.weight_bytes
    assert sparse.ram_bytes == dense.ram_bytes
    for cpu in ARM_CPUS:
        flash_sparse = flash_bytes(arm_objects(tmp_path / "sparse", cpu))
        flash_dense = flash_bytes(arm_objects(tmp_path / "dense", cpu))
        assert flash_sparse < flash_dense, (cpu, flash_sparse, flash_dense)


def test_auto_keeps_dense_weights_dense(sparse_cnn, tmp_path, models_dir):
    dense_tfl, _ = sparse_cnn
    assert compile_aot(dense_tfl, tmp_path / "a").sparse_layers == []
    kws = compile_aot(models_dir / "kws_ref_model.tflite", tmp_path / "b")
    assert kws.sparse_layers == []


@pytest.mark.slow
def test_converted_digits_models(digits_int8, digits_sparse, tmp_path):
    """Models produced by tflite_edge.convert(): dense and 75 % pruned, both bit-exact, and the
    pruned one smaller in flash than its own dense build."""
    assert_bit_exact(digits_int8.tflite, tmp_path / "dense")
    sparse = assert_bit_exact(digits_sparse.tflite, tmp_path / "sparse")
    assert sparse.sparse_layers
    forced_dense = assert_bit_exact(digits_sparse.tflite, tmp_path / "forced", sparse=False)
    flash_sparse = flash_bytes(arm_objects(tmp_path / "sparse", "cortex-m4"))
    flash_dense = flash_bytes(arm_objects(tmp_path / "forced", "cortex-m4"))
    assert flash_sparse < flash_dense
    assert sparse.weight_bytes < forced_dense.weight_bytes


# --------------------------------------------------------------------------- on the emulated board


def run_on_qemu(tflite: bytes, board: str, xs: np.ndarray, work: Path, timeout: float = 60.0):
    """Build the AOT firmware for a QEMU board, answer `in` commands; outputs as int8 arrays.

    Goes through the product's path (render() -> make -> make run), so the kernels run as
    compiled for the board's CPU (the DSP dot product on Cortex-M4). The emulator's process
    group is always stopped afterwards.
    """
    import os
    import queue
    import signal
    import threading

    from tflite_edge import render

    render(tflite, out_dir=work, board=board, runs=1, name="qemu_check")
    build = subprocess.run(["make", "-s", "-C", str(work)], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    proc = subprocess.Popen(
        ["make", "-s", "-C", str(work), "console"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # qemu is make's child: stop the whole group at the end
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(s) for s in proc.stdout], daemon=True).start()
    results: list[np.ndarray] = []
    try:
        while len(results) < len(xs):
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"{board} went silent after {len(results)} results") from None
            if "TFLE 1 ready" in line:
                for x in xs:
                    data = np.ascontiguousarray(x, np.int8).tobytes()
                    proc.stdin.write(f"TFLE 1 in n={len(data)} hex={data.hex()}\n")
                proc.stdin.flush()
            m = re.search(r"TFLE 1 result .*hex=([0-9a-f]*)", line)
            if m:
                results.append(np.frombuffer(bytes.fromhex(m.group(1)), np.int8))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    return np.stack(results)


@pytest.mark.slow
def test_kernels_bit_exact_on_qemu_cortex_m4(sparse_cnn, tmp_path):
    """The Cortex-M4 build (the DSP paths: SXTB16/SMLAD blocks, odd lengths and channel counts,
    clipped windows) of every specialised kernel on the emulated board, against TFLM."""
    L = keras().layers
    odd = randomize(
        single_layer_model(
            [
                L.Conv2D(12, (3, 2), padding="same"),
                L.Conv2D(5, 5, padding="same"),  # a 300-value window: no gathering
                L.Conv2D(7, 1),
                L.Flatten(),
                L.Dense(9),  # 441 inputs, not a multiple of 4 and too many to gather
            ],
            (7, 9, 3),
        ),
        seed=5,
    )
    depthwise = randomize(
        single_layer_model(
            [
                L.DepthwiseConv2D((4, 3), depth_multiplier=6, strides=2, padding="same"),
                L.DepthwiseConv2D(3, padding="same", activation="relu"),
                L.DepthwiseConv2D((5, 3), padding="same"),
                L.DepthwiseConv2D(3, strides=2, padding="same"),
                L.Conv2D(5, 3, strides=(1, 2), padding="same"),
                L.Flatten(),
                L.Dense(6),
            ],
            (11, 9, 1),
        ),
        seed=6,
    )
    # 90 pixels wide: the padded band does not fit (TFLE_DW_BAND_WORDS), so clipped windows
    # take the path with offsets; 5x3 windows clipped to 3x3 rows the written-out 3x3 one
    wide = randomize(
        single_layer_model(
            [
                L.DepthwiseConv2D(3, padding="same", activation="relu"),
                L.DepthwiseConv2D((5, 3), padding="same"),
                L.DepthwiseConv2D(3, strides=2, padding="same"),
                L.GlobalAveragePooling2D(),
            ],
            (6, 90, 5),
        ),
        seed=7,
    )
    kernels = set()
    for name, tfl in (
        ("odd", convert_keras(odd)),
        ("depthwise", convert_keras(depthwise)),
        ("wide", convert_keras(wide)),
        ("sparse_cnn", sparse_cnn[1]),
    ):
        ref = Reference(tfl)
        xs = random_inputs(ref, 8, seed=3)
        got = run_on_qemu(tfl, "qemu-m4", xs, tmp_path / name)
        want = ref.run(xs).reshape(len(xs), -1)
        assert np.array_equal(got, want), name
        kernels |= set(
            re.findall(r"\b(tfle_\w+_s8)\(", (tmp_path / name / "tfle_model.c").read_text())
        )
    specialised = {
        "tfle_conv2d_sparse_taps_s8",
        "tfle_fully_connected_sparse_s8",
        "tfle_conv2d_packed_s8",
        "tfle_conv2d_rows_s8",
        "tfle_depthwise_conv2d_dm1_s8",
        "tfle_fully_connected_packed_s8",
        "tfle_fully_connected_s8",
    }
    assert specialised <= kernels
