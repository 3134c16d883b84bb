"""README.md's result sections, generated: `python -m training report` (or `make docs`) rewrites every
block between `<!-- generated: NAME -->` and `<!-- /generated: NAME -->` from the files its numbers live
in (checkpoints/METRICS.md, written from the sidecars by `python -m training defaults`; lab/results.json,
written by `python -m training lab`). tests/test_report.py fails when a block differs from what this
would write, so no number in those blocks is typed by hand.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

from .errors import LatentExplorerError

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(<!-- generated: (?P<name>[a-z-]+) -->\n)(?P<body>.*?)(<!-- /generated: (?P=name) -->)", re.S)


def bundled_table(root: Path) -> str:
    """The bundled pairs' test-split table, as checkpoints/METRICS.md has it."""
    lines = (root / "checkpoints" / "METRICS.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| pair |"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end]) + "\n"


def lab_section(root: Path) -> str:
    """The half-moon lab's command, verdicts and density finding, from lab/results.json."""
    from .lab import _phase_section, _verdicts, lab_command, phase_sentence

    results = json.loads((root / "lab" / "results.json").read_text())
    lab = results["config"]
    pairs = sum(len(c["per_seed"]) for c in results["cells"]) // 2
    lines = [
        f"`{lab_command(lab)}`: {pairs} pairs, {lab['epochs']} epochs each. Every number, per seed and as mean "
        "± std, is in [`lab/results.md`](lab/results.md); the verdicts over seeds:",
    ]
    lines += _verdicts(results)[3:]  # without its heading
    curves = results.get("phase_curves") or {}
    if curves:
        lines += ["", _phase_section(results)[3]]  # the section's explanation
        lines += [""] + [f"- {phase_sentence(regime, f)}" for regime, f in curves.items()]
    return "\n".join(lines) + "\n"


BLOCKS: dict[str, Callable[[Path], str]] = {"bundled": bundled_table, "lab": lab_section}


def render(text: str, root: Path = ROOT) -> str:
    """text with every generated block rewritten; an unknown block name is an error."""

    def fill(match: re.Match) -> str:
        name = match["name"]
        if name not in BLOCKS:
            raise LatentExplorerError(f"README block {name!r} has no generator (known: {', '.join(BLOCKS)})")
        return match.group(1) + BLOCKS[name](root) + match.group(4)

    return BLOCK.sub(fill, text)


def blocks(text: str) -> dict[str, str]:
    return {m["name"]: m["body"] for m in BLOCK.finditer(text)}


def report(root: Path = ROOT, check: bool = False) -> list[str]:
    """Rewrite README.md's generated blocks (check: only say which differ). Returns the differing names."""
    path = root / "README.md"
    text = path.read_text()
    new = render(text, root)
    stale = [name for name, body in blocks(text).items() if blocks(new)[name] != body]
    if stale and not check:
        partial = path.with_name(path.name + ".tmp")
        partial.write_text(new)
        partial.replace(path)
    return stale
