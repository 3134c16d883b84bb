"""Exact inference: the true posterior p(z|x) of one image beside the encoder's guess q(z|x)."""

import numpy as np
import streamlit as st

from explorer.analyses import METRIC_HELP as H
from explorer.figures import gap_scatter, iwae_curve, posterior_map
from explorer.ui import cache, urlstate
from explorer.ui.bridge import plotly_chart
from explorer.ui.context import current_view
from explorer.ui.widgets import pick_index, show_image

view = current_view()
st.title("Exact inference")
st.caption(
    "log p(x) = ELBO + KL(q(z|x) ‖ p(z|x)). With a 2-D code every term is computed: log p(x) by quadrature "
    "(training/inference.py), so one sees how far the encoder's Gaussian is from the true posterior."
)
if view.latent_dim != 2:
    st.info(
        f"This pair's latent is {view.latent_dim}-D. The exact posterior is integrated on a grid, which is "
        "affordable in 2-D only: pick a 2-D pair (moons-*-2d, digits-2d), or see IWAE-5000 in "
        "`python -m training eval`."
    )
    st.stop()

urlstate.seed("pick", view.default_item(), 0, len(view.dataset.test) - 1)  # one pick, shared with the map
st.number_input("Test item", min_value=0, max_value=len(view.dataset.test) - 1, step=1, key="pick")
index = pick_index(view)
r = cache.image_inference(view.path, view.stamp, index)

left, right = st.columns([1, 3])
with left:
    st.subheader(f"Item {index}")
    show_image(view.dataset.test.x[index].numpy(), view.describe_item(index))
    sd, post_sd = np.sqrt(np.diag(r.q_cov)), np.sqrt(np.diag(r.post_cov))
    st.markdown(
        f"**q(z|x)**: mean ({r.q_mean[0]:.2f}, {r.q_mean[1]:.2f}), std ({sd[0]:.3f}, {sd[1]:.3f})  \n"
        f"**p(z|x)**: mean ({r.post_mean[0]:.2f}, {r.post_mean[1]:.2f}), std ({post_sd[0]:.3f}, {post_sd[1]:.3f}), "
        f"correlation {r.post_corr:.2f}"
    )
with right:
    plotly_chart(posterior_map(r, view.codes["ae"].mean[index]), key="posterior_map")

st.subheader("The identity, for this image (nats)")
st.latex(
    rf"\underbrace{{{r.log_px:.2f}}}_{{\log p(x)\ \text{{exact}}}} = "
    rf"\underbrace{{{r.reconstruction:.2f} - {r.kl_prior:.2f}}}_{{\text{{ELBO}} = \mathbb{{E}}_q \log p(x|z)"
    rf" - \mathrm{{KL}}(q\,\|\,p(z))}} + \underbrace{{{r.kl_posterior:.2f}}}_{{\mathrm{{KL}}(q\,\|\,p(z|x))}}"
)
cols = st.columns(4)
cols[0].metric(
    "log p(x), exact", f"{r.log_px:.2f}", help=f"{H['log_px']} Error below {max(r.quadrature_error, 1e-4):.0e}."
)
cols[1].metric("ELBO", f"{r.elbo:.2f} ± {r.elbo_se:.2f}", help=H["elbo"])
cols[2].metric("KL(q ‖ p(z|x))", f"{r.kl_posterior:.2f}", help=H["kl_posterior"])
cols[3].metric("IWAE-5000", f"{r.iwae[5000]:.2f}", help=f"{H['iwae']} ESS {r.ess[5000]:.0f} of 5,000.")

st.subheader("Importance sampling closes the gap as k grows")
plotly_chart(iwae_curve(r), key="iwae_curve")

st.subheader("Where the gap comes from (Cremer, Li and Duvenaud 2018)")
st.caption(
    "q* is a Gaussian optimised for this image alone: ascent on its ELBO from the encoder's q (Newton steps, "
    "to convergence). Approximation gap: no diagonal Gaussian does better. Amortisation gap: one encoder for all "
    "images."
)
cols = st.columns(3)
cols[0].metric("ELBO(q*)", f"{r.elbo_star:.2f} ± {r.elbo_star_se:.2f}", help=H["elbo"])
cols[1].metric("approximation gap", f"{r.approximation_gap:.2f}", help=H["approximation_gap"])
cols[2].metric("amortisation gap", f"{r.amortisation_gap:.2f}", help=H["amortisation_gap"])

st.subheader("Across the test split")
urlstate.seed("inference_split", False)
if st.toggle("Measure the gaps on 100 test images", key="inference_split"):
    gaps = cache.split_gaps(view.path, view.stamp)
    colouring = view.colouring()
    values = colouring.values[gaps.index] if colouring.values is not None else gaps.index
    named = {"KL(q ‖ p(z|x))": gaps.kl_posterior, "approximation": gaps.approximation}
    named["amortisation"] = gaps.amortisation
    plotly_chart(gap_scatter(values, named, colouring.title or "test item"), key="gap_scatter")
