"""The model: the .tflite reader (reader.py), its inspection with the TFLM arena and MAC
counts (inspect.py) and TFLM's quantization arithmetic (quant.py)."""

from __future__ import annotations

from .reader import (
    Model,
    Operator,
    Quantization,
    Tensor,
    c_identifier,
    check_structure,
    known_input,
    load_model,
)

__all__ = [
    "Model",
    "Operator",
    "Quantization",
    "Tensor",
    "c_identifier",
    "check_structure",
    "known_input",
    "load_model",
]
