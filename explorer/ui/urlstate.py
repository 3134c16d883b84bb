"""The URL's query parameters, parsed and clamped once, before any widget sees them.

A shared link is hostile until checked: `pick=inf` would reach a number input that converts to
int before it checks finiteness. app.py calls sanitise() before the sidebar and the page run.
Every bound parameter has a spec below (its type, range or allowed values); a value that does not
parse is dropped (the widget shows its default), a number out of range is clamped into it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass

MAX_TEXT = 200  # characters of any one parameter
INDEX_MAX = 1_000_000  # test items: the page clamps further to its split's size


@dataclass(frozen=True)
class Param:
    kind: str  # int | float | bool | text
    lo: float = -math.inf
    hi: float = math.inf
    choices: tuple[str, ...] | None = None  # text: the allowed values, where fixed


def _ints(lo: int, hi: int) -> Param:
    return Param("int", lo, hi)


def _hyperparameters() -> dict[str, Param]:
    """proj_<name>: each projection method's hyperparameters, bounded as the map's form offers them."""
    from explorer.projection import PROJECTIONS

    return {
        f"proj_{name}": Param("int" if float(h.step).is_integer() else "float", h.low, h.high)
        for spec in PROJECTIONS.values()
        for name, h in spec.params.items()
    }


# A widget's option (a set, a class, a mode): only its text is bounded here. The page checks it
# against the options it offers, which may depend on the data, when it calls seed(key, options=...).
OPTION = Param("text")
SEED = _ints(0, 10_000)
INDEX = _ints(0, INDEX_MAX)
PHASE = Param("float", 0.0, 1.0)
KIND = OPTION  # ae, vae (an older link's "AE" is folded by seed)

SPECS: dict[str, Param] = {
    # sidebar
    "dataset": Param("text"),
    "pair": Param("text"),
    # the picked point, shown by the map, the Decoder and Drag: a test item, or a location in empty space
    "pick": INDEX,
    "at": Param("text"),  # "x,y" in the at_kind model's 2-D latent plane; parsed by widgets.probe_code
    "at_kind": KIND,
    # projection of >2-D codes (map, Decoder, AE vs VAE): the method applied and its parameters
    "proj": OPTION,  # a key of explorer.projection.PROJECTIONS
    **_hyperparameters(),
    # latent map
    "ellipses": Param("bool"),
    # drag
    "drag_model": KIND,
    "drag_server": Param("bool"),
    "dz": Param("text"),  # comma-separated floats, validated by the drag page against its box
    # compare
    "ends_mode": OPTION,
    "phase_a": PHASE,
    "phase_b": PHASE,
    "class_a": _ints(0, 999),
    "class_b": _ints(0, 999),
    "nth_a": _ints(0, 999),
    "nth_b": _ints(0, 999),
    "idx_a": INDEX,
    "idx_b": INDEX,
    "steps": _ints(3, 21),
    "interp": Param("text"),
    "vae_codes": OPTION,
    "noise_seed": SEED,
    "prior_seed": SEED,
    "t": Param("float", 0.0, 1.0),  # the scrubber's released t
    # half-moon lab
    "lab_a": PHASE,
    "lab_b": PHASE,
    "lab_ia": INDEX,
    "lab_ib": INDEX,
    "lab_steps": _ints(5, 21),
    "lab_seed": SEED,
    # decoder
    "dec_model": KIND,
    "grid_a": _ints(0, 127),
    "grid_b": _ints(0, 127),
    "grid_n": _ints(3, 15),
    # manifold grid
    "mgrid_n": _ints(5, 30),
    # train: a run's id (its folder name); the page looks it up among the server's runs, never as a path
    "run": Param("text"),
    # conditional
    "cond_label_set": Param("text"),
    "cond_half_set": Param("text"),
    "cond_class": _ints(0, 999),
    "cond_seed": SEED,
    "cond_item": INDEX,
    "cond_mask": OPTION,  # training.conditions.MASKS
    "cond_n": _ints(2, 16),
    "cond_fill_seed": SEED,
    # inference
    "inference_split": Param("bool"),
    "inference_methods": Param("bool"),
    # tour
    "lang": OPTION,  # the catalogues' languages
    "step": _ints(1, 10),
    "cond_tab": Param("text"),  # the tab's label
}
# Keys with a number in them: the decoder's z0..z127, the conditional page's cz0..cz127.
PATTERNS: list[tuple[re.Pattern, Param]] = [
    (re.compile(r"z\d{1,3}"), Param("float", -1e3, 1e3)),
    (re.compile(r"cz\d{1,3}"), Param("float", -3.0, 3.0)),
]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def spec_of(key: str) -> Param | None:
    if key in SPECS:
        return SPECS[key]
    return next((p for pattern, p in PATTERNS if pattern.fullmatch(key)), None)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse(key: str, text: str) -> str | None:
    """The value as the widget should see it, or None to drop the parameter."""
    if not isinstance(text, str) or len(text) > MAX_TEXT or _CONTROL.search(text):
        return None
    spec = spec_of(key)
    if spec is None or spec.kind == "text":
        return text if spec is None or spec.choices is None or text in spec.choices else None
    if spec.kind == "bool":
        return text.lower() if text.lower() in ("true", "false") else None
    value = _number(text)
    if value is None:
        return None
    value = min(max(value, spec.lo), spec.hi)
    return str(int(round(value))) if spec.kind == "int" else repr(float(value))


def _bad_key(key: str) -> bool:
    return len(key) > MAX_TEXT or bool(_CONTROL.search(key))


def sanitise(params: MutableMapping[str, str]) -> dict[str, str | None]:
    """Rewrite params in place; returns what changed (key -> new value, None if dropped)."""
    changed: dict[str, str | None] = {}
    for key in list(params.keys()):
        clean = None if _bad_key(key) else parse(key, params[key])
        if clean != params[key]:
            changed[key] = clean
    for key, clean in changed.items():
        if clean is None:
            del params[key]
        else:
            params[key] = clean
    return changed


def sanitise_snapshot(snapshot: dict[str, list[str]]) -> None:
    """The same for a parsed query string (key -> values); the last of repeated values counts."""
    for key in list(snapshot):
        values = snapshot[key]
        clean = None if _bad_key(key) or not values else parse(key, values[-1])
        if clean is None:
            del snapshot[key]
        else:
            snapshot[key] = [clean]


def _initial_snapshot() -> dict[str, list[str]] | None:
    """Streamlit seeds a bound widget from the URL as it was when the session (or page) opened,
    a copy kept apart from st.query_params; None if this Streamlit keeps it elsewhere."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    try:
        snapshot = get_script_run_ctx().session_state._state.query_params._initial_query_params
    except AttributeError:
        return None
    return snapshot if isinstance(snapshot, dict) else None


