"""What each runtime runs: the AOT compiler's emitters beside TFLM's kernels.

`aot_ops()` lists every op the AOT runtime has an emitter for, with the activation types it
compiles and whether TFLM has a kernel for it (`tflite-edge ops`); `model_support(model)`
says per op of one model whether each runtime handles it; `inspect(model)` is
model.inspect.inspect() with that added (`tflite-edge inspect`). model/ may not import the
compiler, so the combination lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .compiler import EMITTERS, aot_problem
from .errors import TFLiteEdgeError
from .model import Model, Operator, load_model
from .model.inspect import ModelReport
from .model.inspect import inspect as inspect_model
from .model.shapes import changed_shapes, infer_shapes
from .reference import TFLM_OPS


@dataclass(frozen=True)
class OpSupport:
    """One op the AOT runtime compiles: its activation types, and whether TFLM has it."""

    op: str
    dtypes: tuple[str, ...]
    tflm: bool
    alias: bool = False  # the output is the input's bytes (RESHAPE, SQUEEZE, ...)

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "dtypes": list(self.dtypes), "tflm": self.tflm, "alias": self.alias}


def aot_ops() -> list[OpSupport]:
    """Every op with an AOT emitter, by name."""
    return [
        OpSupport(op, tuple(e.dtypes), op in TFLM_OPS, e.alias)
        for op, e in sorted(EMITTERS.items())
    ]


def tflm_only_ops() -> list[str]:
    """The builtin ops TFLM has a kernel for and the AOT runtime does not compile."""
    return sorted(op for op in TFLM_OPS if op not in EMITTERS)


def operator_dtype(model: Model, op: Operator) -> str:
    """The activation type an operator works in: its first activation input's type, else its
    first output's, preferring an integer (quantized) one, so QUANTIZE float32 -> int8 and
    DEQUANTIZE int8 -> float32 are both int8 operators."""
    cands = [model.tensors[i] for i in op.inputs if i >= 0 and not model.tensors[i].is_constant]
    cands = cands[:1] + [model.tensors[i] for i in op.outputs[:1]]
    if not cands:
        return "none"
    for t in cands:
        if np.issubdtype(np.dtype(t.dtype), np.integer):
            return np.dtype(t.dtype).name
    return np.dtype(cands[0].dtype).name


def model_support(model: Model) -> dict[str, dict[str, Any]]:
    """Per op of the model (first-use order): `tflm` (TFLM has a kernel), `aot` (an emitter
    is registered for the op and every operator's type is among its types), `dtypes` (the
    types the model uses it with) and `aot_dtypes` (the emitter's; [] without one)."""
    used: dict[str, list[str]] = {}
    for op in model.operators:
        d = operator_dtype(model, op)
        if d not in used.setdefault(op.op, []):
            used[op.op].append(d)
    out = {}
    for name, dtypes in used.items():
        e = EMITTERS.get(name)
        aot_dtypes = list(e.dtypes) if e is not None else []
        out[name] = {
            "tflm": name in TFLM_OPS,
            "aot": e is not None and all(d in aot_dtypes for d in dtypes),
            "dtypes": dtypes,
            "aot_dtypes": aot_dtypes,
        }
    return out


def aot_refusal(model: Model) -> str | None:
    """Why compile_aot refuses the model (after shape inference), None when it compiles."""
    try:
        err = aot_problem(infer_shapes(model))
    except TFLiteEdgeError as e:
        err = e
    except Exception as e:  # noqa: BLE001 - a report line, not a traceback, for inspect
        return (
            f"the AOT compiler failed on this model ({type(e).__name__}: {e}); this is a bug "
            "of tflite-edge: please report it with the model"
        )
    return None if err is None else str(err)


def inspect(tflite: str | Path | bytes | Model) -> ModelReport:
    """model.inspect.inspect() with each op's AOT support and the AOT compiler's verdict."""
    model = load_model(tflite)
    report = inspect_model(model)
    report.aot_ops = model_support(model)
    report.aot_error = aot_refusal(model)
    changed = changed_shapes(model)
    if changed:
        first = ", ".join(
            f"tensor {i} {list(a)} -> {list(b)}" for i, (a, b) in list(changed.items())[:3]
        )
        report.warnings.append(
            f"{len(changed)} activation shape(s) stored in the file do not follow from the "
            f"graph ({first}{', ...' if len(changed) > 3 else ''}), as after a conversion with "
            "a dynamic batch: TFLM runs with the stored ones and computes only part of those "
            "layers; the AOT compiler uses the inferred ones. Convert with a fixed batch of 1"
        )
    return report
