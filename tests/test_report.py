"""Both READMEs' result sections are generated (training/report.py): each block is what the command writes."""

import re
from pathlib import Path

import pytest

from training.errors import LatentExplorerError
from training.report import READMES, blocks, render

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("readme", sorted(READMES))
def test_every_generated_readme_block_is_what_the_report_command_writes(readme):
    text = (ROOT / readme).read_text()
    found = blocks(text)
    assert set(found) == set(READMES[readme])  # every generator has its block, and no block lacks one
    written = blocks(render(text, generators=READMES[readme]))
    for name, body in found.items():
        assert body == written[name], f"{readme} block {name!r} differs: run `python -m training report`"


@pytest.mark.parametrize(("readme", "name"), [(readme, name) for readme, names in READMES.items() for name in names])
def test_a_hand_edited_number_in_a_block_is_caught(readme, name):
    text = (ROOT / readme).read_text()
    body = blocks(text)[name]
    digits = list(re.finditer(r"\d", body))
    assert digits, f"block {name!r} shows no number"
    for digit in (digits[0], digits[len(digits) // 2], digits[-1]):  # first, middle, last
        edited_body = body[: digit.start()] + str((int(digit[0]) + 1) % 10) + body[digit.end() :]
        edited = text.replace(body, edited_body)
        rendered = blocks(render(edited, generators=READMES[readme]))[name]
        assert blocks(edited)[name] != body and rendered == body, (name, digit.start())


def test_an_unknown_block_is_refused():
    with pytest.raises(LatentExplorerError, match="no generator"):
        render("<!-- generated: nope -->\nx\n<!-- /generated: nope -->")


# What may stay typed outside generated blocks: not results but names, notation and settings.
ALLOWED = (
    r"Python 3\.[0-9]+\+",  # a version
    r"(?:et\s+al\.|Welling|Duvenaud),?\s+\(?(?:19|20)[0-9]{2}\)?",  # citation years
    r"[0-9]+-D\b|[0-9]+x[0-9]+",  # dimension words: 2-D, 28x28
    r"±?[0-9](?:/[0-9])*σ",  # ±1σ, 1/2/3σ ellipses
    r"\[0, 1\]",  # a value range
    r"β [<>=] 1\b",  # the ELBO's β
    r"N\(0, I\)",  # the prior
    r"SHA-256|float32|float64|uint8|bf16|mnist5k|-[0-9]+d\b|tf2onnx|jax2onnx",  # names with digits in them
    r"rank [01]\b",  # the processes torch.distributed names
    r"issue [0-9]+",  # issue numbers
    r"\b[0-9]+ · ",  # the tour's step numbers
    r"\b[0-9]+ px",  # screenshot and layout widths: settings of the screenshot scripts
    r"0 new, 0\.25 half, 0\.5 full",  # what a moon's phase means
    r"fig(?:ure|\.) [0-9]",  # a cited paper's figure
    r"\b404\b",  # an HTTP status
)
NOT_PROSE = (
    r"<!-- generated: (?P<name>[a-z0-9-]+) -->.*?<!-- /generated: (?P=name) -->",  # training/report.py's
    r"<!-- capacity table: .*?<!-- end of capacity table -->",  # bench/load.py's (tests/test_bench.py)
    r"```.*?```",  # commands and code
    r"`[^`]*`",  # inline commands, flags, paths
    r"\]\([^)]*\)",  # link targets
)


def typed_numbers(text: str) -> list[str]:
    """The numbers a README shows outside generated blocks, code and the allow-list, with their context."""
    for pattern in NOT_PROSE + ALLOWED:
        text = re.sub(pattern, " ", text, flags=re.S)
    return [text[max(0, m.start() - 40) : m.end() + 40] for m in re.finditer(r"[0-9]", text)]


@pytest.mark.parametrize("readme", ["README.md", "README.zh-CN.md"])
def test_no_number_is_typed_outside_generated_blocks(readme):
    assert typed_numbers((ROOT / readme).read_text()) == []


def test_a_typed_number_outside_the_blocks_is_caught():
    assert typed_numbers("Uploads up to 50 MiB.\n") and not typed_numbers("a 2-D VAE, `--k 50`\n")
