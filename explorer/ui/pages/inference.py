"""Exact inference: the true posterior p(z|x) of one image beside the encoder's guess q(z|x)."""

import numpy as np
import streamlit as st

from explorer.figures import gap_scatter, iwae_curve, posterior_map
from explorer.ui import urlstate, waiting
from explorer.ui.bridge import plotly_chart
from explorer.ui.context import current_view
from explorer.ui.lang import t
from explorer.ui.sampling_section import posterior_methods_section
from explorer.ui.widgets import pick_index, show_image
from training.inference import Q_TOL

view = current_view()
st.title(t("nav_inference"))
st.caption(t("inf_lead"))
if view.latent_dim != 2:
    st.info(t("inf_not_2d", dim=view.latent_dim))
    st.stop()

urlstate.seed("pick", view.default_item(), 0, len(view.dataset.test) - 1)  # one pick, shared with the map
st.number_input(t("map_test_item"), min_value=0, max_value=len(view.dataset.test) - 1, step=1, key="pick")
index = pick_index(view)
r = waiting.result("inference", (view.path, view.stamp, index), "long_task_inference", "inference")
if r is None:  # computing in the background: its progress is drawn, the page reruns when it is ready
    st.stop()

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
    plotly_chart(posterior_map(r, view.codes["ae"].mean[index], t=t), key="posterior_map")
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
plotly_chart(iwae_curve(r, t=t), key="iwae_curve")

posterior_methods_section(view, index)  # q vs the exact grid vs a Metropolis chain, with their costs

st.subheader(t("inf_gaps"))
if not getattr(view.model("vae"), "differentiable", True):  # an ONNX decoder: q* needs its gradients
    st.info(t("inf_onnx_q_star"))
    st.stop()
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
        st.stop()
    colouring = view.colouring()
    values = colouring.values[gaps.index] if colouring.values is not None else gaps.index
    named = {"KL(q ‖ p(z|x))": gaps.kl_posterior, t("inf_approx_short"): gaps.approximation}
    named[t("inf_amort_short")] = gaps.amortisation
    x_title = colouring.title or t("map_test_item")
    plotly_chart(gap_scatter(values, named, x_title, t=t), key="gap_scatter")
