"""What the suite measures: its tables, boards, plans (full and smoke) and the published figures."""

from __future__ import annotations

from dataclasses import dataclass

SUITE = "tflite-edge-bench"
SCHEMA_VERSION = 1
TABLES = ("emulated", "same_board", "host", "compression", "pipeline")
DEFAULT_BOARDS = ("qemu-m4", "qemu-m7", "qemu-m55")
PIPELINE_BOARD = "qemu-m4"
COMPRESSION_BOARD = "qemu-m4"
# The same-board table (same_board.py): AOT, TFLM reference and TFLM + CMSIS-NN on each of
# these boards (those of them the run measures); TFLM's library is built once per board and
# kernel set (minutes each), so the table keeps to one board per instruction set.
SAME_BOARD_BOARDS = ("qemu-m4", "qemu-m55")
# Its runtimes, in column order: (key in the row document, flash() runtime, TFLM kernel set,
# label).
SAME_BOARD_RUNTIMES = (
    ("aot", "aot", None, "AOT"),
    ("tflm_reference", "tflm", "reference", "TFLM ref"),
    ("tflm_cmsis_nn", "tflm", "cmsis_nn", "TFLM + CMSIS-NN"),
)

# Published on-board latency (ms) of the MLPerf Tiny models, quoted from the reference models'
# README (../shared/models/README.md), which cites MLPerf Tiny v0.5 results. Data, not ours:
# every one was measured on a NUCLEO-L4R5ZI (Cortex-M4 at 120 MHz).
PUBLISHED_SOURCE = (
    "MLPerf Tiny v0.5 inference results (NUCLEO-L4R5ZI, Arm Cortex-M4 @ 120 MHz), as quoted in "
    "../shared/models/README.md"
)
PUBLISHED_CLOCK_HZ = 120_000_000
PUBLISHED_STACKS = ("TFLM reference", "X-CUBE-AI 9.0", "Plumerai")
PUBLISHED_MS: dict[str, dict[str, float]] = {
    "kws_ref_model": {"TFLM reference": 181.9, "X-CUBE-AI 9.0": 43.19, "Plumerai": 47.78},
    "ad01_int8": {"TFLM reference": 10.05, "X-CUBE-AI 9.0": 5.26, "Plumerai": 4.05},
}


@dataclass(frozen=True)
class Plan:
    """How much a run measures: the full suite or the smoke version the tests run."""

    smoke: bool
    emulated_runs: int  # inferences per flash (instruction counts repeat exactly; >1 shows it)
    host_runs: int  # timed invocations per runtime in the host table
    train_epochs: int  # float digits CNN
    prune_epochs: int  # convert(epochs=...)
    fine_tune_epochs: int  # convert(fine_tune_epochs=...)
    sparsities: tuple[float, ...]  # the pruned variants of the compression table
    qat: bool  # include the int8 QAT (unpruned) variant
    demo_sparsity: float  # the pruned variant that is "the digits demo model"
    same_board_boards: tuple[str, ...]  # boards of the same-board table (with a TFLM tree)


FULL = Plan(False, 5, 200, 12, 4, 2, (0.5, 0.75, 0.9), True, 0.75, SAME_BOARD_BOARDS)
SMOKE = Plan(True, 2, 20, 2, 1, 1, (0.5,), False, 0.5, ("qemu-m4",))
SMOKE_MODELS = ("hello_world_int8.tflite",)
