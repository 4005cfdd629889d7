"""render(): C arrays, TFLM and ESP-IDF projects, AOT projects.

Expected values come from the model file itself (its bytes, its operators through the model
reader and `inspect`), from the TFLM interpreter (the arena), and from compilers (gcc,
arm-none-eabi-gcc) that must accept what we generate.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from projecttools import check_ok, cmake_commands, declared_arena, tflm_project_cache

import tflite_edge
from conftest import ROOT, run
from tflite_edge import BoardError, OutputExistsError, TFLiteEdgeError, UnsupportedOpError
from tflite_edge.boards import boards_of, get_board
from tflite_edge.model import c_identifier, known_input, load_model
from tflite_edge.project import MANIFEST, render
from tflite_edge.reference import Reference
from tflite_edge.runtimes import runtime_names

HOSTILE = 'a"; system("x"); //'

# C compilers for the C array: (driver, objcopy, source suffix, extra flags).
ARRAY_TOOLCHAINS = {
    "gcc-c": ("gcc", "objcopy", "c", ["-std=c99"]),
    "gcc-c11": ("gcc", "objcopy", "c", ["-std=c11"]),
    "gcc-cc": ("g++", "objcopy", "cc", ["-std=c++11"]),
    "arm-c": ("arm-none-eabi-gcc", "arm-none-eabi-objcopy", "c", ["-mcpu=cortex-m4", "-mthumb"]),
    "arm-cc": ("arm-none-eabi-g++", "arm-none-eabi-objcopy", "cc", ["-mcpu=cortex-m4", "-mthumb"]),
}


def compile_array(src: Path, toolchain: str, workdir: Path) -> bytes:
    """Compile a rendered model_data source, read the array's section back as raw bytes."""
    cc, objcopy, _, flags = ARRAY_TOOLCHAINS[toolchain]
    obj = workdir / f"{src.stem}-{toolchain}.o"
    # -fdata-sections: the array gets a section of its own, named after its symbol.
    check_ok(
        run(
            [
                cc,
                *flags,
                "-Wall",
                "-Wextra",
                "-Werror",
                "-fdata-sections",
                "-c",
                str(src),
                "-o",
                str(obj),
            ]
        )
    )
    symbol = next(m for m in re.findall(r"const unsigned char (\w+)\[\]", src.read_text()))
    section = f".rodata.{symbol}"
    headers = check_ok(run([objcopy.replace("objcopy", "objdump"), "-h", str(obj)])).stdout
    row = next(line for line in headers.splitlines() if f" {section} " in line)
    assert row.split()[-1] == "2**4", f"{section} is not 16-byte aligned: {row}"
    out = workdir / f"{src.stem}-{toolchain}.bin"
    check_ok(run([objcopy, "-O", "binary", "-j", section, str(obj), str(out)]))
    return out.read_bytes()


def _render(model, out: Path, **kw) -> tflite_edge.project.RenderResult:
    return render(model, out_dir=out, **kw)


# --------------------------------------------------------------------------- C array


@pytest.mark.parametrize("toolchain", list(ARRAY_TOOLCHAINS))
def test_c_array_bytes_equal_the_tflite_file(reference_model, toolchain, tmp_path):
    runtime = "tflm" if ARRAY_TOOLCHAINS[toolchain][2] == "cc" else "aot"
    res = _render(reference_model, tmp_path / "arr", c_array_only=True, runtime=runtime)
    assert res.files == sorted(
        ["model_data.h", f"model_data.{ARRAY_TOOLCHAINS[toolchain][2]}", MANIFEST]
    )
    src = tmp_path / "arr" / f"model_data.{ARRAY_TOOLCHAINS[toolchain][2]}"
    assert compile_array(src, toolchain, tmp_path) == reference_model.read_bytes()


def test_c_array_of_a_converted_model(digits_int8, tmp_path):
    res = _render(digits_int8.tflite, tmp_path / "arr", c_array_only=True, name="digits_int8")
    src = tmp_path / "arr" / "model_data.c"
    for toolchain in ("gcc-c", "arm-c"):
        assert compile_array(src, toolchain, tmp_path) == digits_int8.tflite
    assert "g_digits_int8_model" in src.read_text()
    assert res.model_sha256 in src.read_text()


def test_c_array_header_names_source_sha256_and_version(reference_model, tmp_path):
    import hashlib

    _render(reference_model, tmp_path / "arr", c_array_only=True)
    sha = hashlib.sha256(reference_model.read_bytes()).hexdigest()
    for name in ("model_data.h", "model_data.c"):
        first = (tmp_path / "arr" / name).read_text().splitlines()[0]
        assert sha in first and f"tflite-edge {tflite_edge.__version__}" in first


