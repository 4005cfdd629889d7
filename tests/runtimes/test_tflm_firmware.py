"""The TFLM firmware for real: rendered, built against the pinned tflite-micro tree (TFLM's
library from the cache), flashed on the emulated boards and the host, read over serial, and
compared with the TFLM interpreter of the tflite-micro package.

The suite builds TFLM's library for Cortex-M4 with both kernel sets and for the host (minutes
each, once: the cache outlives the session); the other CPUs are swept by a slow test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from conftest import REFERENCE_MODELS, run
from tflite_edge.builder import build
from tflite_edge.flasher import flash
from tflite_edge.model import known_input, load_model
from tflite_edge.project import render
from tflite_edge.reference import Reference, measure_arena
from tflite_edge.runtimes.tflm_tree import LIBRARY, cache_root
from tflite_edge.validation import validate

pytestmark = pytest.mark.timeout(3600)  # a cold cache builds TFLM's library: minutes
KERNEL_SETS = ("reference", "cmsis_nn")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "tflite_edge", *args], env=env)


def cached_libraries() -> set[Path]:
    return set((cache_root() / "tflm").glob(f"*/{LIBRARY}"))


def assert_matches_interpreter(result, model_path: Path, kernels: str) -> None:
    m = load_model(model_path)
    expect = f"{zlib.crc32(Reference(m).run_one(known_input(m)).tobytes()):08x}"
    assert result.runtime == "tflm" and result.kernels == kernels
    assert result.output_crc32 == expect and result.matches_tflm is True
    assert result.session.hello["model"] == m.sha256[:8]
    # ram= is arena_used_bytes() of the real interpreter on the board: at most what the
    # project declared (the measurement plus its margin)
    declared = json.loads((result.project_dir / "tflite-edge.json").read_text())["arena_bytes"]
    assert 0 < result.ram_bytes <= declared
    cycles = [r["cycles"] for r in result.session.runs]
    assert len(set(cycles)) == 1 and cycles[0] > 0  # -icount: identical runs, identical counts


@pytest.mark.parametrize("kernels", KERNEL_SETS)
@pytest.mark.parametrize("name", REFERENCE_MODELS, ids=lambda n: n.split(".")[0])
def test_every_reference_model_on_qemu_m4(name, kernels, tflm_dir, models_dir, tmp_path):
    path = models_dir / name
    result = flash(path, board="qemu-m4", runtime="tflm", tflm_kernels=kernels, runs=2,
                   out_dir=tmp_path / "p", tflm_dir=tflm_dir)  # fmt: skip
    assert_matches_interpreter(result, path, kernels)
    layers = [r for r in result.session.layers if r["i"] == 0]
    assert [r["op"] for r in layers] == [op.op for op in load_model(path).operators]
    doc = result.to_dict()
    assert doc["tflm_kernels"] == kernels and doc["output_matches_tflm"] is True


@pytest.mark.parametrize("kernels", KERNEL_SETS)
def test_a_converted_model_on_qemu_m4(kernels, digits_int8, tflm_dir, tmp_path):
    model = tmp_path / "digits.tflite"
    model.write_bytes(digits_int8.tflite)
    result = flash(model, board="qemu-m4", runtime="tflm", tflm_kernels=kernels, runs=1,
                   out_dir=tmp_path / "p", tflm_dir=tflm_dir)  # fmt: skip
    assert_matches_interpreter(result, model, kernels)


@pytest.mark.parametrize("kernels", KERNEL_SETS)
def test_validate_tflm_is_bit_exact_on_random_inputs(kernels, tflm_dir, models_dir):
    path = models_dir / "kws_ref_model.tflite"
    m = load_model(path)
    t = m.input_tensors[0]
    x = np.random.default_rng(7).integers(-128, 128, (12, *t.shape[1:]), dtype=np.int8)
    checked = validate(path, x, board="qemu-m4", runtime="tflm", tflm_kernels=kernels,
                       tflm_dir=tflm_dir)  # fmt: skip
    assert checked.samples == 12 and checked.bit_exact == 12 and checked.max_abs_diff == 0
    assert checked.runtime == "tflm" and checked.tflm_kernels == kernels
    assert checked.to_dict()["tflm_kernels"] == kernels


def test_flash_cli_prints_the_latency_table_and_the_tflm_match(tflm_dir, models_dir):
    """The issue's done-when command, with the tree given on the command line."""
    res = cli("flash", "--board", "qemu-m4", "--runtime", "tflm", "--tflm-kernels", "cmsis_nn",
              "--model", str(models_dir / "kws_ref_model.tflite"), "--tflm-dir", str(tflm_dir))  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout
    assert "runtime tflm (cmsis_nn kernels)" in out
    assert "the board's output equals the TFLM interpreter's on the same input" in out
    assert "median" in out and "emulated instruction counts" in out, out  # the latency table


