"""The tour's step renderers (explorer/ui/pages/tour.py lays out the page and picks one).

Each step_N(c) draws one step from a TourContext: text through c.t (explorer/i18n), numbers from
explorer/tour.py and explorer/inference.py through explorer/ui/cache.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from explorer import analyses, figures, latents, tour
from explorer.ui import cache, waiting
from explorer.ui.bridge import finite_figure, static_chart
from explorer.ui.context import KINDS, LABELS, PageEnd, View
from explorer.ui.lab_sections import lab_text
from explorer.ui.lang import current
from explorer.ui.text import plain
from explorer.ui.widgets import show_images
from training.bank import Bank
from training.lab import RESULTS as LAB_RESULTS
from training.store import BUNDLED, family_siblings, find_sets

HOLE_GRID = 64
# Test codes a step's chart draws, spread through the split: each is an SVG node in the browser, and with all
# 1,000 of a moons split steps 2 and 3 took 3 s to draw in Chromium; the full pages draw every code.
MAP_POINTS = 250
SPARSE_1D = "moons-sparse-1d"  # the tutorial's own 1-D code (step 6)
SPARSE_2D = "moons-sparse-2d"  # steps 7-8 integrate the posterior: they need a 2-D code
code = latents.format_code


@dataclass
class TourContext:
    """What every step reads: the language's tr, the chosen pair and its two endpoint items."""

    t: Callable[..., str]
    view: View
    models: dict  # kind -> model
    crescent: int
    full: int
    state: dict  # query parameters every "open in the full page" link carries

    @property
    def bank(self) -> Bank:
        """The reference bank, built when a step first needs it (step 1 does not: a fresh server's first view
        no longer waits on it)."""
        return cache.bank(self.view.path, self.view.stamp)

    @property
    def x(self):
        return self.view.dataset.test.x  # (N, C, H, W)

    @property
    def vae(self):
        return self.models["vae"]


@st.cache_resource(max_entries=64, show_spinner=False)
def step_chart(key: tuple, _build: Callable[[], go.Figure], _label: str) -> str | go.Figure:
    """A step's chart as SVG text by everything it draws (key: the chart, its pair's path and stamp, the language,
    the controls' values): built and translated once, then only sent (building the figure took 40-130 ms). A
    figure the translator refuses is kept as the figure, made finite, for static_chart to draw with Plotly."""
    from explorer.svg_figure import Unsupported, figure_svg

    fig = _build()
    try:
        return figure_svg(fig, _label)
    except Unsupported:
        return finite_figure(fig)


@st.cache_resource(max_entries=64, show_spinner=False)
def step_data(key: tuple, _compute: Callable[[], object]):
    """What a step computed, by everything it depends on (key: the step, the pairs' paths and stamps, the controls'
    values; never the language): computed on its first showing, then read (step 10's claims took 40-100 ms)."""
    return _compute()


def chart(name: str, key: tuple, build: Callable[[], go.Figure], label: str) -> None:
    """The step's figure `name`, built by build() on its first showing for key in this language, drawn as static
    SVG (label: what it shows, for a screen reader): a Plotly chart took a step change 2-3x longer to draw in
    Chromium (bench/tour.py). Its interactive chart is on the full page the step links to."""
    static_chart(step_chart((name, current(), *key), build, label), key=f"tour_{name}")


def markdown_table(rows: list[dict]) -> str:
    """rows (dicts with the same keys) as a Markdown table: text in the step's element, where st.dataframe loads
    the grid's code and draws a canvas on every step change."""
    keys = list(rows[0])
    lines = ["| " + " | ".join(plain(k) for k in keys) + " |", "|" + "---|" * len(keys)]
    return "\n".join(lines + ["| " + " | ".join(plain(row[k]) for k in keys) + " |" for row in rows])


