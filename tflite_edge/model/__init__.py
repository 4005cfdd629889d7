"""The model: what a .tflite holds, read without TensorFlow.

- reader.py: the flatbuffer reader (Model, Tensor, Operator, Quantization, load_model), the
  C identifier of a name, the structure checks and the harness's known input
- inspect.py: inspect() and its report (tensors, ops with TFLM availability, sizes, weight
  sparsity, the arena that reference.py measures)
- macs.py: the multiply-accumulate count of a model
- quant.py: TFLM's quantization arithmetic (multipliers, rounding, activation ranges)

The package exports the reader's names; the others are imported from their modules. Inside
tflite_edge, model/ imports only errors, files, resources and reference.py (the TFLM
interpreter): never the compiler, the boards, the firmware side or TensorFlow.
"""

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
