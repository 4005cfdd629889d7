"""Helpers of the core AOT tests: seeded inputs, the bit-exactness check against TFLM and
the Cortex-M objects of a generated model."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from tflite_edge.compiler import (
    AotResult,
    build_host_runner,
    compile_aot,
    kernel_include_dir,
    kernel_objects,
)
from tflite_edge.model import known_input
from tflite_edge.reference import Reference

N_INPUTS = 100


ARM_CPUS = ("cortex-m4", "cortex-m3")


def random_inputs(ref: Reference, n: int = N_INPUTS, seed: int = 0) -> np.ndarray:
    """n random inputs over the whole range of the input's type (int8, int16), plus the
    model's known input first."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(ref.input_dtype)
    info = np.iinfo(dt)
    xs = rng.integers(info.min, info.max + 1, size=(n, *ref.input_shape[1:]), dtype=dt)
    xs[0] = known_input(ref.model).reshape(ref.input_shape[1:])
    return xs


def assert_bit_exact(tflite, out_dir: Path, *, sparse="auto", n: int = N_INPUTS) -> AotResult:
    """Compile, build for the host, run n inputs, compare with TFLM; returns the result."""
    result = compile_aot(tflite, out_dir, sparse=sparse)
    runner = build_host_runner(out_dir)
    ref = Reference(tflite)
    xs = random_inputs(ref, n)
    want = ref.run(xs)
    got = runner.run(xs)
    assert got.shape == want.shape
    diff = np.argwhere(got != want)
    assert diff.size == 0, (
        f"{len(diff)} output values differ from TFLM (first at {diff[0].tolist()}: "
        f"got {got[tuple(diff[0])]}, TFLM {want[tuple(diff[0])]})"
    )
    return result


def arm_objects(out_dir: Path, cpu: str) -> list[Path]:
    """tfle_model.c and every kernel compiled with arm-none-eabi-gcc -c; the .o paths."""
    flags = (f"-mcpu={cpu}", "-mthumb", "-O2", "-Wextra")
    kernels = kernel_objects("arm-none-eabi-gcc", flags)
    obj = out_dir / f"tfle_model-{cpu}.o"
    cmd = [
        "arm-none-eabi-gcc", *flags, "-std=c99", "-Wall", "-Werror",
        f"-I{out_dir}", f"-I{kernel_include_dir()}",
        "-c", str(out_dir / "tfle_model.c"), "-o", str(obj),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
    return [obj, *kernels]


def flash_bytes(objs: list[Path]) -> int:
    """text + data of object files, read with arm-none-eabi-size."""
    proc = subprocess.run(
        ["arm-none-eabi-size", *map(str, objs)], capture_output=True, text=True, check=True
    )
    total = 0
    for line in proc.stdout.splitlines()[1:]:
        text, data = line.split()[:2]
        total += int(text) + int(data)
    return total
