"""The runtime registry: the CLI's --runtime choices, the errors for an unknown runtime, and
which runtime starts its own board (test_tflm_host_board.py: the tflm runtime on the host)."""

from __future__ import annotations

import argparse

import pytest

from conftest import SHARED_MODELS
from tflite_edge.boards import boards, family_of
from tflite_edge.cli import build_parser
from tflite_edge.errors import TFLiteEdgeError
from tflite_edge.runtimes import (
    AUTO,
    Runtime,
    RuntimeOptions,
    get_runtime,
    runtime_choices,
    runtime_names,
)


def _runtime_choices() -> dict[str, tuple[str, ...]]:
    """Every sub-command with a --runtime option, and its choices."""
    found = {}
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, p in sub.choices.items():
        for action in p._actions:
            if "--runtime" in action.option_strings:
                found[name] = tuple(action.choices)
    return found


def test_cli_runtime_choices_are_the_registry():
    found = _runtime_choices()
    assert set(found) >= {"render", "flash", "run", "validate", "demo"}
    for command, choices in found.items():
        assert choices == runtime_choices() == (AUTO, *runtime_names()), command


def test_auto_is_the_default_of_every_runtime_option():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    defaults = {
        name: action.default
        for name, p in sub.choices.items()
        for action in p._actions
        if "--runtime" in action.option_strings
    }
    assert defaults and set(defaults.values()) == {AUTO}, defaults


def test_every_runtime_is_registered_under_its_name():
    assert runtime_names()[0] == "aot"  # what auto prefers
    for name in runtime_names():
        runtime = get_runtime(name)
        assert isinstance(runtime, Runtime) and runtime.name == name and runtime.summary


@pytest.mark.parametrize("bad", ["tvm", "", None, 3])
def test_unknown_runtime_lists_the_known_ones(bad):
    with pytest.raises(TFLiteEdgeError) as err:
        get_runtime(bad)
    msg = str(err.value)
    known = ", ".join(runtime_choices())
    assert msg.startswith(f"unknown runtime {bad!r}; known runtimes: {known}")
    for name in runtime_names():
        assert f"{name}: {get_runtime(name).summary}" in msg


def test_a_runtime_needs_firmware_except_where_it_is_the_board(tmp_path):
    """Only the tflm runtime on a native board without a TFLM tree starts its board itself (the
    harness it builds with the tflite-micro package's interpreter); elsewhere the board's
    family flashes (on the host with a tree: the rendered project, built natively)."""
    model = SHARED_MODELS / "hello_world_int8.tflite"
    for name in runtime_names():
        runtime = get_runtime(name)
        for board in boards().values():
            if runtime.interprets and family_of(board).native:
                continue  # starts a process: test_flasher runs it
            where = tmp_path / name / board.name
            link = runtime.board_process(
                board, model, 1, where, lambda ours: None, RuntimeOptions()
            )
            assert link is None, (name, board.name)
            assert not where.exists()
