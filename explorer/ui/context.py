"""The shared sidebar (dataset + pair) and what every page needs of the chosen pair."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from explorer import latents
from explorer.figures import Colouring
from explorer.projection import MAX_FIT_POINTS, Projection
from explorer.ui import cache, urlstate, waiting
from explorer.ui.lang import error_text, show_error, t
from explorer.ui.text import plain
from training import moons
from training.datasets import Dataset
from training.embeddings import DATA_NAME as EMBEDDINGS_DATA
from training.errors import LatentExplorerError
from training.kinds import KINDS as ALL_KINDS
from training.kinds import PAIR_KINDS as KINDS
from training.metric_text import metric_cells
from training.store import RUN_PREFIX, ModelSet, find_sets

SLOW_PROJECTIONS = tuple(MAX_FIT_POINTS)  # UMAP, t-SNE: fitted in the background (explorer/offload.py)

LABELS = {kind: ALL_KINDS[kind].label for kind in KINDS}  # the pair's, as every page names them


def metrics_table_help(m: dict) -> dict[str, str]:
    """Row -> help for the sidebar's metrics table (which way is better): BCE and active as on every page,
    the VAE's ELBO and NLL saying how this sidecar measured them."""
    draws = t("side_draws", n=m["elbo_samples"]) if "elbo_se" in m else t("side_one_draw_old")
    if "exact_nll" in m:
        how = t("side_nll_exact", n=m["exact_n_images"])
    elif "iwae_nll" in m:
        how = t("side_nll_iwae", k=m["iwae_k"])
    else:
        how = t("side_nll_none")
    floor = t("side_nll_floor", floor=m["bernoulli_floor"]) if "bernoulli_floor" in m else ""
    return {
        "BCE": t("help_bce"),
        "ELBO": t("side_help_elbo", draws=draws),
        "NLL": t("side_help_nll", how=how, floor=floor),
        t("side_active"): t("help_active"),
    }


def metrics_rows(pair: ModelSet, latent_dim: int) -> dict[str, dict[str, str]]:
    """Row (metric) -> {AE, VAE} -> text; '–' where a model has no such number (an AE has no likelihood).
    A set of one model (an ONNX import) has its one column."""
    names = {"BCE": "BCE", "ELBO": "ELBO", "NLL": "NLL", "active": t("side_active")}
    rows: dict[str, dict[str, str]] = {name: {} for name in names.values()}
    for kind in (k for k in KINDS if k in pair.members):
        cells = metric_cells(pair[kind].metrics, latent_dim, t("side_one_draw"), t("side_exact"))
        for key, name in names.items():
            rows[name][LABELS[kind]] = cells[key]
    return rows


class PageEnd(Exception):
    """A page has said why it shows no more; app.py ends it there. Not st.stop(): after st.stop() the
    sidebar's page links (drawn once the page has run) never reach the browser."""


