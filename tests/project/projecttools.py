"""Helpers shared by the render() tests (test_project.py, test_project_builds.py)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tflite_edge.project import render


def check_ok(res: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert res.returncode == 0, f"{' '.join(map(str, res.args))}\n{res.stdout}\n{res.stderr}"
    return res


def declared_arena(project: Path) -> int:
    text = (project / "model_settings.h").read_text()
    return int(re.search(r"#define TFLE_ARENA_BYTES (\d+)", text).group(1))


def cmake_commands(text: str) -> list[tuple[str, list[str]]]:
    """A small CMake reader: command(arg arg "quoted arg") with comments removed."""
    text = re.sub(r"#[^\n]*", "", text)
    commands = []
    for name, args in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(([^()]*)\)", text):
        tokens = re.findall(r'"((?:[^"\\]|\\.)*)"|(\S+)', args)
        values = [re.sub(r"\\(.)", r"\1", q) if q else w for q, w in tokens]
        commands.append((name.lower(), values))
    return commands


def tflm_project_cache(root: Path):
    """Rendered TFLM projects, one per (model path, board), each rendered once under root."""
    cache: dict[tuple[str, str], tuple[Path, object]] = {}

    def get(model: Path | bytes, board: str = "qemu-m4", name: str | None = None):
        key = (str(model) if name is None else name, board)
        if key not in cache:
            out = root / f"{len(cache)}-{board}"
            cache[key] = (out, render(model, out_dir=out, board=board, runtime="tflm", name=name))
        return cache[key]

    return get