def prose(*paragraphs: str | None) -> None:
    """Paragraphs (None: left out) in one Markdown element: each element is a message the server hands over, and
    a step of a dozen took a Chromium step change 50-100 ms more than the same words in a few."""
    text = "\n\n".join(p for p in paragraphs if p)
    if text:
        st.markdown(text)


def full_page(c: TourContext, page: str, **params) -> None:
    query = {**c.state, **{k: str(v) for k, v in params.items()}}
    st.page_link(
        f"explorer/ui/pages/{page}.py", label=c.t("open_full"), icon=":material/open_in_new:", query_params=query
    )


def spread(n: int) -> np.ndarray:
    """Indices of at most MAP_POINTS of n items, evenly through them."""
    return np.unique(np.linspace(0, n - 1, min(n, MAP_POINTS)).astype(int))


def subset_caption(c: TourContext, total: int) -> None:
    """Say when a chart draws a spread of the split's codes, not all of them."""
    if total > MAP_POINTS:
        st.caption(c.t("tour_map_subset", shown=len(spread(total)), total=total))


def item_control(c: TourContext, key: str, label: str) -> int:
    return tour.item_at(c.view.dataset, st.slider(label, 0.0, 1.0, tour.CRESCENT, 0.01, key=key))


def conditional_sets():
    """(label set, half set, half set's test split) as {kind: model}; None where not bundled."""
    choices = find_sets("conditional")
    found = {}
    for condition in ("label", "half"):
        info = next((i for i in choices.values() if i.condition == condition and i.dataset == "digits"), None)
        info = info or next((i for i in choices.values() if i.condition == condition), None)
        if info is not None:
            found[condition] = (info, cache.model_set(str(info.path), info.stamp))
    if len(found) < 2:
        return None
    (label_info, label_set), (half_info, half_set) = found["label"], found["half"]
    as_dict = lambda s: {kind: s[kind].model for kind in ("cvae", "regression")}  # noqa: E731
    return (
        label_info,
        as_dict(label_set),
        half_info,
        as_dict(half_set),
        cache.dataset(str(half_info.path), half_info.stamp),
    )


def lab_results() -> dict | None:
    return cache.lab_results(str(LAB_RESULTS), LAB_RESULTS.stat().st_mtime) if LAB_RESULTS.is_file() else None


def step_1(c: TourContext) -> None:
    item = item_control(c, "tour_phase1", c.t("s1_control"))
    r = tour.reconstruction(c.models, c.view.codes, c.x, item)
    shown = [(r.image, c.t("cap_input"))] + [(r.decoded[k], c.t("cap_decode", model=LABELS[k])) for k in KINDS]
    show_images([image for image, _ in shown], [caption for _, caption in shown], target=112)
    prose(
        c.t("s1_codes", ae_code=code(r.ae_code), vae_mean=code(r.vae_mean), vae_std=code(r.vae_std)),
        c.t("s1_result", ae_mse=r.mse["ae"], ae_bce=r.bce["ae"], vae_mse=r.mse["vae"], vae_bce=r.bce["vae"]),
    )
    full_page(c, "latent_map", pick=item)