@dataclass
class View:
    """The chosen pair with its data and test-split codes (all cached, read-only)."""

    pair_id: str
    path: str
    stamp: float
    pair: ModelSet
    dataset: Dataset
    codes: dict[str, latents.Codes]

    @property
    def latent_dim(self) -> int:
        return self.pair.lead.config.model.latent_dim

    @property
    def kinds(self) -> tuple[str, ...]:
        """The set's models: ae and vae for a pair, one of them for a single ONNX model."""
        return tuple(k for k in KINDS if k in self.pair.members)

    @property
    def encoding(self) -> tuple[str, ...]:
        """The models with an encoder: those with codes (self.codes) and a latent map."""
        return tuple(self.codes)

    @property
    def decoding(self) -> tuple[str, ...]:
        return tuple(k for k in self.kinds if getattr(self.model(k), "can_decode", True))

    def needs(self, need: str) -> None:
        """Stop the page with one line saying what it would need, when the set cannot give it:
        "pair" (an AE and a VAE, each with both halves), "encoder", "decoder", "density"."""
        has = {
            "pair": self.pair.kind == "pair",
            "encoder": bool(self.encoding),
            "decoder": bool(self.decoding),
            "density": "vae" in self.encoding and "vae" in self.decoding and self.model("vae").is_variational,
        }
        if not has[need] and self.embeddings:
            st.info(t("emb_needs", pair=plain(self.pair_id), what=t("emb_need_" + need)), icon=":material/info:")
            raise PageEnd
        if not has[need]:
            st.info(t("needs_" + need, pair=plain(self.pair_id), has=self.describe_members()), icon=":material/info:")
            raise PageEnd

    @property
    def embeddings(self) -> bool:
        """Codes a user brought (training/embeddings.py): no encoder, no decoder, maybe no images."""
        return self.pair.source == "embeddings"

    @property
    def has_images(self) -> bool:
        return getattr(self.model(self.kinds[0]), "has_images", True)

    def label(self, kind: str) -> str:
        """How pages name a model of the set: AE or VAE, or the embeddings."""
        return t("emb_label") if self.embeddings else LABELS[kind]

    def describe_members(self) -> str:
        """ "VAE: encoder and decoder" or "AE: decoder only": what each model of the set brought."""
        if self.embeddings:
            return t("emb_members", n=len(self.dataset.test), dim=self.latent_dim)
        parts = []
        for kind in self.kinds:
            model = self.model(kind)
            enc, dec = getattr(model, "can_encode", True), getattr(model, "can_decode", True)
            halves = "halves_both" if enc and dec else "halves_enc" if enc else "halves_dec"
            parts.append(t("set_member", model=LABELS[kind], halves=t(halves)))
        return t("list_sep").join(parts)

    def model(self, kind: str):
        return self.pair[kind].model

    def colouring(self) -> Colouring:
        test = self.dataset.test
        if test.y is not None:
            return Colouring(test.y.numpy(), "label", t("fig_label"), self.dataset.class_names)
        if "phase" in test.factors:
            return Colouring(test.factors["phase"], "factor", t("fig_phase"))
        return Colouring(None, "none")

    def describe_item(self, index: int) -> str:
        test = self.dataset.test
        if test.y is not None:
            names = self.dataset.class_names
            label = int(test.y[index])
            return t("item_label", label=names[label] if names else label)
        if "phase" in test.factors:
            return t("item_phase", phase=test.factors["phase"][index])
        return t("item_index", index=index)

    def default_item(self) -> int:
        """An informative first pick: the tutorial's crescent (moons.CRESCENT) on moons, else item 0."""
        phases = self.dataset.test.factors.get("phase")
        if phases is None or len(phases) == 0:
            return 0
        return moons.nearest_phase_index(phases, moons.CRESCENT)

    def projection_requests(self, method: str, params: tuple) -> list:
        """The long requests (explorer/offload.py) that fit a slow projection for each model with codes (both
        of a pair; one for a single model or embeddings)."""
        return [("projection", (self.path, self.stamp, kind, method, params)) for kind in self.encoding]

    def shown_projection(self) -> tuple[str, tuple]:
        """The projection the maps use: the URL's choice, or PCA while a slow one (UMAP, t-SNE) is still
        fitting in the background (the latent map page shows its progress)."""
        method, params = projection_choice()
        if self.latent_dim > 2 and method in SLOW_PROJECTIONS:
            if waiting.ready(self.projection_requests(method, params)) is None:
                return "pca", ()
        return method, params

    def projection(self, kind: str) -> Projection:
        method, params = self.shown_projection()
        if self.latent_dim > 2 and method in SLOW_PROJECTIONS:  # fitted by a worker, kept by the runner
            return dict(zip(self.encoding, waiting.ready(self.projection_requests(method, params))))[kind]
        return cache.projection(self.path, self.stamp, kind, method, params)

    def train_bank(self) -> np.ndarray:
        return cache.flat_train_images(self.path, self.stamp)

    def train_codes(self, kind: str) -> latents.Codes:
        return cache.codes(self.path, self.stamp, kind, "train")


def projection_progress(view: View) -> None:
    """On a page that maps a >2-D pair's codes: the progress of the slow projection the URL asks for while it
    fits in the background (the maps show PCA meanwhile, and the page reruns when it is ready)."""
    method, params = projection_choice()
    if view.latent_dim > 2 and method in SLOW_PROJECTIONS:
        waiting.results(view.projection_requests(method, params), "long_task_projection", "projection")


def projection_choice() -> tuple[str, tuple]:
    """(method, sorted params) applied on the latent map page (URL: proj, proj_<param>); PCA until another runs."""
    from explorer.projection import PROJECTIONS

    method = urlstate.read("proj", "pca")
    if method not in PROJECTIONS:
        method = "pca"
    # only the chosen method's parameters are read, so only they stay in the URL
    params = {name: urlstate.read(f"proj_{name}", p.default) for name, p in PROJECTIONS[method].params.items()}
    return method, tuple(sorted(params.items()))


