"""The table of model kinds: what each is called and drawn in, and which set it belongs to.

Keys are ModelConfig.kind and training.models.MODELS's keys (a test holds them equal). Imports
nothing, so config, models, the CLI and the app's figures all read the one table.
"""

from __future__ import annotations

from typing import NamedTuple


class Kind(NamedTuple):
    label: str  # how people read it: logs, tables, captions, legends
    colour: str  # its line and marker colour in every figure (the CVAE draws as the VAE it extends)
    conditional: bool  # takes a condition c too (cvae, regression)


KINDS: dict[str, Kind] = {
    "ae": Kind("AE", "#d62728", False),
    "vae": Kind("VAE", "#1f77b4", False),
    "cvae": Kind("CVAE", "#1f77b4", True),
    "regression": Kind("Regression", "#7f7f7f", True),
}
PAIR_KINDS = tuple(k for k, v in KINDS.items() if not v.conditional)  # encode(x), decode(z): every page compares
CONDITIONAL_KINDS = tuple(k for k, v in KINDS.items() if v.conditional)  # the conditional set
LABELS = {kind: k.label for kind, k in KINDS.items()}