def step_2(c: TourContext) -> None:
    pos = st.slider(c.t("s2_control"), 0.0, 1.0, 0.5, 0.05, key="tour_t")
    h = tour.hole(c.models, c.view.codes, c.bank, c.crescent, c.full, pos)
    for kind in KINDS:
        st.caption(c.t("s2_strip", model=LABELS[kind], steps=tour.PATH_STEPS))
        show_images(h.interps[kind].strip, target=48)
    mid = h.midpoint
    st.markdown(
        c.t(
            "s2_result",
            t=pos,
            ae_t=h.distance_at_t["ae"],
            vae_t=h.distance_at_t["vae"],
            ae_mid=mid["ae"],
            vae_mid=mid["vae"],
        )
    )
    a, b = (0, 0) if c.view.latent_dim == 2 else (c.crescent, c.full)  # a 2-D grid is the whole plane
    maps = [("hole_map", (c.view.path, c.view.stamp, kind, a, b, HOLE_GRID)) for kind in KINDS]
    computed = waiting.results(maps, "long_task_hole_map", "tour_holes")
    if computed is None:  # its progress is drawn; the page reruns when the maps are ready
        raise PageEnd

    def build() -> go.Figure:
        panels = []
        for kind, (grid, dist) in zip(KINDS, computed):
            path = h.interps[kind].path
            panel = analyses.hole_panel(
                LABELS[kind], grid, dist, c.view.codes[kind].mean, path, c.crescent, c.full, c.t("path_name")
            )
            panels.append(panel if panel.codes is None else replace(panel, codes=panel.codes[spread(len(panel.codes))]))
        return figures.hole_maps(panels, c.t("fig_distance"), height=340, t=c.t)

    chart("holes", (c.view.path, c.view.stamp, c.crescent, c.full), build, c.t("s2_title"))
    if c.view.latent_dim == 2:  # codes are drawn only on a 2-D plane
        subset_caption(c, len(c.view.codes["vae"].mean))
    full_page(c, "compare", **line_state(c, pos))


def line_state(c: TourContext, t: float) -> dict:
    """The AE-vs-VAE page on step 2's line: the same endpoints, steps and path, its scrubber at t."""
    if "phase" in c.view.dataset.test.factors:
        ends = {"ends_mode": "by phase", "phase_a": tour.CRESCENT, "phase_b": tour.FULL}
    else:
        ends = {"ends_mode": "by index", "idx_a": c.crescent, "idx_b": c.full}
    return {**ends, "steps": tour.PATH_STEPS, "interp": "linear", "vae_codes": "posterior mean", "t": t}


def step_3(c: TourContext) -> None:
    st.latex(r"z = \mu + \sigma \odot \varepsilon,\qquad \varepsilon \sim \mathcal{N}(0, I)")
    eps = st.slider(c.t("s3_control"), -3.0, 3.0, 1.0, 0.1, key="tour_eps")
    s = tour.sample(c.vae, c.bank, c.x[c.crescent], eps)
    left, right = st.columns([1, 3])
    with left:
        show_images([s.decoded], [f"z = μ + {eps:g}·σ"], target=140)
    right.markdown(
        c.t("s3_result", z=code(s.z), grad_mean=code(s.grad_mean), grad_std=code(s.grad_std), distance=s.distance)
    )
    if c.view.latent_dim == 2:
        vae_codes = c.view.codes["vae"]

        def build() -> go.Figure:
            colouring, take = c.view.colouring(), spread(len(vae_codes.mean))
            panel = figures.MapPanel(c.t("s3_map"), vae_codes.mean[take], std=vae_codes.std[take], marker=s.z)
            if colouring.values is not None:
                colouring = replace(colouring, values=colouring.values[take])
            return figures.latent_maps([panel], colouring, height=380, t=c.t)

        chart("ellipses", (c.view.path, c.view.stamp, c.crescent, eps), build, c.t("s3_map"))
        subset_caption(c, len(vae_codes.mean))
    full_page(c, "latent_map", pick=c.crescent, ellipses="true")


def step_4(c: TourContext) -> None:
    st.latex(r"\sigma = \exp\!\left(\tfrac{1}{2}\log\sigma^2\right) > 0 \quad\text{" + c.t("s4_every_output") + "}")
    item = item_control(c, "tour_phase4", c.t("s4_control"))
    lv = tour.log_variance(c.view.codes["vae"], item)
    lo, hi = lv.split_std
    llo, lhi = lv.split_logvar
    prose(
        c.t("s4_result", logvar=code(lv.logvar), std=code(lv.std)),
        c.t("s4_split", lo=lo, hi=hi, ratio=lv.ratio, llo=llo, lhi=lhi, step=lv.step_change),
    )
    st.caption(c.t("s4_clamp", clo=lv.clamp[0], chi=lv.clamp[1]))
    sigma_information(c)
    full_page(c, "latent_map", pick=item, ellipses="true")


