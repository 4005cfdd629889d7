"""compile_aot's driver: graph checks, the two emitter passes, rendering and writing the C."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import ModelError, TFLiteEdgeError, UnsupportedOpError
from ..files import write_atomic
from ..model import Model, Operator, Tensor, c_identifier, load_model
from ..model.shapes import infer_shapes
from ..resources import templates_dir
from .constants import ConstantPool
from .ops import MODULES as OP_MODULES  # noqa: F401 (imported for their registrations)
from .packing import SPARSE_MIN_ZEROS
from .planner import Activations, activation_buffers, place
from .registry import EMITTERS, EmitContext, TensorView, emitter_of, unsupported_error


@dataclass
class AotResult:
    """What compile_aot wrote and what it costs: RAM plan, constants, layers."""

    out_dir: Path
    files: list[Path]
    ram_bytes: int  # the static arena (TFLE_ARENA_BYTES)
    weight_bytes: int  # bytes of static const arrays (TFLE_WEIGHT_BYTES)
    ops: list[str]  # distinct op names of the model
    layers: list[dict]  # one dict per emitted layer: layer, op_index, op, sparse
    plan: dict[int, tuple[int, int]]  # tensor index -> (arena offset, bytes)
    sparse_layers: list[int]  # op indices whose weights were sparse-encoded
    model_sha256: str = ""
    name: str = ""

    def summary(self) -> str:
        """A short human-readable account of the compiled model."""
        return (
            f"{self.name}: {len(self.layers)} layers ({', '.join(self.ops)}), "
            f"ram_bytes={self.ram_bytes}, weight_bytes={self.weight_bytes}, "
            f"sparse layers={len(self.sparse_layers)}"
        )


def compile_aot(
    tflite: str | Path | bytes | Model,
    out_dir: str | Path,
    *,
    sparse: bool | str = "auto",
    profile: bool = False,
    name: str | None = None,
) -> AotResult:
    """Compile an int8 .tflite into tfle_model.h / tfle_model.c in out_dir (atomically).

    The model may have any number of inputs and outputs, of any element type (int8, int16,
    float32 around QUANTIZE / DEQUANTIZE, ...): tfle_model_invoke() takes them packed in one
    buffer in the model's order, tfle_model_invoke_io() one pointer each (tfle_model.h).

    sparse: "auto" encodes weight tensors with >= 50% zeros sparsely (when that is smaller),
    True encodes every weight tensor that a sparse kernel handles, False keeps all dense.
    profile: compile the per-layer hook in unconditionally (otherwise only with -DTFLE_PROFILE).
    """
    if sparse not in (True, False, "auto"):
        raise TFLiteEdgeError(
            f"sparse must be True (every weight layer), False (none) or 'auto' (layers with "
            f">= {SPARSE_MIN_ZEROS:.0%} zeros), found {sparse!r}"
        )
    model = infer_shapes(load_model(tflite, name=name))
    # a Model passed in keeps its own name; `name` only labels the generated files
    text_h, text_c, result = _compile(model, sparse, profile, name or model.name)
    out = Path(out_dir)
    files = _write_files(out, {"tfle_model.h": text_h, "tfle_model.c": text_c})
    result.out_dir = out
    result.files = files
    return result


def aot_problem(tflite: str | Path | bytes | Model) -> TFLiteEdgeError | None:
    """Why compile_aot() refuses the model (an op or a graph it does not handle), None when
    it compiles it; nothing is written."""
    model = infer_shapes(load_model(tflite))
    try:
        _compile(model, "auto", False, model.name)
    except (UnsupportedOpError, ModelError) as err:
        return err
    return None


def _check_model(model: Model) -> None:
    where = model.path or model.name
    for t in (*model.input_tensors, *model.output_tensors):
        if t.is_constant:
            raise ModelError(
                f"model {where!r}: tensor {t.name!r} is both a model input/output and a "
                "constant; export the model again",
                path=model.path,
            )
    if model.subgraph_count > 1:
        raise unsupported_error(
            "SUBGRAPHS", f"models with {model.subgraph_count} subgraphs (control flow)"
        )


def _unsupported_ops(found: list[UnsupportedOpError]) -> UnsupportedOpError:
    """One error naming every op of a model that the AOT compiler refuses, in one line: an
    op it has no emitter for, or one whose emitter refused its case (and why)."""
    if len(found) == 1:
        return found[0]
    whats = [getattr(err, "what", str(err)) for err in found]
    lacks = tuple(dict.fromkeys(op for err in found for op in getattr(err, "tflm_lacks", ())))
    return unsupported_error(found[0].op, ", ".join(whats), tflm_lacks=lacks)


def _compile(
    model: Model, sparse: bool | str, profile: bool, name: str
) -> tuple[str, str, AotResult]:
    _check_model(model)
    pool = ConstantPool(model, sparse)
    ops = model.operators
    acts = _activations(model)

    # Planning pass: learn each layer's scratch needs (expressions are placeholders), and
    # every op an emitter refuses, so that one error names them all.
    scratch_need: dict[int, int] = {}
    refused: list[UnsupportedOpError] = []
    for op in ops:
        try:
            ctx = _make_ctx(pool, op, 0, {t: "tfle_arena" for t in acts.first}, acts.const_alias)
            emitter_of(op).fn(ctx)
        except UnsupportedOpError as err:
            refused.append(err)
            continue
        except (IndexError, KeyError, AttributeError, TypeError, ValueError) as err:
            # an operator whose inputs or options are not what its op takes (a damaged file)
            refused.append(
                unsupported_error(
                    op.op,
                    f"op {op.index} ({op.op}) with {len(op.inputs)} inputs and options "
                    f"{sorted(op.options)} (not what this op takes: {type(err).__name__})",
                )
            )
            continue
        if ctx.scratch_bytes:
            scratch_need[op.index] = ctx.scratch_bytes
    if refused:
        raise _unsupported_ops(refused)
    pool.reset()
    arena = place(model, acts, scratch_need)

    # Real pass.
    layers: list[dict] = []
    sparse_layers: list[int] = []
    for op in ops:
        emitter = emitter_of(op)
        scratch = arena.scratch.get(op.index)
        ctx = _make_ctx(
            pool,
            op,
            len(layers),
            arena.bases,
            acts.const_alias,
            scratch_offset=scratch.offset if scratch else None,
        )
        code = emitter.fn(ctx).strip()
        if ctx.sparse_layer:
            sparse_layers.append(op.index)
        if emitter.alias and not code:
            continue
        layers.append(
            {
                "layer": len(layers),
                "op_index": op.index,
                "op": op.op,
                "code": code,
                "sparse": ctx.sparse_layer,
            }
        )

    weight_bytes = sum(a["nbytes"] for a in pool.arrays)
    inputs = _io_context(model, model.inputs, arena.plan)
    outputs = _io_context(model, model.outputs, arena.plan)
    context = {
        "generator": f"tflite-edge {__version__} (tflite_edge.compiler)",
        "model_name": c_identifier(name),
        "sha256": model.sha256,
        "sha8": model.sha256[:8],
        "inputs": inputs,
        "outputs": outputs,
        "input_bytes": sum(io["bytes"] for io in inputs),
        "output_bytes": sum(io["bytes"] for io in outputs),
        "arena_bytes": arena.arena_bytes,
        "arena_words": max((arena.arena_bytes + 3) // 4, 1),
        "weight_bytes": weight_bytes,
        "num_layers": len(layers),
        "headers": pool.headers,
        "arrays": pool.arrays,
        "structs": pool.structs,
        "layers": layers,
        "profile": profile,
        "plan_lines": arena.lines,
    }
    text_h, text_c = _render(context)
    result = AotResult(
        out_dir=Path("."),
        files=[],
        ram_bytes=arena.arena_bytes,
        weight_bytes=weight_bytes,
        ops=model.ops,
        layers=[{k: v for k, v in lay.items() if k != "code"} for lay in layers],
        plan=dict(sorted(arena.plan.items())),
        sparse_layers=sparse_layers,
        model_sha256=model.sha256,
        name=name,
    )
    return text_h, text_c, result


def _activations(model: Model) -> Activations:
    """The planner's buffers; an op without an emitter is refused after planning."""
    return activation_buffers(model, lambda op: op.op in EMITTERS and EMITTERS[op.op].alias)


