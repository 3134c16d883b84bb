"""README.md's result sections are generated (training/report.py): each block is what the command writes."""

import re
from pathlib import Path

import pytest

from training.errors import LatentExplorerError
from training.report import BLOCKS, blocks, render

ROOT = Path(__file__).resolve().parent.parent


def test_every_generated_readme_block_is_what_the_report_command_writes():
    text = (ROOT / "README.md").read_text()
    found = blocks(text)
    assert set(found) == set(BLOCKS)  # every generator has its block, and no block lacks one
    written = blocks(render(text))
    for name, body in found.items():
        assert body == written[name], f"README block {name!r} differs: run `python -m training report`"


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_a_hand_edited_number_in_a_block_is_caught(name):
    text = (ROOT / "README.md").read_text()
    body = blocks(text)[name]
    digits = list(re.finditer(r"\d", body))
    assert digits, f"block {name!r} shows no number"
    for digit in (digits[0], digits[len(digits) // 2], digits[-1]):  # first, middle, last
        edited_body = body[: digit.start()] + str((int(digit[0]) + 1) % 10) + body[digit.end() :]
        edited = text.replace(body, edited_body)
        assert blocks(edited)[name] != body and blocks(render(edited))[name] == body, (name, digit.start())


def test_an_unknown_block_is_refused():
    with pytest.raises(LatentExplorerError, match="no generator"):
        render("<!-- generated: nope -->\nx\n<!-- /generated: nope -->")
