"""Guided tour: the tutorial's argument step by step, every number computed live (issue 18).

Text comes from explorer/i18n (one catalogue per language), numbers from explorer/tour.py; this
page only lays them out. ?lang= and ?step= live in the URL (explorer/ui/urlstate.py).
"""

from functools import partial

import numpy as np
import streamlit as st

from explorer import analyses, figures, latents, tour, verdict
from explorer.i18n import LANGUAGES, tr
from explorer.ui import cache
from explorer.ui.context import KINDS, LABELS, current_view
from explorer.ui.keys import arrow_keys
from explorer.ui.text import plain
from explorer.ui.widgets import QP, pair_models, show_image, show_strip
from training.lab import RESULTS as LAB_RESULTS
from training.store import find_sets

HOLE_GRID = 64
SPARSE_1D, SPARSE_2D = (
    "moons-sparse-1d",
    "moons-sparse-2d",
)  # the tutorial's 1-D code (step 6); steps 7-8 need a 2-D one
code = latents.format_code


def go(delta: int) -> None:
    st.session_state["step"] = int(np.clip(st.session_state.get("step", 1) + delta, 1, tour.STEPS))


lang = st.segmented_control("Language · 语言 (en · 中文 zh)", LANGUAGES, key="lang", bind=QP, default="en")
t = partial(tr, lang or "en")
view = current_view()
models, x = pair_models(view), view.dataset.test.x
vae, bank = models["vae"], cache.bank(view.path, view.stamp)
crescent, full = tour.endpoints(view.dataset)
state = {"dataset": st.session_state.get("dataset", ""), "pair": view.pair_id}

st.title(t("page_title"))
st.markdown(t("intro", pair=plain(view.pair_id)))
step = st.segmented_control(t("step"), list(range(1, tour.STEPS + 1)), key="step", bind=QP, default=1) or 1
cols = st.columns([1, 1, 5])
cols[0].button(t("back"), key="tour_back", on_click=go, args=(-1,), disabled=step <= 1, icon=":material/arrow_back:")
cols[1].button(
    t("next"), key="tour_next", on_click=go, args=(1,), disabled=step >= tour.STEPS, icon=":material/arrow_forward:"
)
cols[2].caption(t("keys_hint"))
arrow_keys("tour_keys", "tour_back", "tour_next")
st.divider()


def full_page(page: str, **params) -> None:
    query = {**state, **{k: str(v) for k, v in params.items()}}
    st.page_link(
        f"explorer/ui/pages/{page}.py", label=t("open_full"), icon=":material/open_in_new:", query_params=query
    )


def item_control(key: str, label: str) -> int:
    return tour.item_at(view.dataset, st.slider(label, 0.0, 1.0, tour.CRESCENT, 0.01, key=key))


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


def step_1() -> None:
    item = item_control("tour_phase1", t("s1_control"))
    r = tour.reconstruction(models, view.codes, x, item)
    images = [(r.image, t("cap_input"))] + [(r.decoded[k], t("cap_decode", model=LABELS[k])) for k in KINDS]
    for col, (image, caption) in zip(st.columns(6), images):
        with col:
            show_image(image, caption, target=112)
    st.markdown(t("s1_codes", ae_code=code(r.ae_code), vae_mean=code(r.vae_mean), vae_std=code(r.vae_std)))
    st.markdown(t("s1_result", ae_mse=r.mse["ae"], ae_bce=r.bce["ae"], vae_mse=r.mse["vae"], vae_bce=r.bce["vae"]))
    full_page("latent_map", pick=item)


def step_2() -> None:
    pos = st.slider(t("s2_control"), 0.0, 1.0, 0.5, 0.05, key="tour_t")
    h = tour.hole(models, view.codes, bank, crescent, full, pos)
    for kind in KINDS:
        st.caption(t("s2_strip", model=LABELS[kind], steps=tour.PATH_STEPS))
        show_strip(h.interps[kind].strip, target=48)
    mid = h.midpoint
    st.markdown(
        t(
            "s2_result",
            t=pos,
            ae_t=h.distance_at_t["ae"],
            vae_t=h.distance_at_t["vae"],
            ae_mid=mid["ae"],
            vae_mid=mid["vae"],
        )
    )
    a, b = (0, 0) if view.latent_dim == 2 else (crescent, full)  # a 2-D grid is the whole plane
    panels = []
    for kind in KINDS:
        grid, dist = cache.hole_distances(view.path, view.stamp, kind, a, b, HOLE_GRID)
        path = h.interps[kind].path
        panels.append(analyses.hole_panel(LABELS[kind], grid, dist, view.codes[kind].mean, path, crescent, full))
    st.plotly_chart(figures.hole_maps(panels, "distance", height=340), key="tour_holes")
    full_page("half_moon", lab_a=tour.CRESCENT, lab_b=tour.FULL)


