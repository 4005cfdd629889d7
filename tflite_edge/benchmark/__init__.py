"""The benchmark suite behind `make bench`: every figure measured in the same run as its reference.

Five tables, each row written to `<out>/<table>-<row>.json` as soon as it is measured (an
interrupted run loses nothing), then `BENCHMARKS.md` regenerated from those files:

1. emulated boards (emulated.py): instructions per inference read over serial from QEMU, MACs
   counted from the model (tflite_edge.model.macs), AOT RAM and flash beside the real TFLM
   arena, and the MLPerf Tiny published latencies next to our instruction count turned into an
   estimate at 120 MHz;
2. same board (same_board.py): each model flashed on qemu-m4 and qemu-m55 with AOT, TFLM with
   its reference kernels and TFLM with CMSIS-NN (built against the TFLM tree of --tflm-dir),
   instructions per inference and per MAC, image flash and RAM, on-device RAM, output CRC32s;
3. host (host.py): the AOT C compiled natively against the TFLM interpreter of the tflite-micro
   package, same inputs, median wall time of many runs (and Valgrind instruction counts when
   present);
4. compression (compression.py): the digits CNN as float, int8 PTQ, int8 QAT and pruned
   50/75/90 % with PQAT, each compiled dense and sparse;
5. pipeline (compression.py): wall time of each stage from a Keras model to a flashed image on
   qemu-m4.

suite.py runs them (`bench()`), documents.py writes, reads and compares the row documents,
markdown.py renders BENCHMARKS.md through templates/bench/. Instruction counts, byte sizes and
accuracies are deterministic (seeded training with TF op determinism, QEMU -icount); a re-run
is compared with the results it replaces.
"""

from __future__ import annotations

from .documents import BenchResult, compare_runs, load_results
from .machine import machine_info
from .markdown import render_markdown, write_markdown
from .plan import (
    COMPRESSION_BOARD,
    DEFAULT_BOARDS,
    FULL,
    PIPELINE_BOARD,
    PUBLISHED_CLOCK_HZ,
    PUBLISHED_MS,
    PUBLISHED_SOURCE,
    PUBLISHED_STACKS,
    SAME_BOARD_BOARDS,
    SAME_BOARD_RUNTIMES,
    SCHEMA_VERSION,
    SMOKE,
    SMOKE_MODELS,
    SUITE,
    TABLES,
    Plan,
)
from .same_board import same_board_row
from .sizes import object_sizes
from .suite import bench

__all__ = [
    "COMPRESSION_BOARD",
    "DEFAULT_BOARDS",
    "FULL",
    "PIPELINE_BOARD",
    "PUBLISHED_CLOCK_HZ",
    "PUBLISHED_MS",
    "PUBLISHED_SOURCE",
    "PUBLISHED_STACKS",
    "SAME_BOARD_BOARDS",
    "SAME_BOARD_RUNTIMES",
    "SCHEMA_VERSION",
    "SMOKE",
    "SMOKE_MODELS",
    "SUITE",
    "TABLES",
    "BenchResult",
    "Plan",
    "bench",
    "compare_runs",
    "load_results",
    "machine_info",
    "object_sizes",
    "render_markdown",
    "same_board_row",
    "write_markdown",
]
