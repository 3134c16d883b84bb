"""README.md's result sections are generated (training/report.py): each block is what the command writes."""

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


def test_a_hand_edited_number_in_a_block_is_caught_and_an_unknown_block_refused():
    text = (ROOT / "README.md").read_text()
    body = blocks(text)["bundled"]
    edited = text.replace(body, body.replace("|", "| 1.00 |", 1))
    assert blocks(render(edited))["bundled"] == body != blocks(edited)["bundled"]
    with pytest.raises(LatentExplorerError, match="no generator"):
        render("<!-- generated: nope -->\nx\n<!-- /generated: nope -->")