def apply() -> None:
    """Sanitise the running app's URL (and Streamlit's copy of it); call before any widget is drawn."""
    import streamlit as st

    sanitise(st.query_params)
    snapshot = _initial_snapshot()
    if snapshot is not None:
        sanitise_snapshot(snapshot)


# --- the view state: one value per key in Session State, mirrored into the URL -------------------
# Widgets are drawn with key= only (no value=, no bind=): seed() puts a valid value in Session State
# first, so no widget is given both a default and a Session State value. A page's URL carries the keys
# that page read in its last run (seed() and read() note them; PageReads below) plus the shared view,
# each only when it differs from its default: another page's values stay in the session (coming back
# finds them) but not in this page's link, and a parameter the page stopped reading (t-SNE's
# perplexity once PCA is chosen again) leaves the URL.

PUBLISHED = "_url_published"  # the query this session wrote last
DEFAULTS = "_url_defaults"  # key -> its default, as text
ORIGIN = "_origin_"  # a page's memory of where its values started (dropped when the URL is restored)
PAGE = "_url_page"  # the page the last full run showed (its url_path)
VALUES = "_url_values"  # every view key's value at the last publish: Streamlit drops a widget's value
# when its page is left right after a fragment changed it, and the next page's URL no longer carries it
READS = "_url_reads"  # page (its url_path) -> the keys it read in its last full run and the fragments since
# The shared view, in every page's URL: the set of models, the picked point and the language.
SHARED = frozenset({"dataset", "pair", "pick", "at", "at_kind", "lang"})


