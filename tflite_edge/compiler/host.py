"""The host side of the kernels: the kernel sources, their objects, and a generated model
compiled with gcc into a ctypes library (HostRunner) that tests call with numpy arrays."""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ToolchainError
from ..resources import firmware_dir


def kernel_include_dir() -> Path:
    """The folder holding the kernel headers (tfle_kernels.h, ...)."""
    return firmware_dir() / "kernels"


def kernel_sources() -> list[Path]:
    """Every kernel .c file a project must compile with tfle_model.c (sorted)."""
    return sorted(kernel_include_dir().glob("*.c"))


@dataclass(frozen=True)
class IoTensor:
    """One model input or output as the generated C lays it out (tfle_model.h)."""

    shape: tuple[int, ...]
    dtype: np.dtype
    nbytes: int
    offset: int  # in the packed buffer of all inputs (outputs)

    @property
    def size(self) -> int:
        return self.nbytes // self.dtype.itemsize


@dataclass
class HostRunner:
    """A generated model compiled for the host as a shared library, callable from numpy.

    With one input and one output, `run_one(x)` / `run(xs)` take and give arrays; with several,
    they take a list (or tuple) of arrays, one per input in the model's order, and give a list,
    one per output. input_*/output_* name the first input and output."""

    path: Path
    input_bytes: int  # all inputs packed (TFLE_INPUT_BYTES)
    output_bytes: int  # all outputs packed (TFLE_OUTPUT_BYTES)
    input_dtype: np.dtype
    output_dtype: np.dtype
    output_shape: tuple[int, ...]
    profile: bool = False
    inputs: tuple[IoTensor, ...] = ()
    outputs: tuple[IoTensor, ...] = ()

    def __post_init__(self) -> None:
        if not self.inputs:
            self.inputs = (IoTensor((self.input_bytes,), self.input_dtype, self.input_bytes, 0),)
        if not self.outputs:
            self.outputs = (IoTensor(self.output_shape, self.output_dtype, self.output_bytes, 0),)
        self._lib = ctypes.CDLL(str(self.path))
        self._lib.tfle_model_invoke.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self._lib.tfle_model_invoke.restype = ctypes.c_int

    @property
    def multi(self) -> bool:
        """More than one input or output: arrays go in and come out as lists."""
        return len(self.inputs) > 1 or len(self.outputs) > 1

    def _as_list(self, x: Any) -> list[np.ndarray]:
        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        if len(xs) != len(self.inputs):
            raise ValueError(f"{len(xs)} input arrays for a model of {len(self.inputs)} inputs")
        return xs

    def run_one(self, x: Any) -> Any:
        """Invoke once; returns the output with the model's output shape (a list of outputs
        for a model of several inputs or outputs; x is then one array per input)."""
        bufs = []
        for spec, xi in zip(self.inputs, self._as_list(x), strict=True):
            buf = np.ascontiguousarray(xi, dtype=spec.dtype).ravel()
            if buf.nbytes != spec.nbytes:
                raise ValueError(f"input has {buf.nbytes} bytes, the model takes {spec.nbytes}")
            bufs.append(buf.view(np.uint8))
        packed = np.ascontiguousarray(np.concatenate(bufs))
        out = np.zeros(max(self.output_bytes, 1), np.uint8)
        rc = self._lib.tfle_model_invoke(packed.ctypes.data, out.ctypes.data)
        if rc != 0:
            raise RuntimeError(f"tfle_model_invoke returned {rc}")
        ys = [
            out[o.offset : o.offset + o.nbytes].view(o.dtype).reshape(o.shape).copy()
            for o in self.outputs
        ]
        return ys if self.multi else ys[0]

    def run(self, xs: Any) -> Any:
        """Invoke on each sample of a batch (first axis), like reference.Reference.run; with
        several inputs xs is one batch per input, and one batch per output comes back."""
        batches = self._as_list(xs)
        batches = [
            np.asarray(b).reshape((-1, spec.size))
            for spec, b in zip(self.inputs, batches, strict=True)
        ]
        n = len(batches[0])
        if any(len(b) != n for b in batches):
            raise ValueError(f"the input batches hold {[len(b) for b in batches]} samples")
        outs: list[list[np.ndarray]] = [[] for _ in self.outputs]
        for i in range(n):
            ys = self.run_one([b[i] for b in batches])
            for k, y in enumerate(ys if self.multi else [ys]):
                outs[k].append(y.reshape(self.outputs[k].shape[1:]))
        stacked = [
            np.stack(o) if o else np.zeros((0, *spec.shape[1:]), spec.dtype)
            for o, spec in zip(outs, self.outputs, strict=True)
        ]
        return stacked if self.multi else stacked[0]

    def profile_calls(self) -> list[tuple[int, int, str]]:
        """(layer, op_index, op_name) of each hook call during the last invoke (profile=True)."""
        n = self._lib.tfle_test_profile_count()
        get = self._lib.tfle_test_profile_entry
        get.restype = ctypes.c_char_p
        out = []
        for i in range(n):
            layer, op_index = ctypes.c_int(), ctypes.c_int()
            name = get(i, ctypes.byref(layer), ctypes.byref(op_index))
            out.append((layer.value, op_index.value, name.decode()))
        return out


_PROFILE_STUB = r"""
#include <stddef.h>
#include "tfle_model.h"
static int n_calls;
static int layers[4096], ops[4096];
static const char *names[4096];
void tfle_profile_layer(int layer, int op_index, const char *op_name) {
  if (layer == 0) n_calls = 0;
  if (n_calls < 4096) { layers[n_calls] = layer; ops[n_calls] = op_index; names[n_calls] = op_name; }
  n_calls++;
}
int tfle_test_profile_count(void) { return n_calls; }
const char *tfle_test_profile_entry(int i, int *layer, int *op_index) {
  *layer = layers[i]; *op_index = ops[i]; return names[i];
}
"""