def test_host_board_builds_the_tflm_project_natively(tflm_dir, models_dir, tmp_path):
    path = models_dir / "ad01_int8.tflite"
    result = flash(path, board="host", runtime="tflm", runs=2, out_dir=tmp_path / "p",
                   tflm_dir=tflm_dir)  # fmt: skip
    assert result.build is not None  # a native build of the rendered project, not the Python board
    assert (tmp_path / "p" / "main.cc").is_file()
    assert result.kernels == "reference" and result.matches_tflm is True
    m = load_model(path)
    x = np.random.default_rng(3).integers(-128, 128, (4, *m.input_tensors[0].shape[1:]),
                                          dtype=np.int8)  # fmt: skip
    checked = validate(path, x, board="host", runtime="tflm", tflm_dir=tflm_dir)
    assert checked.bit_exact == 4


@pytest.mark.slow
@pytest.mark.parametrize("board", ["qemu-m7", "qemu-m55", "qemu-m3"])
def test_sweep_of_the_other_boards(board, tflm_dir, models_dir, tmp_path):
    """Each board's default kernel set (CMSIS-NN's DSP or Helium paths, reference on the M3)."""
    from tflite_edge.boards import get_board

    path = models_dir / "kws_ref_model.tflite"
    kernels = get_board(board).tflm_kernels
    result = flash(path, board=board, runtime="tflm", runs=1, out_dir=tmp_path / "p",
                   tflm_dir=tflm_dir)  # fmt: skip
    assert_matches_interpreter(result, path, kernels)


# --------------------------------------------------------------------------- the cache


def test_a_second_build_reuses_the_library(tflm_dir, models_dir, tmp_path):
    path = models_dir / "hello_world_int8.tflite"
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        render(path, board="qemu-m4", runtime="tflm", out_dir=out, tflm_dir=tflm_dir)
    build(first)
    libs = cached_libraries()
    stamps = {lib: lib.stat().st_mtime_ns for lib in libs}
    objects = {p: p.stat().st_mtime_ns for lib in libs for p in lib.parents[1].rglob("*.o")}
    built = build(second)
    assert cached_libraries() == libs  # no second library
    assert {lib: lib.stat().st_mtime_ns for lib in libs} == stamps
    assert {p: p.stat().st_mtime_ns for p in objects} == objects  # no TFLM object recompiled
    assert "microlite" not in built.log  # TFLM's make did not even run
    assert not (second / "build" / "tflm-cmsis_nn").exists()


def test_the_kernel_set_and_the_flags_are_part_of_the_key(tflm_dir):
    from tflite_edge.runtimes.tflm_tree import library_key

    base = ["TARGET=cortex_m_generic", "TARGET_ARCH=cortex-m4+fp"]
    keys = {
        library_key(tflm_dir, base, "arm-none-eabi-gcc"),
        library_key(tflm_dir, [*base, "OPTIMIZED_KERNEL_DIR=cmsis_nn"], "arm-none-eabi-gcc"),
        library_key(tflm_dir, [*base, "BUILD_TYPE=debug"], "arm-none-eabi-gcc"),
        library_key(tflm_dir, base, "gcc"),
    }
    assert len(keys) == 4