def test_c_array_length_constant_matches_file(tmp_path, models_dir):
    model = models_dir / "hello_world_int8.tflite"
    _render(model, tmp_path / "arr", c_array_only=True)
    main = tmp_path / "main.c"
    main.write_text(
        '#include <stdio.h>\n#include "model_data.h"\n'
        "int main(void) { unsigned s = 0; for (unsigned i = 0; i < g_hello_world_int8_model_len;"
        ' ++i) s = s * 31u + g_hello_world_int8_model[i]; printf("%u %u\\n", '
        "g_hello_world_int8_model_len, s); return 0; }\n"
    )
    exe = tmp_path / "sum"
    check_ok(
        run(
            [
                "gcc",
                "-Wall",
                "-Werror",
                "-I",
                str(tmp_path / "arr"),
                str(main),
                str(tmp_path / "arr" / "model_data.c"),
                "-o",
                str(exe),
            ]
        )
    )
    n, s = map(int, check_ok(run([str(exe)])).stdout.split())
    data = model.read_bytes()
    expect = 0
    for b in data:
        expect = (expect * 31 + b) & 0xFFFFFFFF
    assert (n, s) == (len(data), expect)


def test_hostile_model_name_is_sanitized_and_compiles(tmp_path, models_dir):
    model = models_dir / "hello_world_int8.tflite"
    res = _render(model, tmp_path / "arr", c_array_only=True, name=HOSTILE)
    ident = c_identifier(HOSTILE)
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", ident)
    for f in res.files:
        text = (tmp_path / "arr" / f).read_text()
        assert "system(" not in text and '"; ' not in text, f
    src = tmp_path / "arr" / "model_data.c"
    assert f"g_{ident}_model[]" in src.read_text()
    assert compile_array(src, "gcc-c", tmp_path) == model.read_bytes()
    # Whole projects too: the name reaches comments and the ESP-IDF project() call.
    for runtime in runtime_names():
        res = _render(model, tmp_path / runtime, board="esp32", runtime=runtime, name=HOSTILE)
        for f in res.files:
            text = (tmp_path / runtime / f).read_text()
            assert "system(" not in text, f
        cmake = (tmp_path / runtime / "CMakeLists.txt").read_text()
        assert "project(tfle_" + ident + ")" in cmake


def test_comment_breaking_name_cannot_escape(tmp_path, models_dir):
    model = models_dir / "hello_world_int8.tflite"
    name = "x */ int evil; /*\nint evil2; //"
    res = _render(model, tmp_path / "p", runtime="tflm", name=name)
    for f in res.files:
        text = (tmp_path / "p" / f).read_text()
        assert "evil;" not in text and "evil2;" not in text, f
    src = tmp_path / "p" / "model_data.cc"
    assert compile_array(src, "gcc-cc", tmp_path) == model.read_bytes()


# --------------------------------------------------------------------------- TFLM project


@pytest.fixture(scope="module")
def tflm_projects(tmp_path_factory):
    """Rendered TFLM projects, one per (model path, board), rendered once for the module."""
    return tflm_project_cache(tmp_path_factory.mktemp("tflm"))


def parse_resolver(text: str) -> tuple[int, list[str]]:
    n = re.findall(r"MicroMutableOpResolver<(\d+)>", text)
    assert len(n) == 1, text
    return int(n[0]), re.findall(r"resolver\.(Add\w+)\(\)", text)


def op_from_method(method: str) -> str:
    """AddDepthwiseConv2D -> DEPTHWISE_CONV_2D, written without the renderer's table."""
    name = method.removeprefix("Add")
    return re.sub(r"(?<=[a-z])(?=[A-Z0-9])", "_", name).upper()


def check_resolver(project: Path, model: Path | bytes) -> None:
    n, methods = parse_resolver((project / "op_resolver.h").read_text())
    report = tflite_edge.inspect(model)
    assert n == len(report.ops) == len(set(report.ops))
    assert [op_from_method(m) for m in methods] == report.ops
    assert report.ops == load_model(model).ops


def test_resolver_lists_exactly_the_models_ops(reference_model, tflm_projects):
    out, res = tflm_projects(reference_model)
    check_resolver(out, reference_model)
    assert res.ops == tflite_edge.inspect(reference_model).ops


def test_resolver_of_a_converted_model(digits_int8, tflm_projects):
    out, _ = tflm_projects(digits_int8.tflite, name="digits_int8")
    check_resolver(out, digits_int8.tflite)


