"""Output files written atomically: a temp file beside the target, then a rename, so an error
or an interrupt never leaves a half-written file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import TFLiteEdgeError


def check_output_path(path: str | Path) -> Path:
    """The path, if a file can be written there: not a directory, in a folder that exists."""
    path = Path(path)
    if path.is_dir():
        raise TFLiteEdgeError(f"output path {str(path)!r} is a directory; pass a file name")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise TFLiteEdgeError(
            f"output folder {str(folder)!r} does not exist; create it first or pass another path"
        )
    return path


def default_mode(directory: bool = False) -> int:
    """The mode a plain open() or mkdir() would give under the current umask (temp files and
    temp directories are created 0600 / 0700, which an output must not keep)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


def write_atomic(path: str | Path, data: bytes | str, *, parents: bool = False) -> Path:
    """Write bytes (or UTF-8 text) to path through a temp file and a rename; with `parents`,
    create missing folders first instead of refusing them."""
    if parents:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    path = check_output_path(path)
    if isinstance(data, str):
        data = data.encode()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise TFLiteEdgeError(
            f"cannot write in {str(path.parent)!r}: {err.strerror}; pass a writable path"
        ) from err
    try:
        os.fchmod(fd, default_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, doc: Any, *, parents: bool = False) -> Path:
    """Write one JSON document (sorted keys, indented) atomically."""
    return write_atomic(path, json.dumps(doc, indent=2, sort_keys=True) + "\n", parents=parents)
