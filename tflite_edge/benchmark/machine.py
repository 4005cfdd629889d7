"""The machine and tool versions a bench run used (for the header of BENCHMARKS.md)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any


def _first_line(cmd: list[str]) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (proc.stdout or proc.stderr).strip()
    return text.splitlines()[0] if text else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """The machine and tool versions a run used (for the report's header)."""
    from importlib import metadata

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    from .. import __version__

    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "tflite_edge": __version__,
        "qemu": _first_line(["qemu-system-arm", "--version"]),
        "arm_gcc": _first_line(["arm-none-eabi-gcc", "--version"]),
        "gcc": _first_line(["gcc", "--version"]),
        "valgrind": _first_line(["valgrind", "--version"]),
        "tensorflow": version("tensorflow-cpu") or version("tensorflow"),
        "tflite_micro": version("tflite-micro") or version("tflite_micro"),
    }
