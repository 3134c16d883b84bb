"""Exact inference: the true posterior p(z|x) of one image beside the encoder's guess q(z|x)."""

import numpy as np
import streamlit as st

from explorer.figures import gap_scatter, iwae_curve, posterior_map
from explorer.inference import family_requests, join_families
from explorer.ui import urlstate, waiting
from explorer.ui.bridge import plotly_chart, static_chart
from explorer.ui.context import PageEnd, current_view
from explorer.ui.lang import t
from explorer.ui.sampling_section import posterior_methods_section
from explorer.ui.widgets import pick_index, show_image
from training.families import FAMILY_DRAWS, FAMILY_K
from training.inference import Q_TOL

view = current_view()
st.title(t("nav_inference"))
st.caption(t("inf_lead"))
view.needs("density")  # first: a set without a VAE is told what it lacks, whatever its latent size
if view.latent_dim != 2:
    st.info(t("inf_not_2d", dim=view.latent_dim))
    raise PageEnd


def family_members() -> tuple[tuple[str, str, float], ...]:
    """(variant, path, stamp) of this set and its siblings (training.families.siblings: trained like it
    with another posterior family or objective, found by their sidecars), this set first; none for a
    decoder without gradients (an ONNX one: q* needs them)."""
    from training.families import siblings

    if not getattr(view.model("vae"), "differentiable", True):
        return ()
    found = siblings(view.pair_id)
    return tuple((name, str(info.path), info.stamp) for name, info in found.items())


urlstate.seed("pick", view.default_item(), 0, len(view.dataset.test) - 1)  # one pick, shared with the map
st.number_input(t("map_test_item"), min_value=0, max_value=len(view.dataset.test) - 1, step=1, key="pick")
index = pick_index(view)
members = family_members()
# the pick's own analysis with its set's family panel first, then every other family's parts, all asked for
# at once: the worker pool computes the families while the page draws the pick's own numbers
requests = family_requests(members, index) if members else [("pick", (view.path, view.stamp, index))]
asked = waiting.ask(requests, "inference_pick")
found = waiting.result(*requests[0], "long_task_inference", "inference", asked)
if found is None:  # computing in the background: its progress is drawn, the page reruns when it is ready
    raise PageEnd
r = found[0]

left, right = st.columns([1, 3])
with left:
    st.subheader(t("inf_item", index=index))
    show_image(view.dataset.test.x[index].numpy(), view.describe_item(index))
    sd, post_sd = np.sqrt(np.diag(r.q_cov)), np.sqrt(np.diag(r.post_cov))
    st.markdown(
        t("inf_q", m0=r.q_mean[0], m1=r.q_mean[1], s0=sd[0], s1=sd[1])
        + "  \n"
        + t("inf_p", m0=r.post_mean[0], m1=r.post_mean[1], s0=post_sd[0], s1=post_sd[1], corr=r.post_corr)
    )
with right:
    ae_code = view.codes["ae"].mean[index] if "ae" in view.codes else None  # a lone VAE: no AE code to mark
    plotly_chart(posterior_map(r, ae_code, t=t), key="posterior_map")
    st.caption(t("inf_map_caption"))