def test_two_kernel_sets_are_two_libraries(tflm_dir, models_dir, tmp_path):
    path = models_dir / "hello_world_int8.tflite"
    libs = []
    for kernels in KERNEL_SETS:
        out = tmp_path / kernels
        render(path, board="qemu-m4", runtime="tflm", out_dir=out, tflm_dir=tflm_dir,
               tflm_kernels=kernels)  # fmt: skip
        build(out)
        flags = (out / "build" / "ldflags.txt").read_text()
        libs.append(next(w for w in flags.split() if w.endswith("libtensorflow-microlite.a")))
    assert libs[0] != libs[1] and all(Path(p).is_file() for p in libs)


def test_concurrent_builds_of_one_key_build_once(tmp_path):
    """Two processes asking for the same library at once: one builds, the other waits for it
    and reuses it; nothing half-built is ever visible. (A tree whose Makefile counts its own
    invocations stands in for TFLM here: what is tested is the lock, not TFLM.)"""
    tree = tmp_path / "tree"
    mk = tree / "tensorflow/lite/micro/tools/make/Makefile"
    mk.parent.mkdir(parents=True)
    mk.write_text(
        "microlite:\n"
        "\techo run >> $(COUNT)\n"
        "\tsleep 2\n"
        "\tmkdir -p $(GENDIR)lib && echo lib > $(GENDIR)lib/libtensorflow-microlite.a\n"
    )
    count = tmp_path / "count"
    script = (
        "import sys; from pathlib import Path; "
        "from tflite_edge.runtimes.tflm_tree import library; "
        f"print(library(Path({str(tree)!r}), ['COUNT={count}'], 'gcc', describe='test', "
        f"python_dir=Path({str(Path(sys.executable).parent)!r})))"
    )
    env = {**os.environ, "TFLE_CACHE_DIR": str(tmp_path / "cache")}
    procs = [
        subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outs[0] == outs[1] and Path(outs[0]).read_text() == "lib\n"
    assert count.read_text() == "run\n"  # built once
    leftovers = [p.name for p in (tmp_path / "cache" / "tflm").iterdir() if ".tmp-" in p.name]
    assert leftovers == []


# --------------------------------------------------------------------------- bad input


def test_no_tree_names_both_ways_to_give_one(models_dir, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TFLM_DIR"}
    res = cli("flash", "--board", "qemu-m4", "--runtime", "tflm", "--model",
              str(models_dir / "hello_world_int8.tflite"), env=env)  # fmt: skip
    assert res.returncode == 2
    line = res.stderr.strip()
    assert len(line.splitlines()) == 1 and "--tflm-dir" in line and "TFLM_DIR" in line


def test_a_folder_that_is_not_a_tree(models_dir, tmp_path):
    res = cli("flash", "--board", "qemu-m4", "--runtime", "tflm", "--tflm-dir", str(tmp_path),
              "--model", str(models_dir / "hello_world_int8.tflite"))  # fmt: skip
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1
    assert "is not a tflite-micro tree" in res.stderr and str(tmp_path) in res.stderr


def test_a_tree_without_cmsis_nn(models_dir, tmp_path):
    tree = tmp_path / "tree"
    mk = tree / "tensorflow/lite/micro/tools/make/Makefile"
    mk.parent.mkdir(parents=True)
    mk.write_text("")
    res = cli("flash", "--board", "qemu-m4", "--runtime", "tflm", "--tflm-kernels", "cmsis_nn",
              "--tflm-dir", str(tree), "--model", str(models_dir / "hello_world_int8.tflite"))  # fmt: skip
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1
    assert "cmsis_nn" in res.stderr and "--tflm-kernels reference" in res.stderr


def test_a_python_without_numpy(tmp_path):
    from tflite_edge.errors import ToolchainError
    from tflite_edge.runtimes.tflm_tree import python_for_tflm

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    with pytest.raises(ToolchainError, match=r"numpy and Pillow.*pip install numpy Pillow"):
        python_for_tflm(str(venv / "bin" / "python"))


def test_an_unknown_kernel_set_is_refused_by_the_cli(models_dir):
    res = cli("flash", "--board", "qemu-m4", "--runtime", "tflm", "--tflm-kernels", "fast",
              "--model", str(models_dir / "hello_world_int8.tflite"))  # fmt: skip
    assert res.returncode == 2 and "--tflm-kernels" in res.stderr


# --------------------------------------------------------------------------- --runtime auto


def test_auto_is_the_default_and_picks_aot_when_it_compiles(models_dir, tmp_path):
    res = cli("render", str(models_dir / "kws_ref_model.tflite"), "--board", "qemu-m4",
              "-o", str(tmp_path / "p"), "--json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["runtime"] == "aot" and doc["runtime_reason"].startswith("auto: aot")


def test_auto_takes_tflm_for_an_op_aot_lacks(tflm_dir, tmp_path):
    import tensorflow as tf

    from opmodels import convert_keras, keras, single_layer_model
    from tflite_edge.compiler import EMITTERS

    k = keras()
    l2 = k.layers.Lambda(lambda x: tf.math.l2_normalize(x, axis=-1))
    model = single_layer_model(l2, (3, 4))
    path = tmp_path / "l2_normalize.tflite"
    path.write_bytes(convert_keras(model))
    assert "L2_NORMALIZATION" in load_model(path).ops and "L2_NORMALIZATION" not in EMITTERS
    measure_arena(load_model(path))  # TFLM runs it
    res = cli("flash", "--board", "qemu-m4", "--model", str(path), "--runs", "1",
              "--tflm-dir", str(tflm_dir), "--json")  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    doc = json.loads(res.stdout)
    assert doc["runtime"] == "tflm" and "L2_NORMALIZATION" in doc["runtime_reason"]
    assert doc["output_matches_tflm"] is True


def test_a_failed_tflm_build_shows_what_its_scripts_said(tflm_dir, tmp_path):
    """TFLM's Makefile stops with "Something went wrong" when its Python scripts fail; the
    error keeps their traceback, which names what is missing, and caches nothing."""
    from tflite_edge.errors import ToolchainError
    from tflite_edge.runtimes.tflm_tree import library, library_key

    venv = tmp_path / "venv"  # a python3 without numpy and Pillow, first on TFLM's PATH
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    args = ["BUILD_TYPE=release_with_logs", f"TFLE_TEST={tmp_path.name}"]  # a key of its own
    with pytest.raises(ToolchainError) as err:
        library(tflm_dir, args, "gcc", describe="the host", python_dir=venv / "bin")
    msg = str(err.value)
    assert "Traceback" in msg and "ModuleNotFoundError" in msg
    assert "Something went wrong" in msg and f"cd {tflm_dir}" in msg
    key = library_key(tflm_dir, args, "gcc")
    left = [p.name for p in (cache_root() / "tflm").glob(f"{key}*")]
    assert left == [f"{key}.lock"]  # no entry, no half-built folder


def test_an_arena_too_small_says_by_how_much(tflm_dir, models_dir, tmp_path):
    """TFLM's own "missing: N" reaches the error (flash() re-renders with that much more)."""
    from tflite_edge.errors import ArenaError
    from tflite_edge.flasher import boot

    path = models_dir / "kws_ref_model.tflite"
    small = measure_arena(load_model(path)).total // 2
    out = tmp_path / "p"
    render(path, board="qemu-m4", runtime="tflm", out_dir=out, runs=1, tflm_dir=tflm_dir,
           tflm_arena_bytes=small)  # fmt: skip
    declared = json.loads((out / "tflite-edge.json").read_text())["arena_bytes"]
    assert small <= declared < small + 32
    with pytest.raises(ArenaError) as err:
        boot(path, build(out), timeout=30)
    assert err.value.declared == declared and err.value.missing > 0
    assert f"arena of {declared} B, {err.value.missing} B short" in str(err.value)