def sigma_information(c: TourContext) -> None:
    """Tutorial 002's information argument: a code pinned to sigma -> 0 would carry unbounded information;
    the bundled VAEs' encoder sigma, measured on their test splits, stays well above 0."""
    rows = [
        tour.sigma_row(info.id, cache.codes(str(info.path), info.stamp, "vae"))
        for info in find_sets("pair").values()
        if info.path.parent == BUNDLED and info.source == "torch"
    ]
    if not rows:
        return
    table = [
        {
            c.t("col_set"): r.set_id,
            c.t("col_dims"): r.latent_dim,
            c.t("col_sigma_min"): f"{r.quantiles[0]:.2e}",
            c.t("col_sigma_median"): f"{r.quantiles[2]:.3f} [{r.quantiles[1]:.3f}, {r.quantiles[3]:.3f}]",
            c.t("col_sigma_max"): f"{r.quantiles[4]:.3f}",
            c.t("col_entropy"): f"{r.entropy[1]:.2f} … {r.entropy[0]:.2f}",
            c.t("col_nats"): f"{r.nats:.2f}",
        }
        for r in rows
    ]
    lo, hi = min(r.quantiles[0] for r in rows), max(r.quantiles[4] for r in rows)
    most = max(rows, key=lambda r: r.nats)
    prose(
        c.t("s4_info", tiny=tour.gaussian_entropy(1e-6)),
        markdown_table(table),
        c.t(
            "s4_info_result",
            n=len(rows),
            lo=lo,
            hi=hi,
            hlo=tour.gaussian_entropy(lo),
            hhi=tour.gaussian_entropy(hi),
            nats=most.nats,
            pair=plain(most.set_id),
        ),
    )


def beta_rows(c: TourContext) -> list[tour.BetaRow]:
    """Every VAE pair of this dataset, measured on its own test split (codes cached)."""
    rows = []
    for info in find_sets("pair").values():
        if info.dataset == c.state["dataset"] or info.id == c.view.pair_id:
            path = str(info.path)
            beta = cache.model_set(path, info.stamp)["vae"].config.model.beta
            rows.append(tour.beta_row(info.id, beta, cache.codes(path, info.stamp, "vae")))
    return rows


def step_5(c: TourContext) -> None:
    beta = st.slider(c.t("s5_control"), 0.0, 4.0, 1.0, 0.1, key="tour_beta")
    k = tour.kl_term(c.vae, c.x[c.crescent], beta)
    mu, sd, kl = float(k.mean[0]), float(k.std[0]), float(k.per_dim[0])
    st.latex(
        r"\mathrm{KL}_d = \tfrac12\left(\mu_d^2 + \sigma_d^2 - 1 - \log\sigma_d^2\right);\quad "
        rf"d=0:\ \tfrac12\left({mu:.3f}^2 + {sd:.3f}^2 - 1 - \log {sd:.3f}^2\right) = {kl:.3f}"
    )
    st.markdown(
        c.t(
            "s5_result",
            per_dim=code(k.per_dim),
            kl=float(k.per_dim.sum()),
            recon=k.reconstruction,
            beta=beta,
            objective=k.objective,
            share=k.kl_share,
        )
    )
    rows = beta_rows(c)
    st.caption(c.t("s5_table"))
    table = [
        {
            c.t("col_set"): r.set_id,
            "β": r.beta,
            c.t("col_kl"): f"{r.mean_kl:.2f}",
            c.t("col_active"): f"{r.active}/{r.latent_dim}",
            c.t("col_collapsed"): r.collapsed,
        }
        for r in rows
    ]
    st.markdown(markdown_table(table))
    if len({r.beta for r in rows}) == 1:
        st.caption(c.t("s5_one_beta", beta=rows[0].beta))
    full_page(c, "train")


def use_pair(pair_id: str, dataset: str) -> None:
    """A button's callback: the sidebar's pair (and its dataset) before the next run draws them."""
    st.session_state["dataset"] = dataset
    st.session_state["pair"] = pair_id


