"""`pip install .` (not editable) ships templates/, firmware/ and the board files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run


def _tracked(folder: str) -> set[str]:
    out = subprocess.run(
        ["git", "ls-files", folder], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return {str(Path(p).relative_to(folder)) for p in out.stdout.split()}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    if not (ROOT / ".git").exists():
        pytest.fail("the packaging test needs a git checkout to know which files ship")
    target = tmp_path_factory.mktemp("site")
    res = run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(ROOT),
        ],
        cwd=target,
    )
    assert res.returncode == 0, res.stderr
    return target


def _installed_python(installed: Path, code: str) -> str:
    res = run(
        [sys.executable, "-c", code],
        cwd=installed.parent,
        env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"},
    )
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


@pytest.mark.parametrize(
    "folder,func", [("templates", "templates_dir"), ("firmware", "firmware_dir")]
)
def test_trees_ship_with_the_package(installed, folder, func):
    where = _installed_python(installed, f"import tflite_edge.resources as r; print(r.{func}())")
    assert Path(where).is_relative_to(installed), where
    shipped = {
        str(p.relative_to(where))
        for p in Path(where).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert _tracked(folder) <= shipped


def test_boards_load_from_the_installed_package(installed):
    names = _installed_python(
        installed, "from tflite_edge.boards import boards; print(' '.join(boards()))"
    ).split()
    expected = {Path(p).stem for p in _tracked("tflite_edge/boards") if p.endswith(".toml")}
    assert set(names) == expected
