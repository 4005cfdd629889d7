"""render()'s projects compiled, built and run: the TFLM model side (main.cc, op_resolver.h)
against the real TensorFlow Lite Micro headers, the ESP-IDF main component's C sources against
ESP-IDF API declarations, the AOT projects on the host and the emulated boards."""

from __future__ import annotations

import os
import re
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from projecttools import check_ok, cmake_commands, tflm_project_cache

from conftest import ROOT, run
from tflite_edge.model import known_input, load_model
from tflite_edge.project import render
from tflite_edge.reference import TFLM_OPS, Reference
from tflite_edge.resources import firmware_dir


@pytest.fixture(scope="module")
def tflm_projects(tmp_path_factory):
    """Rendered TFLM projects, one per (model path, board), rendered once for the module."""
    return tflm_project_cache(tmp_path_factory.mktemp("tflm"))


def parse_records(text: str):
    from tflite_edge.protocol import parse_line

    return [r for r in (parse_line(line) for line in text.splitlines()) if r is not None]


# --------------------------------------------------------------------------- TFLM's API
#
# The TFLM model side (main.cc and the op_resolver.h it includes, from templates/tflm/, shared
# with the Cortex-M TFLM project) compiled against the real TensorFlow Lite Micro headers: the
# pinned tree beside the project, or $TFLM_DIR. Nothing of that tree is copied; the objects go
# to tmp_path. The TFLM directories are -isystem, so that TFLM's own headers may warn (they do,
# under -Wextra) while the kit's code is held to -Wall -Wextra -Werror. The firmware that links
# TFLM's library and runs is tested in tests/runtimes/.

TFLM_DOWNLOADS = "tensorflow/lite/micro/tools/make/downloads"
TFLM_HEADER_DIRS = (
    "",
    f"{TFLM_DOWNLOADS}/flatbuffers/include",
    f"{TFLM_DOWNLOADS}/gemmlowp",
    f"{TFLM_DOWNLOADS}/ruy",
)
# What TFLM's own build and ESP-IDF (its C++ default) compile with.
TFLM_CXXFLAGS = ("-std=c++17", "-fno-exceptions", "-fno-rtti", "-DTF_LITE_STATIC_MEMORY")
STRICT = ("-Wall", "-Wextra", "-Werror")


def tflm_include_flags() -> list[str]:
    """-isystem flags for the TFLM tree's headers; skips when there is no tree at all."""
    given = os.environ.get("TFLM_DIR")
    tflm = Path(given or ROOT.parent / "shared/third_party/tflite-micro")
    if not given and not tflm.is_dir():
        pytest.skip(f"no tflite-micro tree at {tflm} (set TFLM_DIR to a checkout)")
    dirs = [tflm / d for d in TFLM_HEADER_DIRS]
    missing = [str(d) for d in dirs if not d.is_dir()]
    assert not missing, f"TFLM_DIR={tflm} is not a tflite-micro tree with its downloads: {missing}"
    return [flag for d in dirs for flag in ("-isystem", str(d))]


def esp_main_component(out: Path) -> tuple[list[str], list[str], list[str]]:
    """The ESP-IDF project's main component as main/CMakeLists.txt declares it:
    (sources, -I flags, -D flags)."""
    commands = dict(cmake_commands((out / "main" / "CMakeLists.txt").read_text()))
    reg = commands["idf_component_register"]
    keywords = [k for k, a in enumerate(reg) if re.fullmatch(r"[A-Z_]+", a)] + [len(reg)]
    section = {reg[k]: reg[k + 1 : nxt] for k, nxt in zip(keywords[:-1], keywords[1:], strict=True)}
    definitions = commands.get("target_compile_definitions", ["${COMPONENT_LIB}", "PRIVATE"])
    assert definitions[:2] == ["${COMPONENT_LIB}", "PRIVATE"], definitions
    includes = [f for d in section["INCLUDE_DIRS"] for f in ("-I", str(out / "main" / d))]
    return section["SRCS"], includes, [f"-D{d}" for d in definitions[2:]]


