"""render()'s projects built and run: the TFLM harness against a stand-in TFLM, the ESP-IDF
main against the IDF API, the AOT projects on the host and the emulated boards."""

from __future__ import annotations

import os
import re
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from projecttools import check_ok, cmake_commands, declared_arena, tflm_project_cache

import tflite_edge
from conftest import run
from tflite_edge.model import known_input, load_model
from tflite_edge.project import render
from tflite_edge.reference import TFLM_OPS, Reference


@pytest.fixture(scope="module")
def tflm_projects(tmp_path_factory):
    """Rendered TFLM projects, one per (model path, board), rendered once for the module."""
    return tflm_project_cache(tmp_path_factory.mktemp("tflm"))


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
    check_ok(run(["make", "-C", str(out), f"TFLM_DIR={tflm}", "RUNS=3", "PROFILE=1"]))
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
    """The ESP-IDF TFLM project against declarations with ESP-IDF 5's signatures (syntax and
    types): the TFLM model side (main.cc), the harness and the ESP board functions."""
    out, _ = tflm_projects(models_dir / "kws_ref_model.tflite", board="esp32s3")
    tflm = stub_tflm_checkout(tmp_path / "tflm", models_dir / "kws_ref_model.tflite", ())
    for rel, text in ESP_STUBS.items():
        (tmp_path / "idf" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "idf" / rel).write_text(text)
    main = cmake_commands((out / "main" / "CMakeLists.txt").read_text())
    defines = [f"-D{d}" for d in main[1][1][2:]]
    includes = ["-I", str(out / "main"), "-I", str(tflm), "-I", str(tmp_path / "idf")]
    for src, driver in (
        ("main.cc", ["g++", "-std=c++17"]),
        ("tfle_harness.c", ["gcc", "-std=gnu11"]),
        ("tfle_board_esp.c", ["gcc", "-std=gnu11"]),
    ):
        check_ok(
            run(
                [
                    *driver,
                    "-Wall",
                    "-Wextra",
                    "-Werror",
                    "-fsyntax-only",
                    *defines,
                    *includes,
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
    firmware = re.search(r"^TFLE_FIRMWARE \?= (\S+)$", make, re.M).group(1)
    assert Path(firmware).is_absolute() and (Path(firmware) / "Makefile").is_file()
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