class PageReads:
    """The keys each page reads, noted as it runs: a page's full run starts its set afresh (begin), a
    fragment's rerun adds to it. A page's URL is made of these keys and SHARED, nothing else; its sidebar
    link elsewhere carries the same (page_query), and Back to it restores these keys only."""

    def __init__(self, state: MutableMapping):
        self.state = state
        self.pages = state.setdefault(READS, {})

    @property
    def current(self) -> str | None:
        return self.state.get(PAGE)

    def start(self, page: str) -> None:
        self.state[PAGE] = page
        self.pages[page] = set()

    def note(self, key: str, default=None) -> None:
        self.pages.setdefault(self.current, set()).add(key)
        if default is not None:
            self.state.setdefault(DEFAULTS, {})[key] = to_text(default)

    def keys_of(self, page: str | None) -> set[str]:
        """The keys `page` owns in the URL: SHARED and, once it has run in this session, what it read."""
        return set(SHARED) | self.pages.get(page, set())

    def page_query(self, page: str | None = None, values: Mapping | None = None) -> dict[str, str]:
        """The URL query of `page` (default: the one running) from Session State (or `values`, its view
        keys already read)."""
        keys = self.keys_of(self.current if page is None else page)
        return {k: v for k, v in view_query(self.state, values).items() if k in keys}


def read(key: str, default=None):
    """A view key read without a widget (the projection in use): noted for the URL; its value or default."""
    import streamlit as st

    PageReads(st.session_state).note(key, default)
    return st.session_state.get(key, default)


def to_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, ".6g")
    return str(value)


def typed(key: str, text: str):
    """A parsed URL value as Session State holds it (int, float, bool or str)."""
    spec = spec_of(key)
    kind = spec.kind if spec else "text"
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "bool":
        return text == "true"
    return text


def restore(state: MutableMapping, query: dict[str, str], keys: set[str] | None = None) -> None:
    """The URL is the truth (a reload, Back/Forward, a pasted link): its view keys into state, view keys
    it lacks back to their defaults (seed() puts them back): all of them, or only `keys` (the page's own
    and the shared ones: another page's values stay in the session)."""
    stale = [k for k in state.keys() if ours(k) and k not in query and (keys is None or k in keys)]
    for key in stale + [k for k in state.keys() if isinstance(k, str) and k.startswith(ORIGIN)]:
        del state[key]
    for key, text in query.items():
        if spec_of(key) is not None:
            state[key] = typed(key, text)


def view_values(state: MutableMapping) -> dict:
    """The view keys of state and their values, in one pass (each keys() rebuilds Streamlit's filtered copy)."""
    return {k: state[k] for k in state.keys() if ours(k)}


def view_query(state: MutableMapping, values: Mapping | None = None) -> dict[str, str]:
    """The view keys of state (or `values`, read from it) whose values differ from their defaults, as URL text."""
    defaults = state.get(DEFAULTS, {})
    if values is None:
        values = view_values(state)
    out = {}
    for key in sorted(values):
        text = to_text(values[key])
        if defaults.get(key) != text:
            out[key] = text
    return out


def bounds(key: str) -> tuple:
    """(lo, hi) of a numeric view key, from its spec: what its widget offers and seed() clamps to."""
    spec = spec_of(key)
    if spec is None or spec.kind not in ("int", "float") or not math.isfinite(spec.lo + spec.hi):
        raise KeyError(f"{key!r} has no bounded numeric spec")
    cast = int if spec.kind == "int" else float
    return cast(spec.lo), cast(spec.hi)