def _io_context(model: Model, indices: tuple[int, ...], plan: dict) -> list[dict]:
    """Each model input (or output) as the template lays it out: its place in the arena and
    its bytes in the packed buffer of all inputs (outputs) in order."""
    out = []
    packed = 0
    for k, t in enumerate(indices):
        tensor = model.tensors[t]
        out.append(
            {
                "k": k,
                "tensor": t,
                "name": tensor.name,
                "shape": list(tensor.shape),
                "dtype": np.dtype(tensor.dtype).name,
                "bytes": tensor.nbytes,
                "offset": packed,
                "arena_offset": plan[t][0],
            }
        )
        packed += tensor.nbytes
    return out


def _make_ctx(
    pool: ConstantPool,
    op: Operator,
    layer: int,
    bases: dict[int, str],
    const_alias: dict[int, int],
    scratch_offset: int | None = None,
) -> EmitContext:
    model = pool.model
    views: dict[int, TensorView] = {}
    ctx = EmitContext.__new__(EmitContext)  # the views refer to it before it is initialised
    for t in (*op.inputs, *op.outputs):
        if t < 0:
            continue
        tensor = model.tensors[t]
        if tensor.is_constant:
            views[t] = TensorView(tensor, ctx, None)
        elif t in const_alias:
            src = model.tensors[const_alias[t]]
            views[t] = TensorView(
                Tensor(t, tensor.name, tensor.shape, tensor.dtype, tensor.quantization, src.data),
                ctx,
                None,
            )
        else:
            views[t] = TensorView(tensor, ctx, bases[t])

    def scratch_base(nbytes: int) -> str:
        return f"(tfle_arena + {scratch_offset if scratch_offset is not None else 0})"

    EmitContext.__init__(ctx, pool, op, layer, views, scratch_base)
    return ctx


def _render(context: dict) -> tuple[str, str]:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "aot")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    h = env.get_template("tfle_model.h.j2").render(**context)
    c = env.get_template("tfle_model.c.j2").render(**context)
    return h, c


def _write_files(out: Path, files: dict[str, str]) -> list[Path]:
    """Write every file via a temporary file and rename, so a reader never sees half a file."""
    if out.exists() and not out.is_dir():
        raise TFLiteEdgeError(f"output directory {str(out)!r} is a file; pass a directory")
    out.mkdir(parents=True, exist_ok=True)
    return [write_atomic(out / fname, text) for fname, text in files.items()]