def test_arena_within_measured_and_25_percent(reference_model, tflm_projects):
    out, res = tflm_projects(reference_model)
    measured = Reference(reference_model).arena().total
    arena = declared_arena(out)
    assert measured <= arena <= 1.25 * measured
    assert arena % 16 == 0 or measured % 16 != 0
    assert res.arena_bytes == arena and res.tflm_arena.total == measured
    # The comment states the measured value and the margin.
    comment = (out / "model_settings.h").read_text()
    assert f"measured {measured} + margin {arena - measured} = {arena}" in comment


def test_arena_of_a_converted_model(digits_int8, tflm_projects):
    out, _ = tflm_projects(digits_int8.tflite, name="digits_int8")
    measured = Reference(digits_int8.tflite).arena().total
    assert measured <= declared_arena(out) <= 1.25 * measured


def test_tflm_project_settings_follow_the_model(reference_model, tflm_projects):
    out, _ = tflm_projects(reference_model)
    m = load_model(reference_model)
    text = (out / "model_settings.h").read_text()
    defines = dict(re.findall(r"#define (TFLE_\w+) (\S+)", text))
    assert int(defines["TFLE_INPUT_BYTES"]) == m.input_tensors[0].nbytes
    assert int(defines["TFLE_OUTPUT_BYTES"]) == m.output_tensors[0].nbytes
    assert int(defines["TFLE_NUM_LAYERS"]) == len(m.operators)
    assert defines["TFLE_MODEL_SHA8"] == f'"{m.sha256[:8]}"'
    # The known input is the one the host computes the expected CRC from.
    values = re.findall(r"-?\d+", (out / "tfle_input.c").read_text().split("= {", 1)[1])
    expect = np.frombuffer(known_input(m).tobytes(), np.int8)
    assert np.array_equal(np.array(values, dtype=np.int64), expect.astype(np.int64))


def test_unsupported_op_for_tflm_is_named(tmp_path, monkeypatch, models_dir):
    from tflite_edge import reference

    monkeypatch.delitem(reference.TFLM_OPS, "SOFTMAX")
    with pytest.raises(UnsupportedOpError, match="SOFTMAX") as info:
        render(models_dir / "kws_ref_model.tflite", runtime="tflm", out_dir=tmp_path / "p")
    assert info.value.op == "SOFTMAX"
    assert not (tmp_path / "p").exists()
    assert list(tmp_path.iterdir()) == []


def test_makefile_without_tflm_dir_says_what_to_set(tflm_projects, models_dir):
    out, _ = tflm_projects(models_dir / "hello_world_int8.tflite")
    res = run(["make", "-C", str(out)], env={"PATH": "/usr/bin:/bin"})
    assert res.returncode != 0
    assert "TFLM_DIR" in res.stderr and "tflite-micro" in res.stderr
    res = run(["make", "-C", str(out), f"TFLM_DIR={out}"], env={"PATH": "/usr/bin:/bin"})
    assert res.returncode != 0
    assert "is not a tflite-micro tree" in res.stderr


# --------------------------------------------------------------------------- ESP-IDF project