def pair_switch(c: TourContext) -> None:
    """The tutorial's own example has a 1-D code: one click runs this step on the bundled 1-D pair, and back."""
    sets = find_sets("pair")
    other = SPARSE_2D if c.view.pair_id == SPARSE_1D else SPARSE_1D
    if other not in sets:
        return
    key = "s6_use_2d" if other == SPARSE_2D else "s6_use_1d"
    if st.button(
        c.t(key, pair=other),
        key="tour_use_pair",
        on_click=use_pair,
        args=(other, sets[other].dataset),
        icon=":material/swap_horiz:",
    ):
        st.rerun(scope="app")  # the step runs in a fragment: the sidebar and the context follow the new pair


def step_6(c: TourContext) -> None:
    pair_switch(c)
    steps = st.slider(c.t("s6_control"), 5, 21, tour.PATH_STEPS, 2, key="tour_steps")
    lab = (str(LAB_RESULTS), LAB_RESULTS.stat().st_mtime) if LAB_RESULTS.is_file() else ("", 0.0)
    request = (c.view.path, c.view.stamp, c.crescent, c.full, steps, *lab)
    m = waiting.result("tour_midpoint", request, "long_task_tour_midpoint", "tour_midpoint")
    if m is None:
        raise PageEnd
    for kind in KINDS:
        s = m.scores[kind]
        st.caption(c.t("s6_strip", model=LABELS[kind], mean=s["mean_distance"], max=s["max_distance"]))
        captions = [f"{p:.2f}" for p in s["phases"]] if "phases" in s else None
        show_images(m.interps[kind].strip, captions, target=64 if captions else 48)  # room for "0.25" under each
    if m.truth is not None:
        st.caption(c.t("s6_truth"))
        show_images(m.truth, target=48)
    paragraphs = []
    for kind in KINDS:
        s = m.scores[kind]
        phase = s["phases"][m.middle] if "phases" in s else float("nan")
        paragraphs.append(
            c.t(
                "s6_result",
                model=LABELS[kind],
                phase=phase,
                distance=s["distances"][m.middle],
                verdict=c.t("holds" if s.get("passes_half_moon") else "fails").lower(),  # mid-sentence
            )
        )
    for kind in KINDS if m.lab else ():
        cell = m.lab[kind]
        paragraphs.append(
            c.t(
                "s6_lab",
                model=LABELS[kind],
                passes=cell["c2f_passes_half_moon"]["mean"],
                passes_sd=cell["c2f_passes_half_moon"]["std"],
                dist=cell["c2f_mean_distance"]["mean"],
                dist_sd=cell["c2f_mean_distance"]["std"],
            )
        )
    config = c.view.pair["vae"].config
    if config.data.name == "moons":
        paragraphs += lab_lines(c, config.data.regime, c.view.latent_dim)
    prose(*paragraphs)
    whole_line(c)
    full_page(c, "half_moon", lab_a=tour.CRESCENT, lab_b=tour.FULL, lab_steps=steps)


def lab_lines(c: TourContext, regime: str, dim: int) -> list[str]:
    """The lab's sentences over seeds, each with its t-interval and sign-flip p (lab/results.json)."""
    return [
        c.t("s6_lab_verdict", regime=c.t("regime_" + regime), dim=dim, verdict=lab_line(c.t, row))
        for row in (lab_results() or {}).get("comparisons", [])
        if (row["regime"], row["latent_dim"]) == (regime, dim)
    ]


def lab_line(t, row: dict) -> str:
    """One of the lab's comparisons in t's language (the tour's, the lab page's); in English the lab's own sentence."""
    return lab_text(t, row)


