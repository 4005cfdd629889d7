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
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml

import tflite_edge
from conftest import ROOT, run
from tflite_edge import BoardError, OutputExistsError, TFLiteEdgeError, UnsupportedOpError
from tflite_edge.model import c_identifier, known_input, load_model
from tflite_edge.project import MANIFEST, render
from tflite_edge.reference import TFLM_OPS, Reference

HOSTILE = 'a"; system("x"); //'

# C compilers for the C array: (driver, objcopy, source suffix, extra flags).
ARRAY_TOOLCHAINS = {
    "gcc-c": ("gcc", "objcopy", "c", ["-std=c99"]),
    "gcc-c11": ("gcc", "objcopy", "c", ["-std=c11"]),
    "gcc-cc": ("g++", "objcopy", "cc", ["-std=c++11"]),
    "arm-c": ("arm-none-eabi-gcc", "arm-none-eabi-objcopy", "c", ["-mcpu=cortex-m4", "-mthumb"]),
    "arm-cc": ("arm-none-eabi-g++", "arm-none-eabi-objcopy", "cc", ["-mcpu=cortex-m4", "-mthumb"]),
}


def _check(res: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert res.returncode == 0, f"{' '.join(map(str, res.args))}\n{res.stdout}\n{res.stderr}"
    return res


def compile_array(src: Path, toolchain: str, workdir: Path) -> bytes:
    """Compile a rendered model_data source, read the array's section back as raw bytes."""
    cc, objcopy, _, flags = ARRAY_TOOLCHAINS[toolchain]
    obj = workdir / f"{src.stem}-{toolchain}.o"
    # -fdata-sections: the array gets a section of its own, named after its symbol.
    _check(
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
    headers = _check(run([objcopy.replace("objcopy", "objdump"), "-h", str(obj)])).stdout
    row = next(line for line in headers.splitlines() if f" {section} " in line)
    assert row.split()[-1] == "2**4", f"{section} is not 16-byte aligned: {row}"
    out = workdir / f"{src.stem}-{toolchain}.bin"
    _check(run([objcopy, "-O", "binary", "-j", section, str(obj), str(out)]))
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
    _check(
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
    n, s = map(int, _check(run([str(exe)])).stdout.split())
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
    for runtime in ("tflm", "aot"):
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
    cache: dict[tuple[str, str], tuple[Path, object]] = {}
    root = tmp_path_factory.mktemp("tflm")

    def get(model: Path | bytes, board: str = "qemu-m4", name: str | None = None):
        key = (str(model) if name is None else name, board)
        if key not in cache:
            out = root / f"{len(cache)}-{board}"
            cache[key] = (out, render(model, out_dir=out, board=board, runtime="tflm", name=name))
        return cache[key]

    return get


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


def declared_arena(project: Path) -> int:
    text = (project / "model_settings.h").read_text()
    return int(re.search(r"#define TFLE_ARENA_BYTES (\d+)", text).group(1))


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
    assert "not a tflite-micro checkout" in res.stderr


# --------------------------------------------------------------------------- ESP-IDF project


def cmake_commands(text: str) -> list[tuple[str, list[str]]]:
    """A small CMake reader: command(arg arg "quoted arg") with comments removed."""
    text = re.sub(r"#[^\n]*", "", text)
    commands = []
    for name, args in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(([^()]*)\)", text):
        tokens = re.findall(r'"((?:[^"\\]|\\.)*)"|(\S+)', args)
        values = [re.sub(r"\\(.)", r"\1", q) if q else w for q, w in tokens]
        commands.append((name.lower(), values))
    return commands


def kconfig(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value.strip('"')
    return out


@pytest.mark.parametrize("board", ["esp32", "esp32s3"])
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
    assert [c for c, _ in main] == ["idf_component_register"]
    args = main[0][1]
    srcs = args[args.index("SRCS") + 1 : args.index("INCLUDE_DIRS")]
    assert sorted(srcs) == ["main.cc", "model_data.cc", "tfle_input.c"]
    for src in srcs:
        assert (out / "main" / src).is_file()
    assert args[args.index("INCLUDE_DIRS") + 1] == "."

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

    main_cc = (out / "main" / "main.cc").read_text()
    for call in (
        "esp_timer_get_time()",
        "esp_cpu_get_cycle_count()",
        "uart_read_bytes(",
        'extern "C" void app_main(void)',
    ):
        assert call in main_cc
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


@pytest.mark.parametrize("runtime", ["tflm", "aot"])
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


@pytest.mark.parametrize("runtime", ["tflm", "aot"])
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


# --------------------------------------------------------------------------- the TFLM harness
#
# TFLM's sources are not on this machine (and are never copied here), so the harness is built
# with the rendered Makefile against a stand-in "checkout": headers that declare the parts of
# TFLM's API the harness uses, with TFLM's signatures, and a library whose interpreter runs a
# simple stand-in function instead of the model. What this proves is everything around TFLM:
# the Makefile, the board support, the op resolver's capacity, the known input, the serial
# protocol (parsed with tflite_edge.protocol), CRC32s, `in` commands and their errors.

STUB_HEADERS = {
    "tensorflow/lite/c/common.h": """
#ifndef STUB_TFLITE_C_COMMON_H
#define STUB_TFLITE_C_COMMON_H
#include <stddef.h>
#include <stdint.h>
typedef enum TfLiteStatus { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;
typedef union TfLitePtrUnion {
  int32_t* i32; uint8_t* uint8; int8_t* int8; char* raw; const char* raw_const; void* data;
} TfLitePtrUnion;
typedef struct TfLiteTensor { TfLitePtrUnion data; void* dims; size_t bytes; } TfLiteTensor;
#endif
""",
    "tensorflow/lite/schema/schema_generated.h": """
#ifndef STUB_SCHEMA_GENERATED_H
#define STUB_SCHEMA_GENERATED_H
#include <stdint.h>
namespace tflite {
class Model { public: uint32_t version() const; };
const Model* GetModel(const void* buf);
}  // namespace tflite
#endif
""",
    "tensorflow/lite/micro/micro_profiler_interface.h": """
#ifndef STUB_MICRO_PROFILER_INTERFACE_H
#define STUB_MICRO_PROFILER_INTERFACE_H
#include <cstdint>
namespace tflite {
namespace micro {
class MicroProfilerInterface {
 public:
  virtual ~MicroProfilerInterface() {}
  virtual uint32_t BeginEvent(const char* tag) = 0;
  virtual void EndEvent(uint32_t event_handle) = 0;
};
}  // namespace micro
using micro::MicroProfilerInterface;
}  // namespace tflite
#endif
""",
    "tensorflow/lite/micro/micro_op_resolver.h": """
#ifndef STUB_MICRO_OP_RESOLVER_H
#define STUB_MICRO_OP_RESOLVER_H
namespace tflite {
class MicroOpResolver {
 public:
  virtual ~MicroOpResolver() {}
  virtual bool StubHas(const char* op) const = 0;
};
}  // namespace tflite
#endif
""",
    "tensorflow/lite/micro/micro_interpreter.h": """
#ifndef STUB_MICRO_INTERPRETER_H
#define STUB_MICRO_INTERPRETER_H
#include <cstddef>
#include <cstdint>
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "tensorflow/lite/micro/micro_op_resolver.h"
#include "tensorflow/lite/micro/micro_profiler_interface.h"
#define TFLITE_SCHEMA_VERSION (3)
namespace tflite {
class MicroResourceVariables;
class MicroInterpreter {
 public:
  MicroInterpreter(const Model* model, const MicroOpResolver& op_resolver,
                   uint8_t* tensor_arena, size_t tensor_arena_size,
                   MicroResourceVariables* resource_variables = nullptr,
                   MicroProfilerInterface* profiler = nullptr,
                   bool preserve_all_tensors = false);
  TfLiteStatus AllocateTensors();
  TfLiteStatus Invoke();
  TfLiteTensor* input(size_t index);
  TfLiteTensor* output(size_t index);
  size_t arena_used_bytes() const;
 private:
  const MicroOpResolver& resolver_;
  uint8_t* arena_;
  size_t arena_size_;
  MicroProfilerInterface* profiler_;
  TfLiteTensor input_ = {};
  TfLiteTensor output_ = {};
  bool allocated_ = false;
};
}  // namespace tflite
#endif
""",
    "tensorflow/lite/micro/cortex_m_generic/debug_log_callback.h": """
#ifndef STUB_DEBUG_LOG_CALLBACK_H
#define STUB_DEBUG_LOG_CALLBACK_H
#ifdef __cplusplus
extern "C" {
#endif
typedef void (*DebugLogCallback)(const char* s);
void RegisterDebugLogCallback(DebugLogCallback callback);
#ifdef __cplusplus
}
#endif
#endif
""",
}

STUB_LIBRARY = """
#include <string.h>
#include "stub_model.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/cortex_m_generic/debug_log_callback.h"

static DebugLogCallback g_log = nullptr;
extern "C" void RegisterDebugLogCallback(DebugLogCallback callback) { g_log = callback; }
static void log_line(const char* s) { if (g_log != nullptr) g_log(s); }

static uint32_t le32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint32_t le16(const uint8_t* p) { return p[0] | p[1] << 8; }

namespace tflite {
// The schema's Model table, field 0 (version), read from the flatbuffer in flash.
uint32_t Model::version() const {
  const uint8_t* buf = reinterpret_cast<const uint8_t*>(this);
  const uint8_t* table = buf + le32(buf);
  const uint8_t* vtable = table - (int32_t)le32(table);
  const uint32_t offset = le16(vtable) > 4 ? le16(vtable + 4) : 0;
  return offset != 0 ? le32(table + offset) : 0;
}
const Model* GetModel(const void* buf) { return reinterpret_cast<const Model*>(buf); }

MicroInterpreter::MicroInterpreter(const Model*, const MicroOpResolver& op_resolver,
                                   uint8_t* tensor_arena, size_t tensor_arena_size,
                                   MicroResourceVariables*, MicroProfilerInterface* profiler,
                                   bool)
    : resolver_(op_resolver), arena_(tensor_arena), arena_size_(tensor_arena_size),
      profiler_(profiler) {}

TfLiteStatus MicroInterpreter::AllocateTensors() {
  if (reinterpret_cast<uintptr_t>(arena_) % 16 != 0) return kTfLiteError;
  for (int k = 0; k < STUB_NUM_OPS; ++k) {
    if (!resolver_.StubHas(kStubOps[k])) {
      log_line("stub: Didn't find op for builtin opcode\\r\\n");
      return kTfLiteError;
    }
  }
  const size_t in_slot = (STUB_IN_BYTES + 15) / 16 * 16;
  if (arena_size_ < in_slot + STUB_OUT_BYTES) return kTfLiteError;
  input_.data.raw = reinterpret_cast<char*>(arena_);
  input_.bytes = STUB_IN_BYTES;
  output_.data.raw = reinterpret_cast<char*>(arena_) + in_slot;
  output_.bytes = STUB_OUT_BYTES;
  allocated_ = true;
  return kTfLiteOk;
}

// FNV-1a over the input bytes, spread over the output: the test computes the same in Python.
TfLiteStatus MicroInterpreter::Invoke() {
  if (!allocated_) return kTfLiteError;
  uint32_t acc = 2166136261u;
  for (int k = 0; k < STUB_NUM_OPS; ++k) {
    const uint32_t handle = profiler_ != nullptr ? profiler_->BeginEvent(kStubOps[k]) : 0;
    if (k == 0) {
      for (size_t b = 0; b < STUB_IN_BYTES; ++b) {
        acc ^= static_cast<uint8_t>(input_.data.int8[b]);
        acc *= 16777619u;
      }
    }
    if (profiler_ != nullptr) profiler_->EndEvent(handle);
  }
  for (size_t j = 0; j < STUB_OUT_BYTES; ++j) {
    output_.data.uint8[j] = static_cast<uint8_t>((acc >> (8 * (j % 4))) ^ j);
  }
  return kTfLiteOk;
}

TfLiteTensor* MicroInterpreter::input(size_t index) { return index == 0 ? &input_ : nullptr; }
TfLiteTensor* MicroInterpreter::output(size_t index) { return index == 0 ? &output_ : nullptr; }
size_t MicroInterpreter::arena_used_bytes() const { return arena_size_; }
}  // namespace tflite
"""

STUB_MAKEFILE = """
# Stand-in for TFLM's Makefile: records how it was called, builds the stand-in library.
ifeq ($(TARGET),cortex_m_generic)
PREFIX := $(TARGET_TOOLCHAIN_ROOT)arm-none-eabi-
FLAGS := {cflags}
endif
microlite:
\tprintf '%s\\n' "TARGET=$(TARGET)" "TARGET_ARCH=$(TARGET_ARCH)" "GENDIR=$(GENDIR)" \\
\t  "OPTIMIZED_KERNEL_DIR=$(OPTIMIZED_KERNEL_DIR)" "BUILD_TYPE=$(BUILD_TYPE)" \\
\t  "MAKEFLAGS=$(MAKEFLAGS)" > called.txt
\tmkdir -p $(GENDIR)lib
\t$(PREFIX)g++ $(FLAGS) -std=c++17 -O1 -Wall -Werror -fno-exceptions -fno-rtti \\
\t  -DTF_LITE_STATIC_MEMORY -I. -c stub_tflm.cc -o $(GENDIR)stub_tflm.o
\t$(PREFIX)ar rcs $(GENDIR)lib/libtensorflow-microlite.a $(GENDIR)stub_tflm.o
"""


def stub_resolver_header() -> str:
    adds = "\n".join(
        f'  TfLiteStatus {m}() {{ return Add("{op}"); }}'
        for op, m in ((op, "Add" + s) for op, s in TFLM_OPS.items())
    )
    return f"""
#ifndef STUB_MICRO_MUTABLE_OP_RESOLVER_H
#define STUB_MICRO_MUTABLE_OP_RESOLVER_H
#include <string.h>
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/micro/micro_op_resolver.h"
namespace tflite {{
// Like TFLM's: a fixed capacity, a second registration of an op is an error.
template <unsigned int tOpCount>
class MicroMutableOpResolver : public MicroOpResolver {{
 public:
{adds}
  bool StubHas(const char* op) const override {{
    for (unsigned int k = 0; k < count_; ++k) if (strcmp(ops_[k], op) == 0) return true;
    return false;
  }}
 private:
  TfLiteStatus Add(const char* op) {{
    if (StubHas(op) || count_ >= tOpCount) return kTfLiteError;
    ops_[count_++] = op;
    return kTfLiteOk;
  }}
  const char* ops_[tOpCount] = {{}};
  unsigned int count_ = 0;
}};
}}  // namespace tflite
#endif
"""


def stub_tflm_checkout(root: Path, model: Path, cflags: tuple[str, ...]) -> Path:
    """A directory that looks like a tflite-micro checkout to the rendered Makefile."""
    m = load_model(model)
    for rel, text in STUB_HEADERS.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "tensorflow/lite/micro/micro_mutable_op_resolver.h").write_text(stub_resolver_header())
    ops = ", ".join(f'"{op.op}"' for op in m.operators)
    (root / "stub_model.h").write_text(
        f"#define STUB_IN_BYTES {m.input_tensors[0].nbytes}u\n"
        f"#define STUB_OUT_BYTES {m.output_tensors[0].nbytes}u\n"
        f"#define STUB_NUM_OPS {len(m.operators)}\n"
        f"static const char* const kStubOps[] = {{{ops}}};\n"
    )
    (root / "stub_tflm.cc").write_text(STUB_LIBRARY)
    mk = root / "tensorflow/lite/micro/tools/make/Makefile"
    mk.parent.mkdir(parents=True, exist_ok=True)
    mk.write_text(STUB_MAKEFILE.replace("{cflags}", " ".join(cflags)))
    return root


def stub_output(x: bytes, out_bytes: int) -> bytes:
    acc = 2166136261
    for b in x:
        acc = ((acc ^ b) * 16777619) & 0xFFFFFFFF
    return bytes(((acc >> (8 * (j % 4))) ^ j) & 0xFF for j in range(out_bytes))


def parse_records(text: str):
    from tflite_edge.protocol import parse_line

    return [r for r in (parse_line(line) for line in text.splitlines()) if r is not None]


def build_tflm_project(tmp_path: Path, model: Path, board: str, runs: int) -> Path:
    out = tmp_path / "p"
    render(model, out_dir=out, board=board, runtime="tflm", runs=runs)
    tflm = stub_tflm_checkout(tmp_path / "tflm", model, get_board_cflags(board))
    _check(run(["make", "-C", str(out), f"TFLM_DIR={tflm}", "RUNS=3", "PROFILE=1"]))
    called = dict(line.split("=", 1) for line in (tflm / "called.txt").read_text().splitlines())
    assert called["GENDIR"] == f"{out / 'build' / 'tflm'}/"
    assert "RUNS" not in called["MAKEFLAGS"]  # TFLM's make does not see ours
    return out


def get_board_cflags(board: str) -> tuple[str, ...]:
    return tflite_edge.get_board(board).cflags


def check_boot_records(records, model: Path, runs: int, board: str, arena: int) -> None:
    m = load_model(model)
    kinds = [r.kind for r in records]
    hello = records[kinds.index("hello")]
    assert hello["board"] == board and hello["runtime"] == "tflm"
    assert hello["model"] == m.sha256[:8]
    assert hello["flash"] == len(m.data) and hello["ram"] == arena
    assert hello["in_bytes"] == m.input_tensors[0].nbytes
    assert hello["out_bytes"] == m.output_tensors[0].nbytes
    expect = zlib.crc32(stub_output(known_input(m).tobytes(), m.output_tensors[0].nbytes))
    outs = [r for r in records if r.kind == "out"]
    assert [r["i"] for r in outs] == list(range(runs))
    assert {r["crc32"] for r in outs} == {f"{expect:08x}"}
    assert [r["i"] for r in records if r.kind == "run"] == list(range(runs))
    layers = [r for r in records if r.kind == "layer"]
    assert [(r["i"], r["idx"], r["op"]) for r in layers] == [
        (i, k, op.op) for i in range(runs) for k, op in enumerate(m.operators)
    ]
    assert records[kinds.index("done")]["runs"] == runs
    assert kinds.index("done") < kinds.index("ready")


def test_tflm_harness_speaks_the_protocol_on_host(tmp_path, models_dir):
    model = models_dir / "kws_ref_model.tflite"
    m = load_model(model)
    out = build_tflm_project(tmp_path, model, "host", runs=3)
    rng = np.random.default_rng(0)
    xs = [
        rng.integers(-128, 128, m.input_tensors[0].nbytes, dtype=np.int8).tobytes()
        for _ in range(3)
    ]
    n = len(xs[0])
    commands = [
        f"TFLE 1 in n={n} hex={xs[0].hex()}",
        "boot rom chatter, not for the board",
        f"TFLE 1 in n={n + 1} hex={xs[0].hex()}",  # bad_length
        f"TFLE 1 in n={n} hex={'zz' * n}",  # bad_hex
        f"TFLE 1 in n={n} hex={xs[0].hex()[:-2]}",  # bad_hex: one byte short
        "TFLE 1 in n=1 hex=" + "00" * (4 * n),  # line_too_long
        f"garbage before TFLE 1 in hex={xs[1].hex().upper()} n={n}\r",
        f"TFLE 1 in n={n} hex={xs[2].hex()} extra=field",
    ]
    res = run([str(out / "build" / "firmware")], input="\n".join(commands) + "\n", timeout=60)
    assert res.returncode == 0, res.stderr
    records = parse_records(res.stdout)
    arena = declared_arena(out)
    check_boot_records(records, model, 3, "host", arena)
    answers = [r for r in records if r.kind in ("result", "error")]
    assert [r.kind for r in answers] == [
        "result",
        "error",
        "error",
        "error",
        "error",
        "result",
        "result",
    ]
    assert [r["msg"] for r in answers if r.kind == "error"] == [
        "bad_length",
        "bad_hex",
        "bad_hex",
        "line_too_long",
    ]
    results = [r for r in answers if r.kind == "result"]
    assert [r["i"] for r in results] == [0, 1, 2]
    for r, x in zip(results, xs, strict=True):
        assert r.payload == stub_output(x, m.output_tensors[0].nbytes)
        assert r["crc32"] == f"{zlib.crc32(r.payload):08x}"


def test_tflm_harness_builds_and_runs_on_qemu_m4(tmp_path, models_dir):
    import os
    import signal

    model = models_dir / "micro_speech_quantized.tflite"
    m = load_model(model)
    out = build_tflm_project(tmp_path, model, "qemu-m4", runs=3)
    called = (tmp_path / "tflm" / "called.txt").read_text()
    assert "TARGET=cortex_m_generic" in called and "TARGET_ARCH=cortex-m4+fp" in called
    assert "OPTIMIZED_KERNEL_DIR=cmsis_nn" in called
    x = np.random.default_rng(1).integers(-128, 128, m.input_tensors[0].nbytes, dtype=np.int8)
    x = x.tobytes()
    proc = subprocess.Popen(
        ["make", "-s", "-C", str(out), f"TFLM_DIR={tmp_path / 'tflm'}", "run"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        proc.stdin.write(f"TFLE 1 in n={len(x)} hex={x.hex()}\n".encode())
        proc.stdin.flush()
        lines = []
        for raw in proc.stdout:
            lines.append(raw.decode(errors="replace"))
            if lines[-1].startswith("TFLE 1 result") or lines[-1].startswith("TFLE 1 error"):
                break
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    records = parse_records("".join(lines))
    arena = declared_arena(out)
    check_boot_records(records, model, 3, "qemu-m4", arena)
    result = records[-1]
    assert result.kind == "result", lines[-3:]
    assert result.payload == stub_output(x, m.output_tensors[0].nbytes)
    runs = [r for r in records if r.kind == "run"]
    assert len({r["cycles"] for r in runs}) == 1  # -icount: identical runs, identical counts


ESP_STUBS = {
    "driver/uart.h": """
#include <stdint.h>
#include "freertos/FreeRTOS.h"
typedef int uart_port_t;
typedef int esp_err_t;
typedef void* QueueHandle_t;
esp_err_t uart_driver_install(uart_port_t uart_num, int rx_buffer_size, int tx_buffer_size,
                              int queue_size, QueueHandle_t* uart_queue, int intr_alloc_flags);
int uart_read_bytes(uart_port_t uart_num, void* buf, uint32_t length, TickType_t ticks_to_wait);
""",
    "esp_cpu.h": """
#include <stdint.h>
typedef uint32_t esp_cpu_cycle_count_t;
static inline esp_cpu_cycle_count_t esp_cpu_get_cycle_count(void) { return 0; }
""",
    "esp_timer.h": "#include <stdint.h>\nint64_t esp_timer_get_time(void);\n",
    "esp_rom_sys.h": "#include <stdint.h>\nuint32_t esp_rom_get_cpu_ticks_per_us(void);\n",
    "freertos/FreeRTOS.h": """
#pragma once
#include <stdint.h>
typedef uint32_t TickType_t;
#define portMAX_DELAY ((TickType_t)0xffffffffUL)
""",
    "freertos/task.h": """
#include "freertos/FreeRTOS.h"
void vTaskDelay(const TickType_t xTicksToDelay);
""",
    "sdkconfig.h": "#define CONFIG_ESP_CONSOLE_UART_NUM 0\n",
}


def test_esp_idf_main_compiles_against_the_idf_api(tflm_projects, models_dir, tmp_path):
    """The ESP-IDF harness against declarations with ESP-IDF 5's signatures (syntax and types)."""
    out, _ = tflm_projects(models_dir / "kws_ref_model.tflite", board="esp32s3")
    tflm = stub_tflm_checkout(tmp_path / "tflm", models_dir / "kws_ref_model.tflite", ())
    for rel, text in ESP_STUBS.items():
        (tmp_path / "idf" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "idf" / rel).write_text(text)
    _check(
        run(
            [
                "g++",
                "-std=c++17",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-fsyntax-only",
                "-I",
                str(out / "main"),
                "-I",
                str(tflm),
                "-I",
                str(tmp_path / "idf"),
                str(out / "main" / "main.cc"),
            ]
        )
    )


ESP_STUB_IMPL = """
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "driver/uart.h"
#include "esp_rom_sys.h"
#include "freertos/task.h"
esp_err_t uart_driver_install(uart_port_t uart_num, int rx_buffer_size, int tx_buffer_size,
                              int queue_size, QueueHandle_t* uart_queue, int intr_alloc_flags) {
  return 0;
}
int uart_read_bytes(uart_port_t uart_num, void* buf, uint32_t length, TickType_t ticks_to_wait) {
  size_t n = fread(buf, 1, length, stdin);
  if (n == 0) exit(0);
  return (int)n;
}
uint32_t esp_rom_get_cpu_ticks_per_us(void) { return 240; }
void vTaskDelay(const TickType_t ticks) { exit(0); }
"""


def test_esp_idf_aot_project_runs_the_model_bit_exact(tmp_path, models_dir):
    """The ESP-IDF AOT project, compiled for this machine with the IDF API stood in for: the
    harness's own main() runs over the ESP board glue (app_main is what ESP-IDF would call)."""
    model = models_dir / "kws_ref_model.tflite"
    m = load_model(model)
    out = tmp_path / "esp"
    res = render(model, out_dir=out, board="esp32", runtime="aot", runs=2)
    assert res.ram_bytes is not None and res.weight_bytes is not None
    main = cmake_commands((out / "main" / "CMakeLists.txt").read_text())
    assert [c for c, _ in main] == ["idf_component_register", "target_compile_definitions"]
    args = main[0][1]
    srcs = args[args.index("SRCS") + 1 : args.index("INCLUDE_DIRS")]
    assert sorted(srcs) == sorted(p.name for p in (out / "main").glob("*.c"))
    defines = main[1][1][2:]
    assert 'TFLE_BOARD_NAME="esp32"' in defines and "TFLE_RUNS=2" in defines
    deps = yaml.safe_load((out / "main" / "idf_component.yml").read_text())["dependencies"]
    assert "espressif/esp-tflite-micro" not in deps  # no TFLM in an AOT image

    for rel, text in ESP_STUBS.items():
        (tmp_path / "idf" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "idf" / rel).write_text(text)
    (tmp_path / "idf" / "stub.c").write_text(ESP_STUB_IMPL)
    exe = tmp_path / "fw"
    _check(
        run(
            [
                "gcc",
                "-std=gnu11",
                "-O1",
                "-Wall",
                "-Werror",
                "-Wno-unused-parameter",
                *[f"-D{d}" for d in defines],
                "-I",
                str(out / "main"),
                "-I",
                str(tmp_path / "idf"),
                *[str(out / "main" / s) for s in srcs],
                str(tmp_path / "idf" / "stub.c"),
                "-o",
                str(exe),
                "-lm",
            ]
        )
    )
    x = np.random.default_rng(2).integers(-128, 128, m.input_tensors[0].nbytes, dtype=np.int8)
    got = run([str(exe)], input=f"TFLE 1 in n={x.size} hex={x.tobytes().hex()}\n", timeout=60)
    records = parse_records(got.stdout)
    ref = Reference(model)
    hello = next(r for r in records if r.kind == "hello")
    assert hello["board"] == "esp32" and hello["runtime"] == "aot"
    expect = zlib.crc32(ref.run_one(known_input(m)).tobytes())
    assert {r["crc32"] for r in records if r.kind == "out"} == {f"{expect:08x}"}
    result = next(r for r in records if r.kind == "result")
    assert result.payload == ref.run_one(x).tobytes()


# --------------------------------------------------------------------------- AOT project


def test_aot_project_builds_and_matches_tflm_on_host(tmp_path, models_dir):
    model = models_dir / "micro_speech_quantized.tflite"
    m = load_model(model)
    out = tmp_path / "p"
    res = render(model, out_dir=out, board="host", runs=2)
    assert {"Makefile", "tfle_model.c", "tfle_model.h", "tfle_input.c", "tfle_input.h"} <= set(
        res.files
    )
    assert res.ram_bytes <= Reference(model).arena().head
    assert res.code_bytes is not None and res.code_bytes > 0
    assert res.weight_bytes is not None and res.weight_bytes > 0
    make = (out / "Makefile").read_text()
    assert re.search(r"^include \$\(TFLE_FIRMWARE\)/Makefile$", make, re.M)
    firmware = re.search(r"^TFLE_FIRMWARE \?= (\S+)$", make, re.M).group(1)
    assert Path(firmware).is_absolute() and (Path(firmware) / "Makefile").is_file()
    _check(run(["make", "-s", "-C", str(out)]))
    x = np.random.default_rng(3).integers(-128, 128, m.input_tensors[0].nbytes, dtype=np.int8)
    got = run(
        [str(out / "build" / "firmware")],
        input=f"TFLE 1 in n={x.size} hex={x.tobytes().hex()}\n",
        timeout=60,
    )
    records = parse_records(got.stdout)
    ref = Reference(model)
    expect = zlib.crc32(ref.run_one(known_input(m)).tobytes())
    assert [r["crc32"] for r in records if r.kind == "out"] == [f"{expect:08x}"] * 2
    hello = next(r for r in records if r.kind == "hello")
    assert hello["ram"] == res.ram_bytes and hello["model"] == m.sha256[:8]
    assert next(r for r in records if r.kind == "result").payload == ref.run_one(x).tobytes()


def test_aot_project_builds_for_qemu_m4(tmp_path, models_dir):
    out = tmp_path / "p"
    render(models_dir / "kws_ref_model.tflite", out_dir=out, board="qemu-m4")
    _check(run(["make", "-s", "-C", str(out)]))
    header = _check(run(["arm-none-eabi-readelf", "-h", str(out / "build" / "firmware.elf")]))
    assert "ARM" in header.stdout