def step_3() -> None:
    st.latex(r"z = \mu + \sigma \odot \varepsilon,\qquad \varepsilon \sim \mathcal{N}(0, I)")
    eps = st.slider(t("s3_control"), -3.0, 3.0, 1.0, 0.1, key="tour_eps")
    s = tour.sample(vae, bank, x[crescent], eps)
    left, right = st.columns([1, 3])
    with left:
        show_image(s.decoded, f"z = μ + {eps:g}·σ", target=140)
    right.markdown(
        t("s3_result", z=code(s.z), grad_mean=code(s.grad_mean), grad_std=code(s.grad_std), distance=s.distance)
    )
    if view.latent_dim == 2:
        vae_codes = view.codes["vae"]
        panel = figures.MapPanel(t("s3_map"), vae_codes.mean, std=vae_codes.std, marker=s.z)
        st.plotly_chart(figures.latent_maps([panel], view.colouring(), height=380), key="tour_ellipses")
    full_page("latent_map", pick=crescent, ellipses="true")


def step_4() -> None:
    st.latex(r"\sigma = \exp\!\left(\tfrac{1}{2}\log\sigma^2\right) > 0 \quad\text{for every real output}")
    item = item_control("tour_phase4", t("s4_control"))
    lv = tour.log_variance(view.codes["vae"], item)
    st.markdown(t("s4_result", logvar=code(lv.logvar), std=code(lv.std)))
    lo, hi = lv.split_std
    llo, lhi = lv.split_logvar
    st.markdown(t("s4_split", lo=lo, hi=hi, ratio=lv.ratio, llo=llo, lhi=lhi, step=lv.step_change))
    st.caption(t("s4_clamp", clo=lv.clamp[0], chi=lv.clamp[1]))
    full_page("latent_map", pick=item, ellipses="true")


def beta_rows() -> list[tour.BetaRow]:
    """Every VAE pair of this dataset, measured on its own test split (codes cached)."""
    rows = []
    for info in find_sets("pair").values():
        if info.dataset == state["dataset"] or info.id == view.pair_id:
            path = str(info.path)
            beta = cache.model_set(path, info.stamp)["vae"].config.model.beta
            rows.append(tour.beta_row(info.id, beta, cache.codes(path, info.stamp, "vae")))
    return rows


def step_5() -> None:
    beta = st.slider(t("s5_control"), 0.0, 4.0, 1.0, 0.1, key="tour_beta")
    k = tour.kl_term(vae, x[crescent], beta)
    mu, sd, kl = float(k.mean[0]), float(k.std[0]), float(k.per_dim[0])
    st.latex(
        r"\mathrm{KL}_d = \tfrac12\left(\mu_d^2 + \sigma_d^2 - 1 - \log\sigma_d^2\right);\quad "
        rf"d=0:\ \tfrac12\left({mu:.3f}^2 + {sd:.3f}^2 - 1 - \log {sd:.3f}^2\right) = {kl:.3f}"
    )
    st.markdown(
        t(
            "s5_result",
            per_dim=code(k.per_dim),
            kl=float(k.per_dim.sum()),
            recon=k.reconstruction,
            beta=beta,
            objective=k.objective,
            share=k.kl_share,
        )
    )
    rows = beta_rows()
    st.caption(t("s5_table"))
    table = [
        {
            t("col_set"): r.set_id,
            "β": r.beta,
            t("col_kl"): round(r.mean_kl, 2),
            t("col_active"): f"{r.active}/{r.latent_dim}",
            t("col_collapsed"): r.collapsed,
        }
        for r in rows
    ]
    st.dataframe(table, hide_index=True)
    if len({r.beta for r in rows}) == 1:
        st.caption(t("s5_one_beta", beta=rows[0].beta))
    full_page("train")