def whole_line(c: TourContext) -> None:
    """The tutorial's 1-D code: the moons-sparse-1d pair's whole line, decoded, for both models."""
    info = find_sets("pair").get(SPARSE_1D)
    if info is None:
        st.info(c.t("missing", what=SPARSE_1D))
        return
    path, stamp = str(info.path), info.stamp
    pair = cache.model_set(path, stamp)
    panels = waiting.result("line_panels", (path, stamp, tuple(LABELS.items())), "long_task_line_panels", "tour_line")
    if panels is None:
        raise PageEnd
    real = [
        c.t("s6_line_real", model=p.title, real=int(p.real.sum()), n=len(p.codes)) for p in panels if p.real is not None
    ]
    st.markdown(c.t("s6_line", pair=plain(info.id), verdicts=" ".join(real)))
    chart("line_strips", (path, stamp), lambda: figures.line_strips(panels, t=c.t), c.t("s6_title"))
    if (c.view.latent_dim, c.view.pair_id) != (1, info.id):
        prose(*lab_lines(c, pair["vae"].config.data.regime, 1))


def inference_source(c: TourContext) -> tuple[str, str, float, int] | None:
    """(pair id, path, stamp, test item) of steps 7-8's image: this pair if 2-D, else the bundled sparse pair."""
    if c.view.latent_dim == 2:
        pair_id, path, stamp, data = c.view.pair_id, c.view.path, c.view.stamp, c.view.dataset
    else:
        info = find_sets("pair").get(SPARSE_2D)
        if info is None:
            return None
        pair_id, path, stamp = info.id, str(info.path), info.stamp
        data = cache.dataset(path, stamp)
    index = dict(zip(("crescent", "full"), tour.endpoints(data)))[st.session_state.get("tour_moon_pick", "crescent")]
    return pair_id, path, stamp, index


def inference_image(c: TourContext) -> tuple[str, int, object, tuple] | None:
    """(pair id, test item, ImageInference, its request) for step 7's image (an offloaded request: the page
    waits for it)."""
    found = inference_source(c)
    if found is None:
        return None
    pair_id, path, stamp, index = found
    r = waiting.result("inference", (path, stamp, index), "long_task_inference", "tour_inference")
    if r is None:
        raise PageEnd
    return pair_id, index, r, (path, stamp, index)


def infinite_mixture(c: TourContext, log_px: float) -> None:
    """p(x) as a mixture of the decoder's Gaussians p(x|z) over the prior: a few components, their weights,
    and the sum over ever finer grids of them against the exact log p(x)."""
    pair_id, path, stamp, index = inference_source(c)
    m = waiting.result("tour_mixture", (path, stamp, index), "long_task_tour_mixture", "tour_mixture")
    if m is None:  # its progress is drawn; the page reruns when the sum is ready
        return
    st.latex(r"p(x) = \int p(x|z)\,p(z)\,dz \;\approx\; \sum_k w_k\, p(x|z_k),\quad w_k = p(z_k)\,h^2")
    sums = ", ".join(f"{n}×{n}: {v:.2f}" for n, v in m.log_px.items())
    st.markdown(c.t("s7_mixture", item=index, sums=sums, exact=log_px, mass=m.prior_mass))
    captions = [
        c.t("s7_component", z=code(z, 2), w=w, share=share) for z, w, share in zip(m.codes, m.weights, m.shares)
    ]
    show_images(m.decodes, captions, target=64)
    st.markdown(
        c.t("s7_mixture_result", shown=len(m.codes), share=float(m.shares.sum()), needed=m.needed, n=m.components)
    )