st.subheader(t("inf_identity"))
st.latex(
    rf"\underbrace{{{r.log_px:.2f}}}_{{\log p(x)\ \text{{{t('side_exact')}}}}} = "
    rf"\underbrace{{{r.reconstruction:.2f} - {r.kl_prior:.2f}}}_{{\text{{ELBO}} = \mathbb{{E}}_q \log p(x|z)"
    rf" - \mathrm{{KL}}(q\,\|\,p(z))}} + \underbrace{{{r.kl_posterior:.2f}}}_{{\mathrm{{KL}}(q\,\|\,p(z|x))}}"
)
cols = st.columns(4)
cols[0].metric(
    t("inf_log_px"),
    f"{r.log_px:.2f}",
    help=t("help_log_px") + " " + t("inf_error", error=max(r.quadrature_error, 1e-4)),
)
cols[1].metric("ELBO", f"{r.elbo:.2f} ± {r.elbo_se:.2f}", help=t("help_elbo"))
cols[2].metric("KL(q ‖ p(z|x))", f"{r.kl_posterior:.2f} ± {r.elbo_se:.2f}", help=t("help_kl_posterior"))
k = max(r.iwae)
cols[3].metric(
    f"IWAE-{k}",
    f"{r.iwae[k]:.2f} ± {r.iwae_se[k]:.2f}",
    help=t("help_iwae") + " " + t("inf_ess", ess=r.ess[k], k=k, groups=r.n_samples // k),
)

st.subheader(t("inf_iwae"))
# static SVG, each point's k and IWAE-k its tooltip: a new pick mounts no Plotly chart for a curve of 5 points
static_chart(iwae_curve(r, t=t), where=st.container(key="iwae_curve"), key="iwae_plot")

posterior_methods_section(view, index)  # q vs the exact grid vs a Metropolis chain, with their costs

st.subheader(t("inf_gaps"))
if not getattr(view.model("vae"), "differentiable", True):  # an ONNX decoder: q* needs its gradients
    st.info(t("inf_onnx_q_star"))
    raise PageEnd
st.caption(t("inf_gaps_lead"))
cols = st.columns(3)
cols[0].metric("ELBO(q*)", f"{r.elbo_star:.2f} ± {r.elbo_star_se:.2f}", help=t("help_elbo"))
cols[1].metric(
    t("inf_approximation"),
    f"{r.approximation_gap:.2f} ± {r.elbo_star_se:.2f}",
    help=t("help_approximation_gap", q_tol=Q_TOL),
)
cols[2].metric(
    t("inf_amortisation"), f"{r.amortisation_gap:.2f} ± {r.amortisation_gap_se:.2f}", help=t("help_amortisation_gap")
)

st.subheader(t("inf_split"))
urlstate.seed("inference_split", False)
if st.toggle(t("inf_split_toggle"), key="inference_split"):
    gaps = waiting.result("split_gaps", (view.path, view.stamp, 100), "long_task_split_gaps", "split_gaps")
    if gaps is None:
        raise PageEnd
    colouring = view.colouring()
    values = colouring.values[gaps.index] if colouring.values is not None else gaps.index
    named = {"KL(q ‖ p(z|x))": gaps.kl_posterior, t("inf_approx_short"): gaps.approximation}
    named[t("inf_amort_short")] = gaps.amortisation
    x_title = colouring.title or t("map_test_item")
    plotly_chart(gap_scatter(values, named, x_title, t=t), key="gap_scatter")


def family_label(name: str) -> str:
    """A variant's name in the reader's language: its family, and its objective when IWAE-trained."""
    family, _, objective = name.partition("-")
    if not objective:
        return t(f"fam_{family}")
    return t("fam_iwae", family=t(f"fam_{family}"), k=int(objective.removeprefix("iwae")))


def gap_sentence(rows: list[tuple[str, str, float, float]]) -> str:
    """One sentence per comparison, from the numbers: which family closes which part of the gap."""
    parts = []
    for name, part, mean, half in rows:
        words = dict(family=family_label(name), part=t(f"fam_part_{part}"), half=half)
        if not abs(mean) > half:  # the 95 % interval of the paired difference holds 0 (or is undefined)
            parts.append(t("fam_no_clear", mean=mean, **words))
        else:
            parts.append(t("fam_closes" if mean > 0 else "fam_widens", mean=abs(mean), **words))
    return " ".join(parts)


# px of a family map's SVG (its viewBox): its words near their size in a half column at 1400 px (410 px), 3/4 at 800
MAP_WIDTH = 360


def families_section() -> None:
    """Issue 28: each posterior family's q over the exact posterior, its gaps for the pick and the split."""
    from explorer.figures import family_map
    from training.families import compare_gaps, interval

    st.subheader(t("fam_title"))
    st.caption(t("fam_lead"))
    if not members:
        return
    # a request per other family set and one for the same decoder's q*s, asked for with the pick's own
    found_rest = waiting.results(requests[1:], "long_task_family_panels", "family_panels", asked)
    if found_rest is None:  # computing in the background; the page reruns when it is ready
        return
    r = join_families(members, [found, *found_rest])
    st.markdown(f"**{t('fam_same_decoder')}**")
    st.caption(t("fam_same_decoder_lead"))
    same = r["same_decoder"]
    st.dataframe(
        {
            t("fam_q_family"): [family_label(f) for f in same],
            "ELBO(q*)": [f"{n.elbo_star[0]:.2f} ± {n.elbo_star_se[0]:.2f}" for n in same.values()],
            t("inf_approximation"): [f"{n.approximation[0]:.2f} ± {n.approximation_se[0]:.2f}" for n in same.values()],
        },
        hide_index=True,
        key="fam_same_table",
    )
    st.markdown(f"**{t('fam_retrained')}**")
    st.caption(t("fam_retrained_lead"))
    panels = r["panels"]
    cols = st.columns(2)
    for i, (name, panel) in enumerate(panels.items()):
        with cols[i % 2]:
            # a picture to compare, not to explore (its heat map has no hover): static SVG, no Plotly to draw;
            # drawn for a half-width column, so its words keep their size there
            label = family_label(name)
            where = st.container(key=f"fam_map_{name}")
            static_chart(
                family_map(panel, label, t=t), label=label, where=where, key=f"fam_plot_{name}", width=MAP_WIDTH
            )
    st.dataframe(family_table({name: p.numbers for name, p in panels.items()}, 0), hide_index=True, key="fam_pick")
    st.caption(t("fam_pick_caption", draws=FAMILY_DRAWS, k=FAMILY_K, groups=FAMILY_DRAWS // FAMILY_K))
    urlstate.seed("family_split", False)
    if len(members) > 1 and st.toggle(t("fam_split_toggle"), key="family_split"):
        numbers = waiting.result("split_families", (members, None), "long_task_split_families", "split_families")
        if numbers is None:
            return
        st.dataframe(family_table(numbers, None, interval), hide_index=True, key="fam_split_table")
        n = len(next(iter(numbers.values())).log_px)
        st.caption(t("fam_split_caption", n=n))
        if "diag" in numbers:
            st.markdown(gap_sentence(compare_gaps(numbers)))


def family_table(numbers: dict, item: int | None, interval=None) -> dict[str, list[str]]:
    """Rows per family: log p(x), ELBO, IWAE-k, KL(q || p(z|x)) and the gap's two parts; one image's
    values (item) with each Monte Carlo number's standard error (log p(x) is exact), or the split's
    means with 95 % intervals."""

    def cell(n, field: str) -> str:
        values = getattr(n, field)
        if item is not None:
            se = getattr(n, f"{field}_se", None)
            return f"{values[item]:.2f}" + ("" if se is None else f" ± {se[item]:.2f}")
        mean, half = interval(values)
        return f"{mean:.2f} ± {half:.2f}"

    columns = {
        t("inf_log_px"): "log_px",
        "ELBO": "elbo",
        f"IWAE-{FAMILY_K}": "iwae",
        "KL(q ‖ p(z|x))": "kl_posterior",
        t("inf_approximation"): "approximation",
        t("inf_amortisation"): "amortisation",
    }
    table = {t("fam_model"): [family_label(name) for name in numbers]}
    for title, field in columns.items():
        table[title] = [cell(n, field) for n in numbers.values()]
    return table


families_section()