def step_6() -> None:
    steps = st.slider(t("s6_control"), 5, 21, tour.PATH_STEPS, 2, key="tour_steps")
    m = tour.midpoint(
        models, view.codes, bank, view.dataset, crescent, full, steps, view.pair["vae"].config, lab_results()
    )
    for kind in KINDS:
        s = m.scores[kind]
        st.caption(t("s6_strip", model=LABELS[kind], mean=s["mean_distance"], max=s["max_distance"]))
        captions = [f"{p:.2f}" for p in s["phases"]] if "phases" in s else None
        show_strip(m.interps[kind].strip, captions, target=48)
    if m.truth is not None:
        st.caption(t("s6_truth"))
        show_strip(m.truth, target=48)
    for kind in KINDS:
        s = m.scores[kind]
        phase = s["phases"][m.middle] if "phases" in s else float("nan")
        st.markdown(
            t(
                "s6_result",
                model=LABELS[kind],
                phase=phase,
                distance=s["distances"][m.middle],
                verdict=t("holds" if s.get("passes_half_moon") else "fails"),
            )
        )
    if m.lab:
        for kind in KINDS:
            cell = m.lab[kind]
            st.markdown(
                t(
                    "s6_lab",
                    model=LABELS[kind],
                    passes=cell["c2f_passes_half_moon"]["mean"],
                    passes_sd=cell["c2f_passes_half_moon"]["std"],
                    dist=cell["c2f_mean_distance"]["mean"],
                    dist_sd=cell["c2f_mean_distance"]["std"],
                )
            )
    config = view.pair["vae"].config
    if config.data.name == "moons":
        lab_lines(config.data.regime, view.latent_dim)
    whole_line()
    full_page("half_moon", lab_a=tour.CRESCENT, lab_b=tour.FULL, lab_steps=steps)


def lab_lines(regime: str, dim: int) -> None:
    """The lab's sentences over seeds, each with its bootstrap interval (lab/results.json)."""
    results = lab_results()
    for line in verdict.lab_verdicts(results, regime, dim) if results else []:
        st.markdown(t("s6_lab_verdict", regime=regime, dim=dim, verdict=line))


def whole_line() -> None:
    """The tutorial's 1-D code: the moons-sparse-1d pair's whole line, decoded, for both models."""
    info = find_sets("pair").get(SPARSE_1D)
    if info is None:
        st.info(t("missing", what=SPARSE_1D))
        return
    path, stamp = str(info.path), info.stamp
    pair = cache.model_set(path, stamp)
    models_1d = {kind: pair[kind].model for kind in KINDS}
    codes_1d = {kind: cache.codes(path, stamp, kind) for kind in KINDS}
    train_1d = {kind: cache.codes(path, stamp, kind, "train") for kind in KINDS}
    panels = analyses.line_panels(models_1d, codes_1d, train_1d, cache.bank(path, stamp), LABELS)
    real = [
        t("s6_line_real", model=p.title, real=int(p.real.sum()), n=len(p.codes)) for p in panels if p.real is not None
    ]
    st.markdown(t("s6_line", pair=plain(info.id), verdicts=" ".join(real)))
    st.plotly_chart(figures.line_strips(panels), key="tour_line_strips")
    if (view.latent_dim, view.pair_id) != (1, info.id):
        lab_lines(pair["vae"].config.data.regime, 1)


def inference_image() -> tuple[str, int, object] | None:
    """(pair id, test item, ImageInference) for step 7's image: this pair if 2-D, else the bundled sparse pair."""
    if view.latent_dim == 2:
        pair_id, path, stamp, data = view.pair_id, view.path, view.stamp, view.dataset
    else:
        info = find_sets("pair").get(SPARSE_2D)
        if info is None:
            return None
        pair_id, path, stamp = info.id, str(info.path), info.stamp
        data = cache.dataset(path, stamp)
    index = dict(zip(("crescent", "full"), tour.endpoints(data)))[st.session_state.get("tour_moon_pick", "crescent")]
    return pair_id, index, cache.image_inference(path, stamp, index)