def step_7(c: TourContext) -> None:
    st.latex(r"\log p(x) = \mathrm{ELBO}(q) + \mathrm{KL}\big(q(z|x)\,\|\,p(z|x)\big)")
    moon = st.segmented_control(
        c.t("s7_control"),
        ["crescent", "full"],
        key="tour_moon",
        default="crescent",
        format_func=lambda m: c.t(f"moon_{m}"),
    )
    st.session_state["tour_moon_pick"] = moon or "crescent"  # kept for step 8 (widget state is dropped off-page)
    found = inference_image(c)
    if found is None:
        st.info(c.t("missing", what=f"a 2-D pair ({SPARSE_2D})"))
        return
    pair_id, index, r, request = found
    chart("posterior", request, lambda: figures.posterior_map(r, height=420, t=c.t), c.t("s7_title"))
    st.latex(rf"{r.log_px:.2f} = {r.elbo:.2f} + {r.kl_posterior:.2f}")
    gap = max(r.kl_posterior, 1e-12)
    prose(
        c.t(
            "s7_result",
            pair=plain(pair_id),
            item=index,
            log_px=r.log_px,
            recon=r.reconstruction,
            kl_prior=r.kl_prior,
            elbo=r.elbo,
            elbo_se=r.elbo_se,
            draws=r.n_samples,
            gap=r.kl_posterior,
        ),
        c.t(
            "s7_estep",
            star=r.elbo_star,
            star_se=r.elbo_star_se,
            gap=r.kl_posterior,
            amort=r.amortisation_gap,
            share=r.amortisation_gap / gap,
            approx=r.approximation_gap,
        ),
    )
    infinite_mixture(c, r.log_px)
    family_line_7(c, pair_id, index)
    full_page(c, "inference", pair=pair_id, pick=index)


def family_line_7(c: TourContext, pair_id: str, index: int) -> None:
    """Issue 28: the full-covariance family on the same decoder, one live number."""
    info = find_sets("pair").get(pair_id)
    if info is None:
        return
    same = waiting.result("same_decoder", (str(info.path), info.stamp, index), "long_task_same_decoder", "tour_same")
    if same is None:
        return
    gaps = {f: same[f].approximation[0] for f in ("diag", "full")}
    gaps |= {f"{f}_se": same[f].approximation_se[0] for f in ("diag", "full")}
    st.markdown(c.t("s7_families", **gaps))


def family_line_8(c: TourContext, pair_id: str) -> str | None:
    """Issue 28: the IWAE-50-trained sibling's exact NLL beside this pair's, one live number each (None: no
    such sibling, or no exact NLL measured)."""
    siblings = family_siblings(pair_id)  # found by what they are (store.sibling_key), not by name
    base, trained = siblings.get("diag"), siblings.get("diag-iwae50")
    if base is None or trained is None:
        return None
    metrics = [cache.model_set(str(i.path), i.stamp)["vae"].metrics for i in (base, trained)]
    nll = [m.get("exact_nll") for m in metrics]
    if None in nll:
        return None
    n = metrics[1].get("exact_n_images")
    return c.t("s8_families", pair=plain(trained.id), iwae_nll=nll[1], elbo_nll=nll[0], n=n)


def step_8(c: TourContext) -> None:
    st.latex(r"\mathcal{L}_k = \mathbb{E}\Big[\log \tfrac{1}{k}\textstyle\sum_{i=1}^k \tfrac{p(x, z_i)}{q(z_i|x)}\Big]")
    found = inference_image(c)
    if found is None:
        st.info(c.t("missing", what=f"a 2-D pair ({SPARSE_2D})"))
        return
    pair_id, index, r, request = found
    k = st.select_slider(c.t("s8_control"), sorted(r.iwae), value=50 if 50 in r.iwae else max(r.iwae), key="tour_k")

    def curve() -> go.Figure:
        fig = figures.iwae_curve(r, t=c.t)
        return fig.update_traces(textposition=["bottom right"] * (len(r.iwae) - 1) + ["bottom left"])  # last inside

    chart("iwae", request, curve, c.t("s8_title"))
    prose(
        c.t(
            "s8_result",
            item=index,
            k=k,
            iwae=r.iwae[k],
            iwae_se=r.iwae_se[k],
            gap=r.log_px - r.iwae[k],
            log_px=r.log_px,
            elbo_gap=r.log_px - r.iwae[1],
            elbo_gap_se=r.iwae_se[1],
            ess=r.ess[k],
        ),
        family_line_8(c, pair_id),
    )
    full_page(c, "inference", pair=pair_id, pick=index)


