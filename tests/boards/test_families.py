"""The board family registry: every board file names a known family, an unknown one is
refused with the known ones, and each family's behaviour is found by lookup."""

from __future__ import annotations

import re

import pytest

from tflite_edge.boards import FAMILIES, _load, boards, boards_of, family_of
from tflite_edge.boards.families import Family, family_names, get_family
from tflite_edge.errors import BoardError
from tflite_edge.resources import boards_dir


def test_families_come_from_the_registry():
    assert FAMILIES == family_names()
    assert len(set(FAMILIES)) == len(FAMILIES)
    for name in FAMILIES:
        family = get_family(name)
        assert isinstance(family, Family) and family.name == name


def test_every_board_has_a_registered_family():
    for b in boards().values():
        assert family_of(b) is get_family(b.family)
    # boards_of() partitions the registry by family.
    parts = [set(boards_of(name)) for name in FAMILIES]
    assert set().union(*parts) == set(boards())
    assert sum(len(p) for p in parts) == len(boards())


def test_unknown_family_in_a_board_file_lists_the_known_ones(tmp_path):
    text = (boards_dir() / "qemu-m4.toml").read_text()
    bad = tmp_path / "qemu-m4.toml"
    bad.write_text(re.sub(r"^family = .*$", 'family = "stm32cube"', text, flags=re.M))
    with pytest.raises(BoardError) as err:
        _load(bad)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg == f"board qemu-m4: family 'stm32cube' is not one of {', '.join(FAMILIES)}"
    assert err.value.board == "qemu-m4"


def test_unknown_family_name_is_refused_with_the_known_ones():
    with pytest.raises(BoardError) as err:
        get_family("stm32cube")
    for name in FAMILIES:
        assert name in str(err.value)


@pytest.mark.parametrize("name", list(boards_of("qemu")))
def test_a_qemu_board_needs_its_machine(tmp_path, name):
    text = (boards_dir() / f"{name}.toml").read_text()
    bad = tmp_path / f"{name}.toml"
    bad.write_text(re.sub(r"^qemu_machine = .*\n", "", text, flags=re.M))
    with pytest.raises(BoardError, match="a qemu board needs qemu_machine"):
        _load(bad)


def test_the_image_path_is_the_familys():
    for b in boards().values():
        family = family_of(b)
        if family.makefile:  # firmware/boards/<board>/board.mk names the same image
            mk = (b.firmware_dir() / "board.mk").read_text()
            common = (b.firmware_dir().parent / "common" / "cortexm.mk").read_text()
            assert f"$(BUILD)/{family.image_name}" in mk + common
