"""tflite-edge: a Keras model onto a microcontroller, measured from the board.

The public functions are loaded lazily so that `import tflite_edge` (and the CLI's fast
commands such as `inspect` and `boards`) do not pay for importing TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it; one module per pipeline stage (see DESIGN.md).
# Module names differ from function names so that importing a module never shadows the
# function of the same name on the package.
_EXPORTS = {
    "convert": "optimize",
    "ConversionResult": "optimize",
    "distill": "optimize",
    "inspect": "model.inspect",
    "load_model": "model",
    "Model": "model",
    "render": "project",
    "compile_aot": "compiler",
    "build": "builder",
    "flash": "flasher",
    "run": "flasher",
    "monitor": "protocol",
    "validate": "validation",
    "report": "reporting",
    "bench": "benchmark",
    "get_board": "boards",
}

from .errors import (  # noqa: E402
    BoardError,
    BudgetError,
    DataError,
    ModelError,
    OutputExistsError,
    ProtocolError,
    SerialError,
    TFLiteEdgeError,
    ToolchainError,
    UnsupportedOpError,
)

__all__ = [
    "__version__",
    *_EXPORTS,
    "BoardError",
    "BudgetError",
    "DataError",
    "ModelError",
    "OutputExistsError",
    "ProtocolError",
    "SerialError",
    "TFLiteEdgeError",
    "ToolchainError",
    "UnsupportedOpError",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'tflite_edge' has no attribute {name!r}")
