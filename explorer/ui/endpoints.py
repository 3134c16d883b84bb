"""The two ends of a path (AE vs VAE, the Half-moon lab): by phase, by class, by test item, or picked on the map."""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer import latents
from explorer.figures import PROBE
from explorer.ui import urlstate
from explorer.ui.context import View
from explorer.ui.lang import t
from training.moons import CRESCENT, FULL, nearest_phase_index


def phase_pair(view: View, cols, keys: tuple[str, str], labels: tuple[str, str], help: str | None = None):
    """Two URL-bound phases; the test items nearest to them on the cycle."""
    phases = view.dataset.test.factors["phase"]
    urlstate.seed(keys[0], CRESCENT)  # a crescent to a full moon: the tutorial's question
    urlstate.seed(keys[1], FULL)
    pa = cols[0].number_input(labels[0], *urlstate.bounds(keys[0]), step=0.01, key=keys[0], help=help)
    pb = cols[1].number_input(labels[1], *urlstate.bounds(keys[1]), step=0.01, key=keys[1])
    return nearest_phase_index(phases, pa), nearest_phase_index(phases, pb)


def index_pair(view: View, cols, keys: tuple[str, str], labels: tuple[str, str]) -> tuple[int, int]:
    last = len(view.dataset.test) - 1
    defaults = different_items(view)
    for key, default in zip(keys, defaults):
        urlstate.seed(key, default, 0, last)
    a = cols[0].number_input(labels[0], 0, last, key=keys[0])
    return a, cols[1].number_input(labels[1], 0, last, key=keys[1])


def different_items(view: View) -> tuple[int, int]:
    """Two informative default endpoints: a crescent and a full moon on moons, the first items of two
    different classes on labelled data, else items 0 and 1."""
    test = view.dataset.test
    if "phase" in test.factors:
        phases = test.factors["phase"]
        return nearest_phase_index(phases, CRESCENT), nearest_phase_index(phases, FULL)
    if test.y is not None:
        labels = test.y.numpy()
        first = int(labels[0])
        other = np.flatnonzero(labels != first)
        return 0, int(other[0]) if len(other) else min(1, len(test) - 1)
    return 0, min(1, len(test) - 1)


def set_endpoint(panel: int, item: int, x: float, y: float) -> None:
    """A pick on the map sets endpoint A or B (as the click_sets radio says), then flips to the other."""
    if item != PROBE:
        target = "idx_a" if st.session_state.get("click_sets", "A") == "A" else "idx_b"
        st.session_state[target] = item
        st.session_state["click_sets"] = "B" if target == "idx_a" else "A"


def class_pair(view: View, cols) -> tuple[int | None, int | None]:
    """A class and which one of it, for each endpoint."""
    labels = view.dataset.test.y.numpy()
    classes = sorted(np.unique(labels).tolist())
    names = view.dataset.class_names or [str(c) for c in classes]
    out = []
    for col, end, index in zip(cols, "ab", (0, min(1, len(classes) - 1))):
        urlstate.seed(f"class_{end}", classes[index], options=classes)  # two different classes
        label = col.selectbox(
            t("cmp_class", end=end.upper()), classes, format_func=lambda c: names[c], key=f"class_{end}"
        )
        urlstate.seed(f"nth_{end}", 0)
        nth = col.number_input(t("cmp_which"), *urlstate.bounds(f"nth_{end}"), key=f"nth_{end}")
        out.append(latents.class_item(labels, label, nth))
    return out[0], out[1]