def kconfig(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value.strip('"')
    return out


@pytest.mark.parametrize("board", list(boards_of("esp-idf")))
def test_esp_idf_project_is_what_idf_expects(board, reference_model, tflm_projects):
    check_esp_idf_project(board, reference_model, tflm_projects)


def test_esp_idf_project_of_a_converted_model(digits_int8, tflm_projects):
    check_esp_idf_project("esp32s3", digits_int8.tflite, tflm_projects, name="digits_int8")


def check_esp_idf_project(board, model, tflm_projects, name=None):
    out, res = tflm_projects(model, board=board, name=name)
    assert res.runtime == "tflm" and res.board == board

    top = cmake_commands((out / "CMakeLists.txt").read_text())
    names = [c for c, _ in top]
    assert names == ["cmake_minimum_required", "include", "project"]
    assert top[0][1][0] == "VERSION" and tuple(map(int, top[0][1][1].split("."))) >= (3, 16)
    assert top[1][1] == ["$ENV{IDF_PATH}/tools/cmake/project.cmake"]
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", top[2][1][0])

    main = cmake_commands((out / "main" / "CMakeLists.txt").read_text())
    assert [c for c, _ in main] == ["idf_component_register", "target_compile_definitions"]
    args = main[0][1]
    srcs = args[args.index("SRCS") + 1 : args.index("INCLUDE_DIRS")]
    assert sorted(srcs) == [
        "main.cc",
        "model_data.cc",
        "tfle_board_esp.c",
        "tfle_crc32.c",
        "tfle_harness.c",
        "tfle_input.c",
    ]
    for src in srcs:
        assert (out / "main" / src).is_file()
    assert args[args.index("INCLUDE_DIRS") + 1] == "."
    # The harness reads TFLM's model API header and yields to the idle task between runs.
    # ... and names its kernel set in hello (esp-tflite-micro: ESP-NN's).
    assert main[1][1][2:] == [
        'TFLE_MODEL_HEADER="model_settings.h"',
        f'TFLE_KERNELS_NAME="{get_board(board).tflm_kernels}"',
        "TFLE_BOARD_YIELD=1",
    ]

    manifest = yaml.safe_load((out / "main" / "idf_component.yml").read_text())
    deps = manifest["dependencies"]
    assert "espressif/esp-tflite-micro" in deps
    assert re.fullmatch(r"[\^~]?\d+\.\d+\.\d+", deps["espressif/esp-tflite-micro"])
    assert deps["idf"].startswith(">=5")

    cfg = kconfig((out / "sdkconfig.defaults").read_text())
    assert cfg["CONFIG_IDF_TARGET"] == board
    assert cfg["CONFIG_COMPILER_OPTIMIZATION_PERF"] == "y"
    assert cfg["CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_240"] == "y"
    assert int(cfg["CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ"]) == 240
    assert int(cfg["CONFIG_ESP_MAIN_TASK_STACK_SIZE"]) >= 8192
    assert cfg["CONFIG_ESP_CONSOLE_UART_DEFAULT"] == "y"

    board_c = (out / "main" / "tfle_board_esp.c").read_text()
    for call in (
        "esp_cpu_get_cycle_count()",
        "uart_read_bytes(",
        "vTaskDelay(1)",
        "void app_main(void)",
    ):
        assert call in board_c
    check_resolver(out / "main", model)
    measured = Reference(model).arena().total
    assert measured <= declared_arena(out / "main") <= 1.25 * measured


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize(
    "kw",
    [
        {"c_array_only": True},
        {"runtime": "tflm"},
        {"runtime": "tflm", "board": "esp32s3"},
        {"runtime": "aot"},
        {"runtime": "aot", "board": "esp32"},
    ],
    ids=["c_array", "tflm", "esp_idf", "aot", "esp_idf_aot"],
)
def test_rendering_is_deterministic(kw, tmp_path, models_dir):
    model = models_dir / "micro_speech_quantized.tflite"
    a = _render(model, tmp_path / "a", **kw)
    b = _render(model, tmp_path / "b", **kw)
    assert a.files == b.files
    for f in a.files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


@pytest.mark.parametrize("runtime", runtime_names())
def test_rendered_files_get_the_umask_modes_not_temp_file_modes(runtime, tmp_path, models_dir):
    # staging goes through mkdtemp/mkstemp (0700/0600); the result must read like make's output
    old = os.umask(0o022)
    try:
        out = tmp_path / "p"
        result = _render(models_dir / "hello_world_int8.tflite", out, runtime=runtime)
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o755
    for f in result.files:
        assert (out / f).stat().st_mode & 0o777 == 0o644, f


# --------------------------------------------------------------------------- output directory


def test_existing_dir_with_other_files_is_refused(tmp_path, models_dir):
    out = tmp_path / "p"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="notes.txt") as info:
        render(models_dir / "hello_world_int8.tflite", out_dir=out, c_array_only=True)
    assert info.value.path == str(out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]  # no temp dir left behind


def test_force_writes_ours_and_keeps_theirs(tmp_path, models_dir):
    out = tmp_path / "p"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "model_data.c").write_text("stale")
    res = render(models_dir / "hello_world_int8.tflite", out_dir=out, c_array_only=True, force=True)
    assert (out / "notes.txt").read_text() == "mine"
    assert "g_hello_world_int8_model" in (out / "model_data.c").read_text()
    assert set(res.files) <= {p.name for p in out.iterdir()}


def test_rendered_dir_is_replaced(tmp_path, models_dir):
    out = tmp_path / "p"
    render(models_dir / "kws_ref_model.tflite", out_dir=out, runtime="tflm")
    (out / "build").mkdir()
    (out / "build" / "main.o").write_bytes(b"\0")
    res = render(models_dir / "hello_world_int8.tflite", out_dir=out, c_array_only=True)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == res.files
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["files"] == [f for f in res.files if f != MANIFEST]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]


def test_a_file_as_out_dir_is_refused(tmp_path, models_dir):
    out = tmp_path / "file"
    out.write_text("x")
    with pytest.raises(OutputExistsError, match="not a directory"):
        render(models_dir / "hello_world_int8.tflite", out_dir=out, c_array_only=True)


