"""The compression table (the digits CNN from float to pruned int8) and the pipeline table."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from ..model import Model, load_model
from ..model.macs import count_macs
from .documents import Run, document
from .flashing import flash_staged
from .plan import COMPRESSION_BOARD, PIPELINE_BOARD, Plan
from .sizes import object_sizes


def variants(plan: Plan) -> list[tuple[str, str, dict[str, Any]]]:
    """(key, label, convert() arguments) of each int8 variant of the compression table."""
    out = [("int8_ptq", "int8 PTQ", {"qat": False})]
    if plan.qat:
        out.append(("int8_qat", "int8 QAT", {}))
    for s in plan.sparsities:
        out.append((f"pruned{round(100 * s)}", f"int8 pruned {s:.0%} + PQAT", {"sparsity": s}))
    return out


def compression_and_pipeline(run: Run) -> Path:
    """Train the digits CNN once, convert every variant, measure each dense and sparse on the
    compression board; time the pipeline stages on the demo variant. Returns its .tflite."""
    from ..demo import digits_data, train_digits_cnn
    from ..optimize import convert

    plan = run.plan
    train, test = digits_data()
    run.tick(f"training the float digits CNN ({plan.train_epochs} epochs)")
    t0 = time.perf_counter()
    float_model = train_digits_cnn(train, epochs=plan.train_epochs)
    train_s = time.perf_counter() - t0
    models = run.work / "models"
    models.mkdir(parents=True, exist_ok=True)
    demo_key = f"pruned{round(100 * plan.demo_sparsity)}"
    demo_path = models / f"digits_{demo_key}.tflite"
    convert_s: dict[str, float] = {}
    float_saved = False
    for order, (key, label, kwargs) in enumerate(variants(plan), start=1):
        run.tick(
            f"compression: {label} (convert, compile dense and sparse, flash {COMPRESSION_BOARD})"
        )
        t0 = time.perf_counter()
        result = convert(
            float_model,
            train_data=train,
            validation_data=test,
            epochs=plan.prune_epochs,
            fine_tune_epochs=plan.fine_tune_epochs,
            **kwargs,
        )
        convert_s[key] = time.perf_counter() - t0
        m = result.metrics
        if not float_saved:
            # The float model's own row: Keras accuracy on the same test split, float .tflite.
            run.save(
                document(
                    "compression",
                    "float",
                    order=0,
                    variant="float",
                    label="float (Keras)",
                    accuracy=m["float_accuracy"],
                    accuracy_from="Keras float model, test split",
                    tflite_bytes=m["float_bytes"],
                    test_samples=m["eval_samples"],
                    train_epochs=plan.train_epochs,
                )
            )
            float_saved = True
        path = result.save(models / f"digits_{key}.tflite")
        model = load_model(path)
        doc = document(
            "compression",
            key,
            order=order,
            variant=key,
            label=label,
            method=m["method"],
            accuracy=m["int8_accuracy"],
            accuracy_from="TFLM interpreter (int8), test split",
            test_samples=m["eval_samples"],
            float_accuracy=m["float_accuracy"],
            sparsity=m["sparsity"],
            tflite_bytes=len(result.tflite),
            tflite_sha256=model.sha256,
            tflm_arena_bytes=m["arena_bytes"],
            macs=count_macs(model),
            board=COMPRESSION_BOARD,
        )
        for mode, sparse in (("dense", False), ("sparse", True)):
            doc[mode] = _aot_variant(run, model, key, mode, sparse)
        run.save(doc)

    if demo_path.exists():
        _pipeline(run, demo_path, train_s, convert_s[demo_key])
    return demo_path


def _aot_variant(run: Run, model: Model, key: str, mode: str, sparse: bool) -> dict[str, Any]:
    """Compile one variant dense or sparse: object sizes, then instructions on the board."""
    from ..compiler import compile_aot

    where = run.work / "compression" / key / mode
    if where.exists():
        shutil.rmtree(where)
    aot = compile_aot(model, where / "model", sparse=sparse)
    sizes = object_sizes(where / "model", COMPRESSION_BOARD)
    flashed = flash_staged(run, model, COMPRESSION_BOARD, where / "board", sparse=sparse)
    return {
        "sparse_layers": len(aot.sparse_layers),
        "ram_bytes": aot.ram_bytes,
        "weight_bytes": aot.weight_bytes,
        "object": sizes,
        "flash_bytes": sizes["flash"],
        "instructions": flashed["instructions"]["median"],
        "instructions_identical": flashed["instructions"]["identical"],
        "image_flash_bytes": flashed["image_flash_bytes"],
        "output_crc32": flashed["output_crc32"],
    }


def _pipeline(run: Run, model_path: Path, train_s: float, convert_s: float) -> dict[str, Any]:
    """Wall time of each stage from the Keras model to a flashed, measured image."""
    run.tick(f"pipeline: render, build, flash on {PIPELINE_BOARD}")
    model = load_model(model_path)
    flashed = flash_staged(run, model, PIPELINE_BOARD, run.work / "pipeline", sparse=None)
    stages = [
        {"stage": "train", "what": f"float digits CNN, {run.plan.train_epochs} epochs",
         "seconds": train_s},
        {"stage": "optimize + convert",
         "what": f"convert(): prune {run.plan.demo_sparsity:.0%} ({run.plan.prune_epochs} epochs), "
                 f"PQAT ({run.plan.fine_tune_epochs} epochs), int8 conversion, TFLM accuracy",
         "seconds": convert_s},
        *flashed["stages"],
    ]  # fmt: skip
    doc = document(
        "pipeline",
        "pipeline",
        board=PIPELINE_BOARD,
        model=model_path.name,
        model_sha256=model.sha256,
        stages=stages,
        total_seconds=sum(s["seconds"] for s in stages),
        instructions=flashed["instructions"]["median"],
    )
    return run.save(doc)
