"""build(): the firmware Makefile, sizes read from the ELF, the board budget check."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, run
from tflite_edge.boards import get_board
from tflite_edge.builder import BuildResult, build, elf_sections
from tflite_edge.errors import BoardError, BudgetError, TFLiteEdgeError, ToolchainError
from tflite_edge.project import render

CLI = [str(ROOT / ".venv" / "bin" / "tflite-edge")]
FLASH_SECTIONS = (".vectors", ".text", ".rodata", ".ARM.extab", ".ARM.exidx", ".init_array")


def _size_a(image: Path, tool: str = "arm-none-eabi-size") -> dict[str, int]:
    """Section sizes as binutils' size -A reports them (the independent reference)."""
    out = subprocess.run([tool, "-A", str(image)], capture_output=True, text=True, check=True)
    sizes = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


@pytest.fixture(scope="module")
def kws_m4(tmp_path_factory, models_dir):
    """The keyword-spotting model rendered and built for qemu-m4."""
    project = tmp_path_factory.mktemp("kws-m4") / "project"
    rendered = render(
        models_dir / "kws_ref_model.tflite", board="qemu-m4", runtime="aot", out_dir=project, runs=2
    )
    return rendered, build(project)


@pytest.fixture(scope="module")
def ad01_m3(tmp_path_factory, models_dir):
    project = tmp_path_factory.mktemp("ad01-m3") / "project"
    rendered = render(
        models_dir / "ad01_int8.tflite", board="qemu-m3", runtime="aot", out_dir=project, runs=2
    )
    return rendered, project


def test_build_writes_the_image_for_the_rendered_board(kws_m4):
    rendered, built = kws_m4
    assert isinstance(built, BuildResult)
    assert built.board == "qemu-m4"  # taken from the project's manifest
    assert built.image == rendered.out_dir / "build" / "firmware.elf"
    assert built.image.read_bytes()[:4] == b"\x7fELF"
    assert built.flash_budget == get_board("qemu-m4").flash_bytes
    assert built.ram_budget == get_board("qemu-m4").ram_bytes
    # The model's own share, from the generated header, is what compile_aot reported.
    assert built.weight_bytes == rendered.weight_bytes
    assert built.arena_bytes == rendered.ram_bytes


def test_image_usage_agrees_with_binutils_size(kws_m4):
    _, built = kws_m4
    sizes = _size_a(built.image)
    for name, n in built.sections.items():
        assert sizes[name] == n, name
    flash = sum(sizes.get(s, 0) for s in FLASH_SECTIONS) + sizes[".data"]
    ram = sizes[".data"] + sizes[".bss"] + sizes[".stack"]
    # The linker-script extents add only alignment padding between sections.
    assert flash <= built.flash_bytes < flash + 64
    assert ram <= built.ram_bytes < ram + 64
    # .rodata holds the weights; .bss the arena.
    assert sizes[".rodata"] >= built.weight_bytes
    assert sizes[".bss"] >= built.arena_bytes
    assert all(row["fits"] for row in built.budget_table())
    assert "flash" in built.summary() and f"{built.flash_bytes:,}" in built.summary()


def test_elf_sections_reads_the_section_table(kws_m4):
    _, built = kws_m4
    secs = {s["name"]: s for s in elf_sections(built.image)}
    assert secs[".bss"]["nobits"] and secs[".bss"]["write"] and secs[".bss"]["alloc"]
    assert not secs[".text"]["write"] and not secs[".text"]["nobits"]
    assert secs[".data"]["addr"] == get_board_ram_origin(built.image)


def get_board_ram_origin(image: Path) -> int:
    from tflite_edge.builder import elf_symbols

    return elf_symbols(image, names=("TFLE_RAM_ORIGIN",))["TFLE_RAM_ORIGIN"]