def describe_projection(method: str, params: tuple) -> str:
    """ "t-SNE (perplexity 30)": the projection in use, for captions and titles."""
    from explorer.projection import PROJECTIONS

    shown = t("list_sep").join(f"{t('proj_' + n)} {v:g}" for n, v in params)
    return PROJECTIONS[method].label + (f" ({shown})" if shown else "")


def apply_projection(method: str, values: dict) -> None:
    """Make (method, values) the projection in use: into Session State, and so into the URL."""
    st.session_state["proj"] = method
    for name, value in values.items():
        st.session_state[f"proj_{name}"] = value


def describe_training(pair: ModelSet) -> str:
    c = pair.lead.config
    if pair.source == "embeddings":  # codes brought as they are: nothing was trained here
        return t("side_emb_describe", n=pair.lead.data_stats["n_test"], dim=c.model.latent_dim)
    if pair.source == "onnx":  # graphs from elsewhere: no architecture or schedule of ours to tell
        data = c.data.name + (f" ({c.data.regime})" if c.data.name == "moons" else "")
        return t("side_onnx_describe", data=data, latent=c.model.latent_dim)
    arch = f"{c.model.family.upper()} {'-'.join(map(str, c.model.hidden))}"
    data = c.data.name + (t("side_regime", regime=t("regime_" + c.data.regime)) if c.data.name == "moons" else "")
    beta = f", β={c.model.beta:g}" if c.model.beta != 1 else ""
    n_train = pair["vae"].data_stats.get("n_train", "?")
    return t(
        "side_training",
        data=data,
        n_train=n_train,
        arch=arch,
        dim=c.model.latent_dim,
        beta=beta,
        epochs=c.train.epochs,
        lr=f"{c.train.lr:g}",
        seed=c.train.seed,
    )


def model_sets() -> dict:
    """The sets the sidebar offers: pairs, and ONNX sets of one model or with a half missing (pages
    ask the set what it can do: View.needs)."""
    return {i: info for i, info in find_sets().items() if info.kind in ("pair", "onnx")}


def sidebar():
    """Dataset and pair choosers (under the language switch); state lives in the URL. Returns the sidebar
    box that pair_metrics fills once the page is drawn (its table imports pandas: not before the first map)."""
    choices = model_sets()
    asked = st.session_state.get("pair")
    if choices and asked is not None and asked not in choices:  # a pasted or old link: say what exists
        near = difflib.get_close_matches(str(asked), choices, n=NAMED_PAIRS, cutoff=0.4)
        near += [p for p in choices if p not in near][: NAMED_PAIRS - len(near)]  # a few names, and the count
        pairs = ", ".join(plain(p) for p in near)
        st.warning(
            t("side_unknown_pair", pair=plain(str(asked)), count=len(choices), pairs=pairs), icon=":material/warning:"
        )
    elif asked in choices and not st.session_state.get("_pair_seen"):  # a link's pair of another dataset
        st.session_state["dataset"] = choices[asked].dataset
    st.session_state["_pair_seen"] = True
    with st.sidebar:
        if not choices:
            st.error(t("side_no_pairs"))
            raise PageEnd
        datasets = sorted({info.dataset for info in choices.values()})
        default_dataset = "moons" if "moons" in datasets else datasets[0]
        urlstate.seed("dataset", default_dataset, options=datasets)
        dataset_name = st.selectbox(t("side_dataset"), datasets, key="dataset")
        options = [p for p, info in choices.items() if info.dataset == dataset_name]
        preferred = next((p for p in options if p.endswith("moons-sparse-2d")), options[0])
        urlstate.seed("pair", preferred, options=options)
        label = t("side_emb_set") if dataset_name == EMBEDDINGS_DATA else t("side_pair")
        st.selectbox(label, shown_pairs(options, choices), key="pair")
        view = current_view()
        st.caption(f"**{plain(view.pair_id)}**: {plain(describe_training(view.pair))}")  # the box cuts long names
        return st.container()


NAMED_PAIRS = 6  # pairs an unknown pair's warning names (the closest names), beside their count
PAIR_OPTIONS = 40  # pairs the chooser sends at most; beyond it a search box finds the others


