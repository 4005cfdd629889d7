"""Where the templates/ and firmware/ trees are, from a checkout or an installed wheel."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def _tree(name: str) -> Path:
    # A checkout (this package's own folder beside templates/ and firmware/) wins, so that a
    # second checkout on PYTHONPATH uses its own trees, not those of an editable install.
    if (_CHECKOUT / name).is_dir() and (_CHECKOUT / "setup.cfg").is_file():
        return _CHECKOUT / name
    # Installed: setup.cfg maps the top-level folder to the package tflite_edge.<name>.
    spec = importlib.util.find_spec(f"tflite_edge.{name}")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return _CHECKOUT / name


def templates_dir() -> Path:
    """The jinja2 templates folder (templates/ in a checkout)."""
    return _tree("templates")


def firmware_dir() -> Path:
    """The static C sources folder (firmware/ in a checkout)."""
    return _tree("firmware")


def boards_dir() -> Path:
    """The folder of board TOML files."""
    return Path(__file__).resolve().parent / "boards"
