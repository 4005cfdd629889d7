"""The TensorFlow Lite Micro source tree a TFLM firmware is built against, and TFLM's library,
built once per (tree, target CPU, kernel set, flags) into a user cache folder.

The tree is the user's (`--tflm-dir DIR`, else `TFLM_DIR` in the environment) and is only
read: TFLM's own Makefile writes into a GENDIR of ours. A library is built into a temporary
folder beside its cache entry under an exclusive lock and renamed into place when complete,
so two processes building the same key at once build it once and nothing half-built is ever
linked. The cache folder is `$TFLE_CACHE_DIR`, else `$XDG_CACHE_HOME/tflite-edge`, else
`~/.cache/tflite-edge`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import ToolchainError

TFLM_MAKEFILE = "tensorflow/lite/micro/tools/make/Makefile"
DOWNLOADS = "tensorflow/lite/micro/tools/make/downloads"
LIBRARY = "lib/libtensorflow-microlite.a"
# TFLM's optimized kernel folders this kit builds (OPTIMIZED_KERNEL_DIR), beside "reference".
KERNEL_SETS = ("reference", "cmsis_nn")
# What TFLM's Makefile needs in the tree to build each kernel set (downloads/<folder>).
_KERNEL_DOWNLOADS = {"cmsis_nn": ("cmsis_nn", "cmsis")}
# TFLM's Makefile runs python3 scripts (specialize_files.py, generate_cc_arrays.py) while it
# reads its own rules, even for `microlite`; those import these modules.
_TFLM_PYTHON_MODULES = ("numpy", "PIL")
_CLONE = "https://github.com/tensorflow/tflite-micro"


def find_tree(given: str | Path | None = None, *, what: str = "--runtime tflm") -> Path:
    """The TFLM tree to build against: `given` (--tflm-dir), else $TFLM_DIR; ToolchainError
    naming both when neither is set, or when the folder is not a tflite-micro tree."""
    source, text = (
        ("--tflm-dir", str(given)) if given else ("TFLM_DIR", os.environ.get("TFLM_DIR", ""))
    )
    text = text.strip()
    if not text:
        raise ToolchainError(
            f"{what} builds TensorFlow Lite Micro from its sources, and neither --tflm-dir nor "
            f"TFLM_DIR names a tflite-micro tree; pass --tflm-dir /path/to/tflite-micro (a clone "
            f"of {_CLONE}) or export TFLM_DIR=/path/to/tflite-micro, or use --runtime aot",
            tool="make",
        )
    path = Path(text).expanduser()
    if not (path / TFLM_MAKEFILE).is_file():
        raise ToolchainError(
            f"{source}={text} is not a tflite-micro tree (it has no {TFLM_MAKEFILE}); point "
            f"{source} at the root of a clone of {_CLONE}",
            tool="make",
        )
    return path.resolve()


def check_kernels(tree: Path, kernels: str) -> None:
    """ToolchainError when `tree` lacks what TFLM's Makefile needs for `kernels`."""
    if kernels not in KERNEL_SETS:
        raise ToolchainError(
            f"unknown TFLM kernel set {kernels!r}; known: {', '.join(KERNEL_SETS)}", tool="make"
        )
    for folder in _KERNEL_DOWNLOADS.get(kernels, ()):
        if not (tree / DOWNLOADS / folder).is_dir():
            raise ToolchainError(
                f"--tflm-kernels {kernels} needs {DOWNLOADS}/{folder} in the TFLM tree {tree}, "
                f"and it is not there; fetch it (online: `make -f {TFLM_MAKEFILE} "
                f"OPTIMIZED_KERNEL_DIR={kernels} TARGET=cortex_m_generic "
                f"TARGET_ARCH=cortex-m4 third_party_downloads` in the tree) or use "
                "--tflm-kernels reference",
                tool="make",
            )


def python_for_tflm(executable: str | None = None) -> Path:
    """A folder holding a `python3` with numpy and Pillow, for the front of TFLM's PATH:
    this interpreter (or `executable`), through a script in the cache folder; ToolchainError
    saying what to install otherwise."""
    exe = executable or sys.executable
    probe = "import importlib.util as u, sys; " + "; ".join(
        f"sys.exit({k + 10}) if u.find_spec({m!r}) is None else None"
        for k, m in enumerate(_TFLM_PYTHON_MODULES)
    )
    code = subprocess.run([exe, "-c", probe], capture_output=True, check=False).returncode
    if code != 0:
        missing = {10: "numpy", 11: "Pillow"}.get(code, "numpy and Pillow")
        raise ToolchainError(
            f"TFLM's Makefile runs python3 scripts that need numpy and Pillow, and {exe} has no "
            f"{missing}; install it there ({exe} -m pip install numpy Pillow)",
            tool="python3",
        )
    # A script, not a symlink: a venv's python finds its packages only when run by its path.
    shim = cache_root() / "bin" / hashlib.sha256(exe.encode()).hexdigest()[:12]
    script = shim / "python3"
    text = f'#!/bin/sh\nexec {shlex.quote(exe)} "$@"\n'
    if script.is_symlink() or not script.is_file() or script.read_bytes() != text.encode():
        shim.mkdir(parents=True, exist_ok=True)
        tmp = shim / f".python3.{os.getpid()}"
        tmp.write_text(text)
        tmp.chmod(0o755)
        os.replace(tmp, script)
    return shim


