"""The exceptions tflite-edge raises: one root, a few subclasses that carry fields.

Library code raises these; only the CLI turns them into a one-line message and exit code 2.
A message says what was expected, what was found, and what to do.
"""

from __future__ import annotations

import math
import numbers


class TFLiteEdgeError(Exception):
    """Root of every error that is the user's input or environment, not a bug of ours."""


class ModelError(TFLiteEdgeError):
    """A model file that is missing, corrupt, or not something we can handle."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class DataError(TFLiteEdgeError):
    """Training, representative or validation data of the wrong shape, dtype or content."""


class UnsupportedOpError(TFLiteEdgeError):
    """An operator (or Keras layer) that a runtime or stage cannot handle."""

    def __init__(self, message: str, *, op: str, runtime: str | None = None) -> None:
        super().__init__(message)
        self.op = op
        self.runtime = runtime


class BoardError(TFLiteEdgeError):
    """An unknown board, a bad board file, or a board that cannot do what was asked."""

    def __init__(self, message: str, *, board: str | None = None) -> None:
        super().__init__(message)
        self.board = board


class BudgetError(BoardError):
    """A model whose image does not fit the board's flash or RAM."""

    def __init__(self, message: str, *, board: str, table: list[dict]) -> None:
        super().__init__(message, board=board)
        self.table = table


class ArenaError(BoardError):
    """TFLM on the board could not fit the model's tensors in the declared arena."""

    def __init__(self, message: str, *, board: str, declared: int | None, missing: int | None):
        super().__init__(message, board=board)
        self.declared = declared  # the arena the firmware declared (bytes)
        self.missing = missing  # what TFLM said it lacked (bytes), when it said so


class ToolchainError(TFLiteEdgeError):
    """A compiler, emulator or vendor tool that is missing or failed."""

    def __init__(self, message: str, *, tool: str) -> None:
        super().__init__(message)
        self.tool = tool


class SerialError(TFLiteEdgeError):
    """A serial port that cannot be opened, vanished, or stayed silent."""

    def __init__(self, message: str, *, port: str | None = None) -> None:
        super().__init__(message)
        self.port = port


class ProtocolError(SerialError):
    """A board that answered with something other than the TFLE protocol expected."""


class OutputExistsError(TFLiteEdgeError):
    """An output directory that holds files we did not write."""

    def __init__(self, message: str, *, path: str, found: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.found = found  # the foreign files, as shown in the message


# Argument checks that several stages share, so that each says the same thing.

MAX_RUNS = 1_000_000  # the harness counts runs in a uint32; a million is days of QEMU already


def check_runs(runs: object, *, optional: bool = False) -> None:
    """`runs` (timed runs of the board harness) is an int in [1, MAX_RUNS], or None if optional."""
    if optional and runs is None:
        return
    if not isinstance(runs, int) or isinstance(runs, bool) or not 1 <= runs <= MAX_RUNS:
        raise TFLiteEdgeError(
            f"runs must be an integer from 1 to {MAX_RUNS:,}, found {runs!r}; e.g. 10"
        )


def check_sparsity(sparsity: object) -> None:
    """`sparsity` (the share of weights pruned to zero) is a real number in [0, 1)."""
    ok = isinstance(sparsity, numbers.Real) and not isinstance(sparsity, bool)
    if not (ok and 0.0 <= float(sparsity) < 1.0):  # NaN fails too
        raise TFLiteEdgeError(
            f"sparsity must be in [0, 1) (the share of weights set to zero), found {sparsity!r}; "
            "e.g. 0.75 for 75 % zeros"
        )


def check_timeout(timeout: object) -> None:
    """`timeout` is a finite number of seconds above 0."""
    ok = isinstance(timeout, (int, float)) and not isinstance(timeout, bool)
    if not (ok and math.isfinite(timeout) and timeout > 0):
        raise TFLiteEdgeError(
            f"timeout must be a positive number of seconds, found {timeout!r}; e.g. 30"
        )