def test_unknown_board_and_runtime(tmp_path, models_dir):
    model = models_dir / "hello_world_int8.tflite"
    with pytest.raises(BoardError, match="qemu-m4"):
        render(model, board="arduino-uno", out_dir=tmp_path / "p")
    with pytest.raises(TFLiteEdgeError, match="aot, tflm"):
        render(model, runtime="tvm", out_dir=tmp_path / "p")
    assert list(tmp_path.iterdir()) == []


def test_failure_leaves_nothing_behind(tmp_path):
    with pytest.raises(tflite_edge.ModelError):
        render(b"not a model at all", out_dir=tmp_path / "a" / "b", c_array_only=True)
    assert list(tmp_path.iterdir()) == []


def corrupt_model(path: Path) -> bytes:
    """A flatbuffer that parses but whose first operator reads a tensor that does not exist."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    data = path.read_bytes()
    mt = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    op = mt.subgraphs[0].operators[0]
    op.inputs = np.array([999, *op.inputs[1:]], dtype=np.int32)
    builder = flatbuffers.Builder(0)
    builder.Finish(mt.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.parametrize("runtime", runtime_names())
def test_inconsistent_model_is_refused_before_tflm_sees_it(runtime, tmp_path, models_dir):
    bad = corrupt_model(models_dir / "hello_world_int8.tflite")
    with pytest.raises(tflite_edge.ModelError, match="tensor 999"):
        render(bad, runtime=runtime, out_dir=tmp_path / "p")
    assert list(tmp_path.iterdir()) == []


def test_failure_while_writing_leaves_nothing_behind(tmp_path, monkeypatch, models_dir):
    import tflite_edge.compiler

    def refuse(*args, **kw):
        raise UnsupportedOpError("no kernel for FULLY_CONNECTED here", op="FULLY_CONNECTED")

    monkeypatch.setattr(tflite_edge.compiler, "compile_aot", refuse)
    with pytest.raises(UnsupportedOpError):
        render(models_dir / "hello_world_int8.tflite", out_dir=tmp_path / "a" / "b")
    assert list(tmp_path.iterdir()) == []
    # A directory rendered before stays as it was.
    out = tmp_path / "p"
    first = render(models_dir / "hello_world_int8.tflite", out_dir=out, runtime="tflm")
    before = {f: (out / f).read_bytes() for f in first.files}
    with pytest.raises(UnsupportedOpError):
        render(models_dir / "kws_ref_model.tflite", out_dir=out)
    assert {f: (out / f).read_bytes() for f in first.files} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]


# --------------------------------------------------------------------------- CLI


def cli(*args: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "tflite_edge", *args], cwd=ROOT)


def test_cli_render_prints_where_arena_and_ops(tmp_path, models_dir):
    model = models_dir / "kws_ref_model.tflite"
    res = cli(
        "render", str(model), "--board", "qemu-m4", "--runtime", "tflm", "-o", str(tmp_path / "p")
    )
    assert res.returncode == 0, res.stderr
    measured = Reference(model).arena().total
    assert str(tmp_path / "p") in res.stdout
    assert "op_resolver.h" in res.stdout
    assert re.search(rf"arena: \d+ B = measured {measured} B", res.stdout)
    for op in load_model(model).ops:
        assert op in res.stdout


def test_cli_c_array_only(tmp_path, models_dir):
    model = models_dir / "hello_world_int8.tflite"
    res = cli("render", str(model), "--c-array-only", "-o", str(tmp_path / "arr"))
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (tmp_path / "arr").iterdir()) == [
        "model_data.c",
        "model_data.h",
        MANIFEST,
    ]


def test_cli_json(tmp_path, models_dir):
    res = cli(
        "render",
        str(models_dir / "hello_world_int8.tflite"),
        "--runtime",
        "tflm",
        "-o",
        str(tmp_path / "p"),
        "--json",
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["runtime"] == "tflm" and doc["ops"] == ["FULLY_CONNECTED"]
    assert doc["arena_bytes"] >= doc["tflm_arena"]["total"]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--board", "nope"], "unknown board 'nope'"),
        (["--runtime", "nope"], "invalid choice"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(args, needle, tmp_path, models_dir):
    res = cli(
        "render", str(models_dir / "hello_world_int8.tflite"), *args, "-o", str(tmp_path / "p")
    )
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and needle in res.stderr


def test_cli_existing_dir_is_one_line_exit_2(tmp_path, models_dir):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "x.txt").write_text("x")
    res = cli("render", str(models_dir / "hello_world_int8.tflite"), "-o", str(tmp_path / "p"))
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "--force" in res.stderr
