"""bench/results.md, one block per section: `python -m bench --only a,b` re-measures those sections and
keeps every other section's block as it was, so a partial run never erases another's figures."""

from __future__ import annotations

import os
import re
import time

TITLE = "# Benchmarks"
INTRO = (
    "`make bench` (`python -m bench`) measures every section; `python -m bench --only a,b` re-measures "
    "those sections and keeps the others' blocks as they were. Within a section every comparison was "
    "measured side by side in the same run; its heading line gives when, how long and the machine's "
    "load average then (two cores shared with other work make timings pessimistic)."
)
HEADER = "| path | measured | target | side by side | verdict |\n|---|---|---|---|---|"
EARLIER = "earlier"  # a results.md written before sections had blocks: kept, minus re-measured rows
_BLOCK = re.compile(r"^## (\S+)", re.M)


def load_average() -> str:
    try:
        return ", ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def section_block(name: str, rows: list[str], notes: list[str], seconds: float, machine: str, quick: bool) -> str:
    command = f"python -m bench{' --quick' if quick else ''} --only {name}"
    lines = [
        f"## {name}",
        "",
        f"`{command}` (or `make bench`), {time.strftime('%Y-%m-%d %H:%M %Z')}, {seconds:.0f} s, load average "
        f"{load_average()} (1, 5, 15 min). Machine: {machine}.",
        "",
        HEADER,
        *rows,
        "",
    ]
    if notes:
        lines += ["Why the missed targets were missed, and what would close them:", "", *notes, ""]
    return "\n".join(lines)


def _blocks(text: str) -> dict[str, str]:
    """The section blocks of an existing results.md; a file from before blocks becomes one 'earlier' block."""
    starts = list(_BLOCK.finditer(text))
    if not starts:
        body = text.split("\n", 1)[1] if text.startswith(TITLE) else text
        return (
            {EARLIER: f"## {EARLIER}\n\nMeasured before results.md had one block per section:\n{body}"}
            if "|" in body
            else {}
        )
    return {
        m.group(1): text[m.start() : starts[i + 1].start() if i + 1 < len(starts) else len(text)].rstrip() + "\n"
        for i, m in enumerate(starts)
    }


def _path(line: str) -> str | None:
    """The path cell of a table row, or the path a note is about."""
    if line.startswith("| ") and not line.startswith("| path |"):
        return line.split(" | ", 1)[0][2:].strip()
    note = re.match(r"- \*\*(.+?)\*\*:", line)
    return note.group(1) if note else None


def merge(old: str | None, new: dict[str, str], order: list[str]) -> str:
    """results.md with the new blocks in place of their sections' old ones; the earlier block loses the
    rows (and notes) that a new block measures again, and goes when none are left."""
    blocks = _blocks(old or "")
    blocks.update(new)
    if EARLIER in blocks:
        fresh = {_path(line) for block in new.values() for line in block.splitlines()} - {None}
        kept = [line for line in blocks[EARLIER].splitlines() if _path(line) not in fresh]
        if any(_path(line) for line in kept):
            blocks[EARLIER] = "\n".join(kept).rstrip() + "\n"
        else:
            del blocks[EARLIER]
    names = [n for n in order if n in blocks] + sorted(set(blocks) - set(order))
    return "\n".join([TITLE, "", INTRO, "", *(blocks[n].rstrip() + "\n" for n in names)])