def _kernel_cache_dir() -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"tflite-edge-kernels-{uid}"


def kernel_objects(cc: str = "gcc", cflags: tuple[str, ...] = ("-O2",)) -> list[Path]:
    """The kernels compiled with `cc cflags -c` into objects, cached by source content.

    The cache (a folder in the system temp dir) is keyed by every kernel source and header,
    the compiler and the flags, so an edited kernel is always rebuilt; objects are written
    atomically, so concurrent test runs may share it. Pass e.g.
    `cc="arm-none-eabi-gcc", cflags=("-mcpu=cortex-m4", "-mthumb", "-O2")` for a target.
    """
    if shutil.which(cc) is None:
        raise ToolchainError(f"the C compiler {cc!r} is not on PATH; install it", tool=cc)
    inc = kernel_include_dir()
    digest = hashlib.sha256(repr((cc, tuple(cflags))).encode())
    for f in sorted([*inc.glob("*.c"), *inc.glob("*.h")]):
        digest.update(f.name.encode() + b"\0" + f.read_bytes())
    cache = _kernel_cache_dir() / digest.hexdigest()[:20]
    cache.mkdir(parents=True, exist_ok=True)
    objs = []
    for src in kernel_sources():
        obj = cache / (src.stem + ".o")
        if not obj.exists():
            fd, tmp = tempfile.mkstemp(prefix=f".{src.stem}.", suffix=".o", dir=cache)
            os.close(fd)
            _run_cc([cc, "-std=c99", *cflags, "-Wall", "-Werror", f"-I{inc}",
                     "-c", str(src), "-o", tmp], cc, src, tmp)  # fmt: skip
            os.replace(tmp, obj)
        objs.append(obj)
    return objs


def _run_cc(cmd: list[str], cc: str, what: Path, tmp: str | Path | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise ToolchainError(
            f"{cc} failed to compile {what}:\n{' '.join(cmd)}\n{proc.stderr[-4000:]}", tool=cc
        )


def build_host_runner(
    out_dir: str | Path,
    *,
    cc: str = "gcc",
    cflags: tuple[str, ...] = ("-O2",),
    profile: bool = False,
) -> HostRunner:
    """Compile out_dir/tfle_model.c and the kernels with the host gcc into a ctypes library.

    Usage (tests): `compile_aot(m, d); runner = build_host_runner(d); y = runner.run(xs)` with
    xs shaped (N, *input_shape[1:]) like `reference.Reference.run` (a model of several inputs
    or outputs: a list of such batches in, one per output out). Sizes come from the generated
    header, so any compiled output dir works. The kernels are compiled once and cached
    (`kernel_objects`); the library goes to out_dir/host/ under a name derived from its
    sources, so a rebuilt model never reuses a stale loaded library. profile=True defines
    TFLE_PROFILE and links a recorder of the hook calls (`HostRunner.profile_calls()`).
    """
    out = Path(out_dir)
    model_c = out / "tfle_model.c"
    model_h = out / "tfle_model.h"
    if not model_c.exists() or not model_h.exists():
        raise FileNotFoundError(f"{out} holds no tfle_model.c/.h; run compile_aot() first")
    pic_flags = (*cflags, "-fPIC")
    objs = kernel_objects(cc, pic_flags)
    digest = hashlib.sha256(repr((cc, cflags, profile)).encode())
    for f in [model_c, model_h, *objs]:
        digest.update(f.read_bytes())
    host = out / "host"
    host.mkdir(exist_ok=True)
    extra: list[Path] = []
    if profile:
        stub = host / "profile_stub.c"
        stub.write_text(_PROFILE_STUB)
        extra.append(stub)
    lib = host / f"libtfle_model_{digest.hexdigest()[:16]}.so"
    if not lib.exists():
        tmp = lib.with_suffix(".tmp")
        _run_cc(
            [cc, "-std=c99", "-shared", *pic_flags, "-Wall", "-Werror",
             *(["-DTFLE_PROFILE"] if profile else []),
             f"-I{out}", f"-I{kernel_include_dir()}",
             *map(str, [model_c, *extra, *objs]), "-o", str(tmp), "-lm"],
            cc, model_c, tmp,
        )  # fmt: skip
        os.replace(tmp, lib)
    meta = _read_header(model_h)
    ins, outs = meta["inputs"], meta["outputs"]
    return HostRunner(
        path=lib,
        input_bytes=meta["TFLE_INPUT_BYTES"],
        output_bytes=meta["TFLE_OUTPUT_BYTES"],
        input_dtype=ins[0].dtype if ins else np.dtype("int8"),
        output_dtype=outs[0].dtype if outs else np.dtype("int8"),
        output_shape=outs[0].shape if outs else (1, meta["TFLE_OUTPUT_BYTES"]),
        profile=profile,
        inputs=tuple(ins),
        outputs=tuple(outs),
    )


def _read_header(path: Path) -> dict:
    text = path.read_text()
    meta: dict[str, Any] = {}
    for key, value in re.findall(r"#define\s+(TFLE_\w+)\s+(\d+)\b", text):
        meta[key] = int(value)
    for side in ("input", "output"):
        found = []
        pattern = side + r" (\d+) shape \[([\d, ]*)\] (\w+) bytes (\d+) at (\d+)"
        for _, shape, dtype, nbytes, offset in re.findall(pattern, text):
            dims = tuple(int(v) for v in shape.split(",") if v.strip())
            found.append(IoTensor(dims, np.dtype(dtype), int(nbytes), int(offset)))
        meta[f"{side}s"] = found
    return meta