@pytest.mark.parametrize("board", ["esp32", "esp32s3"])
def test_esp_idf_main_compiles_against_real_tflm(tflm_projects, models_dir, tmp_path, board):
    """main.cc of the ESP-IDF TFLM project, for every reference model, compiled (-c) by the host
    g++ against the real TFLM headers with the component's own include dirs and definitions:
    the interpreter, profiler and schema calls, and op_resolver.h's Add...() methods, exist in
    TFLM with these signatures."""
    tflm = tflm_include_flags()
    models = sorted(models_dir.glob("*.tflite"))
    assert models, f"no models in {models_dir}"
    failures = []
    for model in models:
        out, _ = tflm_projects(model, board=board)
        srcs, includes, defines = esp_main_component(out)
        assert "main.cc" in srcs
        assert any(d.startswith("-DTFLE_MODEL_HEADER=") for d in defines), defines
        res = run(
            [
                "g++",
                *TFLM_CXXFLAGS,
                *STRICT,
                *defines,
                *includes,
                *tflm,
                "-c",
                str(out / "main" / "main.cc"),
                "-o",
                str(tmp_path / f"{model.stem}.o"),
            ]
        )
        if res.returncode != 0:
            failures.append(f"{model.name}:\n{res.stderr}")
    assert not failures, "\n".join(failures)


def test_every_resolver_method_the_kit_knows_is_in_tflm(tmp_path):
    """op_resolver.h calls MicroMutableOpResolver::Add<Op>() with the names of reference.TFLM_OPS:
    every one of them exists in TFLM's micro_mutable_op_resolver.h, takes no argument and
    returns a TfLiteStatus (the models' compile above sees only the ops they use)."""
    tflm = tflm_include_flags()
    calls = "\n".join(
        f"  if (r.Add{suffix}() != kTfLiteOk) return kTfLiteError;" for suffix in TFLM_OPS.values()
    )
    src = tmp_path / "all_ops.cc"
    src.write_text(
        '#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"\n'
        f"TfLiteStatus RegisterAll(tflite::MicroMutableOpResolver<{len(TFLM_OPS)}>& r) {{\n"
        f"{calls}\n  return kTfLiteOk;\n}}\n"
    )
    check_ok(run(["g++", *TFLM_CXXFLAGS, *STRICT, *tflm, "-fsyntax-only", str(src)]))


# --------------------------------------------------------------------------- ESP-IDF's API
#
# ESP-IDF cannot be installed here: the ESP board glue and the harness are compiled against
# hand-written declarations with ESP-IDF 5's signatures (ESP_STUBS), not against TFLM.


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
    """The ESP-IDF TFLM project's main component, all of its sources but main.cc (compiled
    against TFLM above), against declarations with ESP-IDF 5's signatures (syntax and types):
    the harness, the ESP board functions, the model data and the known input."""
    out, _ = tflm_projects(models_dir / "kws_ref_model.tflite", board="esp32s3")
    for rel, text in ESP_STUBS.items():
        (tmp_path / "idf" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "idf" / rel).write_text(text)
    srcs, includes, defines = esp_main_component(out)
    assert "tfle_board_esp.c" in srcs and "tfle_harness.c" in srcs
    for src in srcs:
        if src == "main.cc":
            continue
        driver = ["g++", "-std=c++17"] if src.endswith(".cc") else ["gcc", "-std=gnu11"]
        check_ok(
            run(
                [
                    *driver,
                    *STRICT,
                    "-fsyntax-only",
                    *defines,
                    *includes,
                    "-I",
                    str(tmp_path / "idf"),
                    str(out / "main" / src),
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
    check_ok(
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
    # the project's own copy of firmware/, found beside its Makefile wherever it is moved
    assert re.search(r"^TFLE_FIRMWARE \?= \$\(TFLE_PROJECT\)/tfle$", make, re.M)
    assert (out / "tfle" / "Makefile").read_bytes() == (firmware_dir() / "Makefile").read_bytes()
    check_ok(run(["make", "-s", "-C", str(out)]))
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
    check_ok(run(["make", "-s", "-C", str(out)]))
    header = check_ok(run(["arm-none-eabi-readelf", "-h", str(out / "build" / "firmware.elf")]))
    assert "ARM" in header.stdout