def shown_pairs(options: list[str], choices: dict) -> list[str]:
    """The chooser's options: all of them up to PAIR_OPTIONS; beyond, a search box (transient, not in the URL)
    above it and the first PAIR_OPTIONS whose name contains its text, the bundled ones first and then the
    newest runs, always with the chosen pair."""
    if len(options) <= PAIR_OPTIONS:
        return options
    query = st.text_input(t("side_pair_search"), key="pair_find", placeholder=t("side_pair_search_hint")).strip()
    found = [p for p in options if query.lower() in p.lower()]
    found.sort(key=lambda p: (p.startswith(RUN_PREFIX), -choices[p].stamp if p.startswith(RUN_PREFIX) else 0))
    shown = found[:PAIR_OPTIONS]
    chosen = st.session_state.get("pair")
    if chosen in options and chosen not in shown:
        shown.insert(0, chosen)
    words = "side_pair_shown" if found else "side_pair_none"
    st.caption(t(words, shown=min(len(found), PAIR_OPTIONS), count=len(options), query=plain(query)))
    return shown


# Pages that read no model pair (their own sets instead): the sidebar shows neither the pair's chooser
# nor its metrics there, which would describe models the page does not use.
PAIRLESS = frozenset({"conditional"})


def pairless_sidebar() -> None:
    st.sidebar.caption(t("side_pairless"))


def pair_metrics(box) -> None:
    """The pair's key metrics into the sidebar box that sidebar() returned."""
    view = current_view()
    if view.embeddings:  # no model, so no metric of one
        return
    with box:
        # A markdown table, not st.dataframe: that imports pandas and loads the grid's JS while the
        # browser is still drawing a cold start's first map (0.5-1.5 s of both cores here).
        rows = metrics_rows(view.pair, view.latent_dim)
        labels = [LABELS[k] for k in view.kinds]
        table = f"| | {' | '.join(labels)} |\n|---|{'--:|' * len(labels)}\n" + "".join(
            f"| {name} | {' | '.join(plain(row[label]) for label in labels)} |\n" for name, row in rows.items()
        )
        st.markdown(table)
        lead = view.pair.lead
        collapse = collapse_warning(lead.metrics, lead.config.model.beta)
        if collapse:
            st.warning(collapse)
        told = metrics_table_help(lead.metrics)
        st.caption(t("side_metrics_caption"), help="  \n".join(f"**{name}**: {text}" for name, text in told.items()))


def collapse_warning(metrics: dict, beta: float) -> str | None:
    """A warning when the VAE uses few of its latent dimensions (posterior collapse)."""
    active, total = metrics.get("active_units"), metrics.get("latent_dim")
    if active is None or not total:
        return None
    advice = t("collapse_advice", beta=beta)
    if active == 0:
        return t("collapse_all", advice=advice)
    if total > 2 and active <= total // 2:
        return t("collapse_some", active=active, total=total, advice=advice)
    return None


def current_view() -> View:
    """The pair chosen in the sidebar, loaded through the caches; errors stop the page with st.error."""
    pair_id = st.session_state.get("pair")
    choices = model_sets()
    if pair_id not in choices:
        pair_id = next(iter(choices))
    path, stamp = str(choices[pair_id].path), choices[pair_id].stamp
    try:
        pair = cache.model_set(path, stamp)
        data = cache.dataset(path, stamp)
        encoding = [k for k in KINDS if k in pair.members and getattr(pair[k].model, "can_encode", True)]
        codes = {kind: cache.codes(path, stamp, kind) for kind in encoding}
    except (LatentExplorerError, OSError) as exc:
        show_error(t("err_open_pair", pair=plain(pair_id), error=error_text(exc)), exc)
        raise PageEnd
    return View(pair_id, path, stamp, pair, data, codes)


# What a page raises when a model's values are not finite or out of range (np.cov of inf, an SVD or a
# Cholesky that cannot converge), or a check in training/ refuses them: app.py shows the reason instead.
NUMERIC_FAILURES = (
    LatentExplorerError,
    np.linalg.LinAlgError,
    torch.linalg.LinAlgError,
    FloatingPointError,
    OverflowError,
)


def failure_reason(exc: BaseException) -> str:
    """The line a page shows for one of NUMERIC_FAILURES, in the reader's language."""
    from training.readers import unreadable

    if isinstance(exc, LatentExplorerError):
        return error_text(exc)
    return t("not_finite", error=plain(unreadable(exc)))
