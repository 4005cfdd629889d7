"""The board registry, the board support in firmware/boards/, and `tflite-edge boards`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from fractions import Fraction

import pytest
import serial

from conftest import ROOT, run
from tflite_edge.boards import _load, boards, boards_of, family_of, get_board
from tflite_edge.boards.families.qemu import QemuLink
from tflite_edge.errors import BoardError
from tflite_edge.resources import boards_dir, firmware_dir

QEMU_BOARDS = list(boards_of("qemu"))
# Boards built by firmware/Makefile from firmware/boards/<board>/ (qemu, host).
MAKEFILE_BOARDS = [name for name, b in boards().items() if family_of(b).makefile]
CLI = [str(ROOT / ".venv" / "bin" / "tflite-edge")]


def _make_vars(board: str) -> dict[str, str]:
    """The variables firmware/boards/<board>/board.mk sets, as make itself expands them."""
    fw = firmware_dir()
    names = ["BOARD_CPU_FLAGS", "BOARD_DEFS", "QEMU_MACHINE", "TFLE_ICOUNT_SHIFT", "IMAGE"]
    script = "\n".join(
        [
            f"TFLE_FIRMWARE := {fw}",
            f"BOARD_DIR := {fw}/boards/{board}",
            "BUILD := build",
            f"include {fw}/boards/{board}/board.mk",
            "all:",
        ]
        + [f"\t@echo '{n}=$({n})'" for n in names]
    )
    out = subprocess.run(
        ["make", "-s", "-f", "-"], input=script, capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines())


def _linker_sizes(board: str) -> dict[str, int]:
    text = (firmware_dir() / "boards" / board / "linker.ld").read_text()
    sizes = {}
    for key in ("TFLE_FLASH_SIZE", "TFLE_RAM_SIZE"):
        m = re.search(rf"{key} = (\d+)([KM]);", text)
        sizes[key] = int(m.group(1)) * {"K": 1024, "M": 1024 * 1024}[m.group(2)]
    return sizes


# --------------------------------------------------------------------------- registry


def test_every_board_file_loads_with_the_issue_boards():
    assert set(boards()) == {p.stem for p in boards_dir().glob("*.toml")}
    assert set(boards()) >= {
        "qemu-m4",
        "qemu-m7",
        "qemu-m55",
        "qemu-m3",
        "host",
        "esp32",
        "esp32s3",
    }
    assert get_board("qemu-m3").flash_bytes == 256 * 1024
    assert get_board("qemu-m3").ram_bytes == 64 * 1024
    machines = {n: get_board(n).qemu_machine for n in QEMU_BOARDS}
    assert (
        machines.items()
        >= {
            "qemu-m4": "mps2-an386",
            "qemu-m7": "mps2-an500",
            "qemu-m55": "mps3-an547",
            "qemu-m3": "lm3s6965evb",
        }.items()
    )


def test_unknown_board_is_rejected_with_the_known_ones():
    with pytest.raises(BoardError) as err:
        get_board("qemu-m99")
    for name in boards():
        assert name in str(err.value)
    assert err.value.board == "qemu-m99"


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"qemu_icount_shift": 42}, "qemu_icount_shift must be an integer from 0 to 10"),
        ({"colour": "red"}, "unknown keys colour"),
        ({"clock_hz": -1}, "clock_hz must be a non-negative integer"),
    ],
)
def test_bad_board_file_is_rejected_with_the_reason(tmp_path, patch, message):
    text = (boards_dir() / "qemu-m4.toml").read_text()
    for key, value in patch.items():
        line = f"{key} = {json.dumps(value)}"
        text = (
            re.sub(rf"^{key} = .*$", line, text, flags=re.M)
            if key + " =" in text
            else text + line + "\n"
        )
    bad = tmp_path / "qemu-m4.toml"
    bad.write_text(text)
    with pytest.raises(BoardError, match=re.escape(message)):
        _load(bad)


# --------------------------------------------------------------------------- board support


@pytest.mark.parametrize("name", QEMU_BOARDS)
def test_board_support_agrees_with_the_board_file(name):
    """board.mk and linker.ld say what the TOML says: CPU flags, clock, budget, machine."""
    b = get_board(name)
    mk = _make_vars(name)
    assert mk["BOARD_CPU_FLAGS"].split() == list(b.cflags)
    assert mk["QEMU_MACHINE"] == b.qemu_machine
    assert int(mk["TFLE_ICOUNT_SHIFT"]) == b.qemu_icount_shift
    defs = dict(re.findall(r"-D(\w+)=(\d+)u", mk["BOARD_DEFS"]))
    assert int(defs["TFLE_CLOCK_HZ"]) == b.clock_hz
    # Instructions per SysTick tick: one instruction is 2^shift ns, one tick 1e9/clock_hz ns.
    per_tick = Fraction(10**9, b.clock_hz * 2**b.qemu_icount_shift)
    assert Fraction(int(defs["TFLE_TICK_NUM"]), int(defs["TFLE_TICK_DEN"])) == per_tick
    assert per_tick <= 1, "the exact inversion needs at least one tick per instruction"
    sizes = _linker_sizes(name)
    assert sizes == {"TFLE_FLASH_SIZE": b.flash_bytes, "TFLE_RAM_SIZE": b.ram_bytes}
    assert mk["IMAGE"] == "build/firmware.elf"


def test_every_board_with_a_build_has_board_support():
    for name in MAKEFILE_BOARDS:
        assert (firmware_dir() / "boards" / name / "board.mk").is_file(), name


def test_firmware_makefile_rejects_an_unknown_board_with_the_known_ones(tmp_path):
    (tmp_path / "Makefile").write_text(
        f"BOARD := qemu-m99\nTFLE_FIRMWARE := {firmware_dir()}\nAPP_SRCS := x.c\n"
        "include $(TFLE_FIRMWARE)/Makefile\n"
    )
    proc = run(["make", "-C", str(tmp_path)])
    assert proc.returncode != 0
    assert "unknown BOARD 'qemu-m99'" in proc.stderr
    for name in MAKEFILE_BOARDS:
        assert name in proc.stderr


# The cycle source: `tfle_board_cycles()` differences must be exact emulated instruction
# counts, whatever the phase of SysTick and across its 24-bit wraps. The loop below runs
# exactly 2 instructions per iteration (subs, bne), so a measurement of loop(n) must be
# 2n + c with one constant c for every n and every phase.
PROBE = r"""
#include <stdint.h>
#include "tfle_board.h"
static void put_str(const char *s) { while (*s) tfle_board_putc(*s++); }
static void put_u32(uint32_t v) {
  char b[11]; int i = 10; b[i] = 0;
  do { b[--i] = (char)('0' + v % 10u); v /= 10u; } while (v);
  put_str(b + i);
}
__attribute__((noinline)) static void loop(uint32_t n) {
  __asm volatile("1: subs %0, %0, #1\n bne 1b\n" : "+r"(n) :: "cc");
}
static void measure(uint32_t n) {
  uint32_t a = tfle_board_cycles();
  loop(n);
  uint32_t b = tfle_board_cycles();
  put_str("n="); put_u32(n); put_str(" cycles="); put_u32(b - a); put_str("\n");
}
int main(void) {
  tfle_board_init();
  for (uint32_t phase = 1; phase <= 11; ++phase) {
    loop(phase);
    for (uint32_t n = 1; n <= 25; ++n) measure(n);
  }
  for (uint32_t phase = 1; phase <= 3; ++phase) {
    loop(phase * 1234567u);
    measure(12000000u + phase);  /* 24 M instructions: several SysTick wraps */
  }
  put_str("end\n");
  for (;;) {}
}
"""


@pytest.mark.slow
@pytest.mark.parametrize("name", QEMU_BOARDS)
def test_qemu_cycles_are_exact_instruction_counts(tmp_path, name):
    from tflite_edge.builder import build

    (tmp_path / "probe.c").write_text(PROBE)
    (tmp_path / "Makefile").write_text(
        f"TFLE_FIRMWARE := {firmware_dir()}\nAPP_SRCS := probe.c\nRUNTIME := probe\n"
        "include $(TFLE_FIRMWARE)/Makefile\n"
    )
    image = build(tmp_path, name).image
    qemu = QemuLink(get_board(name), image)
    lines = []
    try:
        port = serial.serial_for_url(qemu.url, timeout=60)
        qemu.start(port)
        while True:
            line = port.readline().decode().strip()
            assert line, f"{name}: the probe went silent after {lines[-3:]}"
            if line == "end":
                break
            lines.append(line)
        port.close()
    finally:
        qemu.close()
    measured = [tuple(int(v) for v in re.findall(r"=(\d+)", line)) for line in lines]
    assert len(measured) == 11 * 25 + 3
    overheads = {cycles - 2 * n for n, cycles in measured}
    assert len(overheads) == 1, f"{name}: cycles - 2n varies: {sorted(overheads)}"
    assert 0 < overheads.pop() < 200


FAULT = r"""
#include "tfle_board.h"
int main(void) {
  tfle_board_init();
  __asm volatile("udf #0");  /* an undefined instruction: UsageFault, escalated to HardFault */
  return 0;
}
"""


@pytest.mark.parametrize("name", QEMU_BOARDS)
def test_a_crash_is_reported_on_the_console(tmp_path, name):
    from tflite_edge.builder import build
    from tflite_edge.protocol import parse_line

    (tmp_path / "fault.c").write_text(FAULT)
    (tmp_path / "Makefile").write_text(
        f"TFLE_FIRMWARE := {firmware_dir()}\nAPP_SRCS := fault.c\nRUNTIME := probe\n"
        "include $(TFLE_FIRMWARE)/Makefile\n"
    )
    qemu = QemuLink(get_board(name), build(tmp_path, name).image)
    try:
        port = serial.serial_for_url(qemu.url, timeout=30)
        qemu.start(port)
        while True:
            line = port.readline()
            assert line, f"{name}: no fault report"
            record = parse_line(line)
            if record is not None:
                break
        port.close()
    finally:
        qemu.close()
    assert (record.kind, record["msg"]) == ("error", "hard_fault")


# --------------------------------------------------------------------------- CLI


def test_boards_command_lists_every_board_with_budget_and_toolchain():
    proc = run(CLI + ["boards"])
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()[1:] if line.strip()}
    for name, b in boards().items():
        row = rows[name]
        assert b.cpu in row
        present = all(shutil.which(t) for t in [b.toolchain] + ([b.flasher] if b.flasher else []))
        assert row.rstrip().endswith("yes" if present else "no"), row
        if b.clock_hz:
            assert f"{b.clock_hz / 1e6:g} MHz" in row
    assert "256 KiB" in rows["qemu-m3"] and "64 KiB" in rows["qemu-m3"]
    assert "4 MiB" in rows["qemu-m4"]


def test_boards_json_matches_the_registry():
    proc = run(CLI + ["boards", "--json"])
    assert proc.returncode == 0, proc.stderr
    doc = {row["name"]: row for row in json.loads(proc.stdout)}
    assert set(doc) == set(boards())
    for name, b in boards().items():
        assert doc[name]["flash_bytes"] == b.flash_bytes
        assert doc[name]["ram_bytes"] == b.ram_bytes
        assert doc[name]["clock_hz"] == b.clock_hz
        assert doc[name]["toolchain_present"] == b.toolchain_present()


def test_cli_rejects_an_unknown_board_with_the_known_ones(tmp_path):
    proc = run(CLI + ["flash", "--board", "nope", "--model", str(tmp_path / "m.tflite")])
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "unknown board 'nope'" in proc.stderr
    for name in boards():
        assert name in proc.stderr


def test_boards_check_cli():
    import sys

    from conftest import run

    ok = run([sys.executable, "-m", "tflite_edge", "boards", "--check", "host"])
    assert ok.returncode == 0 and "gcc present" in ok.stdout
    bad = run([sys.executable, "-m", "tflite_edge", "boards", "--check", "nope"])
    assert bad.returncode == 2 and "known boards" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
