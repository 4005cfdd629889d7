"""`bench()`: one run of the whole suite, every row written as soon as it is measured."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..errors import DataError, TFLiteEdgeError, ToolchainError
from ..model import load_model
from ..runtimes.tflm_tree import find_tree, tree_fingerprint
from .compression import compression_and_pipeline, variants
from .documents import BenchResult, Run, compare_runs, document, load_results, write_text
from .emulated import emulated_row
from .host import host_row, valgrind_counts
from .machine import machine_info
from .markdown import render_markdown
from .plan import DEFAULT_BOARDS, FULL, SMOKE, SMOKE_MODELS
from .same_board import same_board_row


def bench(
    *,
    out: str | Path = "bench/results",
    markdown: str | Path = "BENCHMARKS.md",
    boards: Iterable[str] = DEFAULT_BOARDS,
    smoke: bool = False,
    progress: Callable[[str], None] | None = None,
    models_dir: str | Path | None = None,
    work_dir: str | Path | None = None,
    tflm_dir: str | Path | None = None,
) -> BenchResult:
    """Run the benchmark suite; write one JSON per measured row into out, then the Markdown.

    smoke=True runs a small version (the first board, hello_world, a tiny compression grid)
    so the suite cannot rot. models_dir defaults to ../shared/models; build trees go to
    work_dir (default: a `work` folder next to out). tflm_dir (default $TFLM_DIR) is the
    tflite-micro tree the same-board table builds TFLM's firmware from; without one that table
    is skipped, and the Markdown says so.
    """
    from ..boards import get_board

    plan = SMOKE if smoke else FULL
    board_list = list(dict.fromkeys(boards))
    if not board_list:
        raise TFLiteEdgeError("no boards to benchmark; pass at least one, e.g. qemu-m4")
    if smoke:
        board_list = board_list[:1]
    for name in board_list:
        b = get_board(name)  # an unknown board fails before any work, with the known ones listed
        if not b.emulated:
            raise TFLiteEdgeError(
                f"board {name!r} is not emulated; the benchmark tables compare instruction "
                "counts from QEMU boards (qemu-m4, qemu-m7, qemu-m55)"
            )
    models = _reference_models(models_dir, smoke)
    tree = _tflm_tree(tflm_dir)
    same_boards = [b for b in board_list if b in plan.same_board_boards] if tree else []
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm", "gcc"):
        if shutil.which(tool) is None:
            raise ToolchainError(
                f"{tool} is not on PATH; the benchmarks build and run firmware: "
                "apt-get install gcc gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm",
                tool=tool,
            )
    out_dir = Path(out)
    md_path = Path(markdown)
    # Absolute: the Valgrind runs start in a folder of their own.
    work = (Path(work_dir) if work_dir is not None else out_dir.parent / "work").resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise TFLiteEdgeError(f"output path {str(out_dir)!r} is a file; pass a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)

    # Results of an earlier run are the baseline of the determinism check, then removed so that
    # the tables only ever show figures of one run.
    previous = load_results(out_dir)
    for d in previous:
        (out_dir / d["_file"]).unlink(missing_ok=True)

    started = time.perf_counter()
    run = Run(out_dir, work, plan, progress or (lambda _m: None))
    ref_models = [(p.stem, p) for p in models]
    demo_rows = 0 if smoke else 1
    emulated_steps = len(board_list) * (len(ref_models) + demo_rows)
    same_board_steps = len(same_boards) * (len(ref_models) + demo_rows) if tree else 1
    compression_steps = 1 + len(variants(plan)) + 1  # training, variants, pipeline
    host_steps = len(ref_models) + demo_rows + 1  # one per model, then Valgrind
    run.steps = emulated_steps + same_board_steps + compression_steps + host_steps
    run.save(
        document(
            "run",
            "run",
            smoke=smoke,
            boards=board_list,
            models=[name for name, _ in ref_models],
            plan=vars(plan),
            tflm_dir=None if tree is None else str(tflm_dir or os.environ["TFLM_DIR"]),
            tflm_tree_sha256=None if tree is None else tree_fingerprint(tree),
            same_board_boards=same_boards,
            machine=machine_info(),
        )
    )

    with _deterministic_tf():
        for name, path in ref_models:
            for board in board_list:
                run.tick(f"emulated: {name} on {board}")
                emulated_row(run, board, name, path, source=f"../shared/models/{path.name}")
        write_text(md_path, render_markdown(run.docs))  # partial tables while the run goes on
        demo_path = compression_and_pipeline(run)
        write_text(md_path, render_markdown(run.docs))
    host_models = list(ref_models)
    sources = {name: f"../shared/models/{path.name}" for name, path in ref_models}
    if not smoke:
        demo_source = f"digits CNN pruned {plan.demo_sparsity:.0%} + PQAT, as in `make demo`"
        for board in board_list:
            run.tick(f"emulated: digits demo model on {board}")
            emulated_row(run, board, "digits_demo", demo_path, source=demo_source)
        host_models.append(("digits_demo", demo_path))
        sources["digits_demo"] = demo_source
    if tree is None:
        run.tick("same board: no TFLM tree (--tflm-dir or TFLM_DIR), table skipped")
    for name, path in host_models:  # same_boards is empty without a tree
        for board in same_boards:
            run.tick(f"same board: {name} on {board}, AOT vs TFLM reference vs TFLM + CMSIS-NN")
            same_board_row(run, board, name, path, source=sources[name], tflm_dir=tree)
    write_text(md_path, render_markdown(run.docs))
    host_docs = []
    for name, path in host_models:
        run.tick(f"host: AOT (gcc -O2) vs TFLM interpreter, {name}")
        host_docs.append(host_row(run, name, path))
    run.tick(
        "host: instruction counts under Valgrind"
        if shutil.which("valgrind")
        else "host: Valgrind not installed, no instruction counts"
    )
    counts, why = valgrind_counts(
        [(name, path, run.work / "host" / name) for name, path in host_models], work
    )
    for d in host_docs:
        run.save({**d, "valgrind": counts[d["model"]] if counts else None, "valgrind_note": why})

    determinism = compare_runs(previous, run.docs)
    run.save(
        {
            **next(d for d in run.docs if d["table"] == "run"),
            "determinism": determinism,
            "wall_seconds": time.perf_counter() - started,
        }
    )
    md = write_text(md_path, render_markdown(run.docs))
    return BenchResult(out_dir, md, sorted(run.files), run.docs, determinism)


def _tflm_tree(given: str | Path | None) -> Path | None:
    """The TFLM tree of the same-board table: given, else $TFLM_DIR (checked), else None."""
    if given is None and not os.environ.get("TFLM_DIR", "").strip():
        return None
    return find_tree(given, what="the same-board table (--tflm-dir)")


def _reference_models(models_dir: str | Path | None, smoke: bool) -> list[Path]:
    where = Path(models_dir) if models_dir is not None else Path("..") / "shared" / "models"
    if not where.is_dir():
        raise DataError(
            f"reference models folder {str(where)!r} not found; run from the project root "
            "(next to ../shared/models) or pass models_dir (CLI --models-dir)"
        )
    paths = sorted(where.glob("*.tflite"))
    if smoke:
        paths = [p for p in paths if p.name in SMOKE_MODELS] or paths[:1]
    if not paths:
        raise DataError(f"no .tflite models in {str(where)!r}; expected the reference models")
    for path in paths:  # a corrupt model stops the run before earlier results are replaced
        load_model(path)
    return paths


class _deterministic_tf:
    """TF op determinism for the run (seeded training then repeats bit for bit), undone after."""

    def __init__(self) -> None:
        self.enabled = False

    @staticmethod
    def _config() -> Any:
        from ..optimize import _tf

        _tf()  # sets the environment (legacy Keras, quiet logs) before TensorFlow loads
        from tensorflow.python.framework import config

        return config

    def __enter__(self) -> _deterministic_tf:
        config = self._config()
        if not config.is_op_determinism_enabled():
            config.enable_op_determinism()
            self.enabled = True
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self._config().disable_op_determinism()