def step_9(c: TourContext) -> None:
    sets = conditional_sets()
    if sets is None:
        st.info(c.t("missing", what="digits-label-cvae, digits-half-cvae"))
        return
    label_info, label_set, half_info, half_set, half_data = sets
    n_classes = label_set["cvae"].config.n_classes
    label = st.selectbox(c.t("s9_control"), list(range(n_classes)), key="tour_digit")
    key = ("conditional", str(label_info.path), label_info.stamp, str(half_info.path), half_info.stamp, label)
    cond = step_data(key, lambda: tour.conditional(label_set, half_set, half_data.test, label))
    left, right = st.columns([3, 1])
    with left:
        show_images(cond.samples[:12], target=44)
    with right:
        show_images([cond.mean_image], [c.t("cap_regression")], target=88)
    st.markdown(c.t("s9_result", n=len(cond.samples), label=label, spread=cond.sample_spread))
    done = cond.completion
    shown = [
        (half_data.test.x[cond.item].numpy(), c.t("cap_truth")),
        (done.given, c.t("cap_given")),
        (done.regression, c.t("cap_regression")),
    ]
    show_images([image for image, _ in shown], [caption for _, caption in shown], target=88)
    show_images(done.completions, [f"{d:.4f}" for d in done.mse], target=56)
    st.markdown(
        c.t(
            "s9_fill",
            item=cond.item,
            mask=c.t(f"mask_{tour.FILL_MASK}"),
            reg_mse=done.regression_mse,
            reg_sharp=done.regression_sharpness,
            n=len(done.mse),
            best=float(done.mse.min()),
            mean=float(done.mse.mean()),
            sharp=float(done.sharpness.mean()),
            diversity=done.diversity,
        )
    )
    full_page(
        c,
        "conditional",
        cond_label_set=label_info.id,
        cond_class=label,
        cond_half_set=half_info.id,
        cond_item=cond.item,
        cond_mask=tour.FILL_MASK,
    )


def step_10(c: TourContext) -> None:
    found = inference_image(c)

    def claims() -> list[tour.Claim]:
        recon = tour.reconstruction(c.models, c.view.codes, c.x, c.crescent)
        hole = tour.hole(c.models, c.view.codes, c.bank, c.crescent, c.full, 0.5)
        this = next(r for r in beta_rows(c) if r.set_id == c.view.pair_id)
        sets = conditional_sets()
        filled = tour.conditional(sets[1], sets[3], sets[4].test, 0) if sets else None
        return tour.closing(recon, hole, this, filled, found[2] if found else None)

    key = ("closing", c.view.path, c.view.stamp, c.state["dataset"], c.crescent, c.full, found and found[3])
    # One element for the lead-in and every claim (paragraphs): each element is a message the server hands over
    lines = [f"{CLAIM_MARKS[claim.verdict]} " + claim_text(c.t, claim) for claim in step_data(key, claims)]
    st.markdown("\n\n".join([c.t("s10_body"), *lines]))


CLAIM_MARKS = {
    "holds": ":green[:material/check_circle:]",
    "fails": ":orange[:material/cancel:]",
    "unclear": ":gray[:material/do_not_disturb_on:]",
}


def claim_text(t, claim: tour.Claim) -> str:
    """The tutorial's claim in its words, the numbers measured, then holds / does not hold / no clear
    difference (with the interval that left it undecided)."""
    if claim.verdict == "unclear":
        low, high = claim.interval
        verdict = t("unclear_interval", low=low, high=high)
    else:
        verdict = t(claim.verdict)
    return t("claim", claim=t(f"c_{claim.name}"), numbers=t(f"c_{claim.name}_numbers", **claim.values), verdict=verdict)


STEPS = {
    1: step_1,
    2: step_2,
    3: step_3,
    4: step_4,
    5: step_5,
    6: step_6,
    7: step_7,
    8: step_8,
    9: step_9,
    10: step_10,
}