def step_7() -> None:
    st.latex(r"\log p(x) = \mathrm{ELBO}(q) + \mathrm{KL}\big(q(z|x)\,\|\,p(z|x)\big)")
    moon = st.segmented_control(
        t("s7_control"), ["crescent", "full"], key="tour_moon", default="crescent", format_func=lambda m: t(f"moon_{m}")
    )
    st.session_state["tour_moon_pick"] = moon or "crescent"  # kept for step 8 (widget state is dropped off-page)
    found = inference_image()
    if found is None:
        st.info(t("missing", what=f"a 2-D pair ({SPARSE_2D})"))
        return
    pair_id, index, r = found
    st.plotly_chart(figures.posterior_map(r, height=420), key="tour_posterior")
    st.latex(rf"{r.log_px:.2f} = {r.elbo:.2f} + {r.kl_posterior:.2f}")
    st.markdown(
        t(
            "s7_result",
            pair=plain(pair_id),
            item=index,
            log_px=r.log_px,
            recon=r.reconstruction,
            kl_prior=r.kl_prior,
            elbo=r.elbo,
            elbo_se=r.elbo_se,
            gap=r.kl_posterior,
        )
    )
    gap = max(r.kl_posterior, 1e-12)
    st.markdown(
        t(
            "s7_estep",
            star=r.elbo_star,
            star_se=r.elbo_star_se,
            gap=r.kl_posterior,
            amort=r.amortisation_gap,
            share=r.amortisation_gap / gap,
            approx=r.approximation_gap,
        )
    )
    full_page("inference", pair=pair_id, pick=index)


def step_8() -> None:
    st.latex(r"\mathcal{L}_k = \mathbb{E}\Big[\log \tfrac{1}{k}\textstyle\sum_{i=1}^k \tfrac{p(x, z_i)}{q(z_i|x)}\Big]")
    found = inference_image()
    if found is None:
        st.info(t("missing", what=f"a 2-D pair ({SPARSE_2D})"))
        return
    pair_id, index, r = found
    k = st.select_slider(t("s8_control"), sorted(r.iwae), value=50 if 50 in r.iwae else max(r.iwae), key="tour_k")
    st.plotly_chart(figures.iwae_curve(r), key="tour_iwae")
    st.markdown(
        t(
            "s8_result",
            item=index,
            k=k,
            iwae=r.iwae[k],
            gap=r.log_px - r.iwae[k],
            log_px=r.log_px,
            elbo_gap=r.log_px - r.iwae[1],
            ess=r.ess[k],
        )
    )
    full_page("inference", pair=pair_id, pick=index)


def step_9() -> None:
    sets = conditional_sets()
    if sets is None:
        st.info(t("missing", what="digits-label-cvae, digits-half-cvae"))
        return
    label_info, label_set, half_info, half_set, half_data = sets
    n_classes = label_set["cvae"].config.n_classes
    label = st.selectbox(t("s9_control"), list(range(n_classes)), key="tour_digit")
    c = tour.conditional(label_set, half_set, half_data.test, label)
    left, right = st.columns([3, 1])
    with left:
        show_strip(c.samples[:12], target=44)
    with right:
        show_image(c.mean_image, t("cap_regression"), target=88)
    st.markdown(t("s9_result", n=len(c.samples), label=label, spread=c.sample_spread))
    done = c.completion
    shown = [
        (half_data.test.x[c.item].numpy(), t("cap_truth")),
        (done.given, t("cap_given")),
        (done.regression, t("cap_regression")),
    ]
    for col, (image, caption) in zip(st.columns(4), shown):
        with col:
            show_image(image, caption, target=88)
    show_strip(done.completions, [f"{d:.4f}" for d in done.mse], target=56)
    st.markdown(
        t(
            "s9_fill",
            item=c.item,
            mask=tour.FILL_MASK,
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
        "conditional",
        cond_label_set=label_info.id,
        cond_class=label,
        cond_half_set=half_info.id,
        cond_item=c.item,
        cond_mask=tour.FILL_MASK,
    )


def step_10() -> None:
    st.markdown(t("s10_body"))
    recon = tour.reconstruction(models, view.codes, x, crescent)
    hole = tour.hole(models, view.codes, bank, crescent, full, 0.5)
    this = next(r for r in beta_rows() if r.set_id == view.pair_id)
    sets = conditional_sets()
    filled = tour.conditional(sets[1], sets[3], sets[4].test, 0) if sets else None
    found = inference_image()
    for c in tour.closing(recon, hole, this, filled, found[2] if found else None):
        mark = ":green[:material/check_circle:]" if c.holds else ":orange[:material/cancel:]"
        st.markdown(f"{mark} **{t('holds' if c.holds else 'fails')}.** {t(c.key, **c.values)}")


STEP_PAGES = {
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
st.subheader(t(f"s{step}_title"))
if step != 10:
    st.markdown(t(f"s{step}_body"))
STEP_PAGES[step]()