def seed(key: str, default, lo=None, hi=None, options=None):
    """Before the widget `key` is drawn: a valid value in Session State (the URL's or the user's,
    clamped into [lo, hi] or checked against options; else default). Returns it. Without lo, hi or
    options, a numeric key is clamped into its spec's bounds(key); a page passes narrower ones
    (the test split's last item, a code's range)."""
    import streamlit as st

    if lo is None and hi is None and options is None and isinstance(default, (int, float)):
        spec = spec_of(key)
        if spec is not None and spec.kind in ("int", "float") and math.isfinite(spec.lo + spec.hi):
            lo, hi = bounds(key)

    state = st.session_state
    PageReads(state).note(key)
    state.setdefault(DEFAULTS, {})[key] = to_text(default)
    value = state.get(key, default)
    if options is not None and value not in options:  # "AE" in an older link means "ae"
        folded = [o for o in options if isinstance(value, str) and str(o).lower() == value.lower()]
        value = folded[0] if folded else default
    if lo is not None and hi is not None:
        try:
            value = type(default)(min(max(value, lo), hi))
        except (TypeError, ValueError):
            value = default
    if state.get(key) != value or key not in state:
        state[key] = value
    return value


def _bound(key: str) -> bool:
    """A parameter bound to a widget with bind="query-params" is Streamlit's to keep, not ours."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    try:
        return bool(get_script_run_ctx().session_state._state.query_params.is_bound(key))
    except AttributeError:
        return False


# Parsed and clamped here like the rest, but written by their own page (the Train page's run id).
PAGE_OWNED = frozenset({"run"})


def ours(key) -> bool:
    return isinstance(key, str) and key not in PAGE_OWNED and spec_of(key) is not None and not _bound(key)


def begin(page: str | None = None) -> None:
    """Start of a run of `page` (its url_path), before any widget: restore from the URL when it is not the
    one we wrote, and keep every view key alive (Streamlit drops a widget's value when its page is left)."""
    import streamlit as st

    state = st.session_state
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx()
    query = {k: v for k, v in st.query_params.to_dict().items() if ours(k)}
    history = bool(getattr(ctx, "is_history_navigation", False))
    if page is None:
        page = getattr(ctx, "page_script_hash", None)
    reads = PageReads(state)
    switched = state.get(PAGE, page) != page
    for key, value in state.get(VALUES, {}).items():
        if key not in state:
            state[key] = value
    if PUBLISHED not in state:
        restore(state, query)
        state[PUBLISHED] = query
    elif history and state[PUBLISHED] != query:  # Back/Forward or a sidebar link: this page's keys
        restore(state, query, reads.keys_of(page))
        state[PUBLISHED] = query
    else:  # a widget rerun or a page link: Session State stays, with two exceptions
        for key, text in query.items():
            # a value Streamlit dropped on a page switch (a widget last changed inside a fragment),
            # or one the link sets apart from this session's view (the tour's "open in the full page")
            if key not in state or (switched and state[PUBLISHED].get(key) != text):
                state[key] = typed(key, text)
    reads.start(page)
    for key in [k for k in state.keys() if ours(k)]:
        state[key] = state[key]


def publish() -> None:
    """End of a run or fragment: the URL shows the view (unchanged URL: nothing sent, no history entry)."""
    import streamlit as st

    state = st.session_state
    values = view_values(state)  # one pass over Session State: a slider move runs this
    query = {k: v for k, v in PageReads(state).page_query(values=values).items() if not _bound(k)}
    current = st.query_params.to_dict()
    if {k: v for k, v in current.items() if ours(k)} != query:
        others = {k: v for k, v in current.items() if not ours(k)}  # another part's parameters stay
        if any(_bound(k) for k in others):  # from_dict may not touch them: change ours one by one
            for key in [k for k in current if ours(k) and k not in query]:
                del st.query_params[key]
            st.query_params.update(query)
        else:
            st.query_params.from_dict({**others, **query})  # one message: one history entry
    state[PUBLISHED] = query
    state[VALUES] = values