def test_model_over_the_flash_budget_gets_a_table_not_a_linker_error(ad01_m3):
    rendered, project = ad01_m3
    budget = get_board("qemu-m3")
    assert rendered.weight_bytes > budget.flash_bytes  # 270 KB of weights, 256 KiB of flash
    with pytest.raises(BudgetError) as err:
        build(project, "qemu-m3")
    table = {row["memory"]: row for row in err.value.table}
    assert table["flash"]["available"] == budget.flash_bytes
    assert table["flash"]["needed"] > rendered.weight_bytes
    assert not table["flash"]["fits"]
    assert table["RAM"]["available"] == budget.ram_bytes and table["RAM"]["fits"]
    msg = str(err.value)
    assert "ad01_int8 does not fit qemu-m3" in msg
    assert f"{table['flash']['needed']:,}" in msg and f"{budget.flash_bytes:,}" in msg
    assert f"{table['flash']['needed'] - budget.flash_bytes:,}" in msg  # over by
    assert f"model weights {rendered.weight_bytes:,} B" in msg
    assert err.value.board == "qemu-m3"
    assert not (project / "build" / "firmware.elf").exists()  # nothing to flash by mistake


def test_plain_make_of_that_model_is_the_linker_error_the_builder_replaces(ad01_m3):
    _, project = ad01_m3
    proc = run(["make", "-C", str(project), "BOARD=qemu-m3"])
    assert proc.returncode != 0
    assert "will not fit in region `FLASH'" in proc.stderr


def test_build_cli_prints_the_table_and_exits_2(ad01_m3):
    _, project = ad01_m3
    proc = run(CLI + ["build", str(project)])
    assert proc.returncode == 2
    assert proc.stderr.startswith("tflite-edge build: error: model ad01_int8 does not fit")
    assert "needed" in proc.stderr and "available" in proc.stderr


def test_build_cli_json(kws_m4):
    rendered, built = kws_m4
    proc = run(CLI + ["build", str(rendered.out_dir), "--json"])
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["flash_bytes"] == built.flash_bytes and doc["ram_bytes"] == built.ram_bytes
    assert doc["board"] == "qemu-m4"


def test_host_build_has_no_budget(tmp_path, models_dir):
    project = tmp_path / "project"
    render(
        models_dir / "hello_world_int8.tflite", board="host", runtime="aot", out_dir=project, runs=1
    )
    built = build(project)
    assert built.image == project / "build" / "firmware"
    assert os.access(built.image, os.X_OK)
    assert [row["available"] for row in built.budget_table()] == [None, None]
    assert built.flash_bytes > 0 and built.ram_bytes > 0
    assert "no budget" in built.summary()


def test_a_folder_without_a_makefile_is_refused(tmp_path):
    with pytest.raises(TFLiteEdgeError, match="not a firmware project.*tflite-edge render"):
        build(tmp_path, "qemu-m4")


def test_an_unknown_board_is_refused(kws_m4):
    rendered, _ = kws_m4
    with pytest.raises(BoardError, match="unknown board 'm99'"):
        build(rendered.out_dir, "m99")


def test_a_project_without_manifest_needs_the_board(tmp_path):
    (tmp_path / "Makefile").write_text("all:\n")
    with pytest.raises(TFLiteEdgeError, match="pass the board"):
        build(tmp_path)


def test_a_compile_error_shows_the_compiler_message(tmp_path):
    from tflite_edge.resources import firmware_dir

    (tmp_path / "broken.c").write_text("int main(void) { return undeclared_thing; }\n")
    (tmp_path / "Makefile").write_text(
        f"TFLE_FIRMWARE := {firmware_dir()}\nAPP_SRCS := broken.c\nRUNTIME := none\n"
        "include $(TFLE_FIRMWARE)/Makefile\n"
    )
    with pytest.raises(ToolchainError) as err:
        build(tmp_path, "qemu-m4")
    assert "undeclared_thing" in str(err.value)
    assert "V=1" in str(err.value)


def test_a_makefile_error_is_reported_alone(tmp_path):
    from tflite_edge.resources import firmware_dir

    (tmp_path / "Makefile").write_text(
        f"TFLE_FIRMWARE := {firmware_dir()}\nAPP_SRCS :=\ninclude $(TFLE_FIRMWARE)/Makefile\n"
    )
    with pytest.raises(ToolchainError, match=r"stopped: APP_SRCS is empty"):
        build(tmp_path, "qemu-m4")


def test_a_missing_compiler_names_what_to_install(tmp_path, monkeypatch, kws_m4):
    rendered, _ = kws_m4
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(shutil.which("make"), bindir / "make")
    monkeypatch.setenv("PATH", str(bindir))
    with pytest.raises(ToolchainError) as err:
        build(rendered.out_dir, "qemu-m4")
    assert err.value.tool == "arm-none-eabi-gcc"
    assert get_board("qemu-m4").install_hint in str(err.value)