def tflm_env(python_dir: Path) -> dict[str, str]:
    """The environment of TFLM's make: `python3` is one with numpy and Pillow, and none of
    our make's flags or variables leak into it (MAKEFLAGS would pass BOARD or CC on)."""
    env = {k: v for k, v in os.environ.items() if k not in _MAKE_VARIABLES}
    env["PATH"] = f"{python_dir}{os.pathsep}{env.get('PATH', '')}"
    env["LC_ALL"] = "C"
    return env


_MAKE_VARIABLES = frozenset({"MAKEFLAGS", "MAKEOVERRIDES", "MFLAGS", "MAKELEVEL"})


# --------------------------------------------------------------------------- the cache


def cache_root() -> Path:
    """tflite-edge's cache folder: $TFLE_CACHE_DIR, $XDG_CACHE_HOME/tflite-edge, or
    ~/.cache/tflite-edge."""
    given = os.environ.get("TFLE_CACHE_DIR", "").strip()
    if given:
        return Path(given).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".cache") / "tflite-edge"


_FINGERPRINTS: dict[Path, str] = {}


def tree_fingerprint(tree: Path) -> str:
    """The SHA-256 of every file of the tree (path and bytes): a changed tree is another key."""
    if tree not in _FINGERPRINTS:
        h = hashlib.sha256()
        for path in sorted(p for p in tree.rglob("*") if p.is_file() and ".git" not in p.parts):
            h.update(path.relative_to(tree).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(path.read_bytes()).digest())
        _FINGERPRINTS[tree] = h.hexdigest()
    return _FINGERPRINTS[tree]


def library_key(tree: Path, args: list[str], compiler: str) -> str:
    """The cache key of one library: the tree's contents, TFLM's make arguments (target, CPU,
    kernel set, build type) and the compiler's version line."""
    try:
        version = subprocess.run(
            [compiler, "--version"], capture_output=True, text=True, check=False
        ).stdout.splitlines()[:1]
    except OSError:
        version = []
    text = "\n".join([tree_fingerprint(tree), *args, *version])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def library(
    tree: Path,
    args: list[str],
    compiler: str,
    *,
    describe: str,
    jobs: int = 2,
    python_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """libtensorflow-microlite.a for TFLM's make arguments `args`, from the cache, built the
    first time (saying so through `progress`: it takes minutes)."""
    key = library_key(tree, args, compiler)
    root = cache_root() / "tflm"
    entry = root / key
    lib = entry / LIBRARY
    if lib.is_file():
        return lib
    root.mkdir(parents=True, exist_ok=True)
    env = tflm_env(python_dir or python_for_tflm())
    with _locked(root / f"{key}.lock"):
        if lib.is_file():  # another process built it while we waited
            return lib
        if progress is not None:
            progress(f"building TFLM for {describe}, once, a few minutes (cached in {entry})")
        tmp = Path(tempfile.mkdtemp(prefix=f"{key}.tmp-", dir=root))
        try:
            cmd = ["make", "-f", TFLM_MAKEFILE, f"-j{max(1, jobs)}", *args]
            cmd += [f"GENDIR={tmp}/", "microlite"]
            proc = subprocess.run(
                cmd, cwd=tree, env=env, capture_output=True, text=True, check=False
            )
            if proc.returncode != 0 or not (tmp / LIBRARY).is_file():
                raise ToolchainError(
                    f"TFLM's Makefile failed to build its library for {describe} in {tree}:\n"
                    f"{failure_lines(proc.stdout + proc.stderr)}\ncommand: cd {tree} && "
                    f"{' '.join(cmd)}",
                    tool="make",
                )
            (tmp / "tflite-edge-key.txt").write_text("\n".join([str(tree), *args, compiler]) + "\n")
            try:
                os.replace(tmp, entry)
            except OSError:
                if not lib.is_file():  # not a complete entry put there meanwhile
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return lib


def failure_lines(log: str, tail: int = 25) -> str:
    """What a failed TFLM make says that matters: a Python traceback its scripts printed
    (which names what is missing), compiler errors, and the last lines."""
    lines = log.strip().splitlines()
    keep: list[str] = []
    start = next((k for k, line in enumerate(lines) if line.startswith("Traceback")), None)
    if start is not None:
        end = next(
            (
                k
                for k in range(start + 1, len(lines))
                if re.match(r"\w*(Error|Exception)\b", lines[k])
            ),
            len(lines) - 1,
        )
        keep += lines[start : end + 1]
    keep += [line for line in lines if re.search(r"\berror\b|\*\*\*", line)][:10]
    keep += [line for line in lines[-tail:] if line not in keep]
    return "\n".join(keep[-(tail + 15) :])
