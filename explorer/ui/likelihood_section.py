"""The Train form's likelihood choice explained where it is made: the same decodes of the sidebar's VAE scored
under each p(x|z) (explorer/likelihoods.py), with what each means for the loss and for log p(x)."""

from __future__ import annotations

import streamlit as st

from explorer.ui import waiting
from explorer.ui.context import View
from explorer.ui.lang import t
from explorer.ui.text import plain

IMAGES = 200  # test images scored: enough for a standard error of a few percent


def likelihood_explainer(view: View, sigma: float) -> None:
    with st.expander(t("lik_title"), icon=":material/functions:"):
        st.markdown(t("lik_meaning"))
        request = (view.path, view.stamp, IMAGES, float(sigma))
        r = waiting.result("likelihoods", request, "long_task_likelihoods", "likelihoods")
        if r is None:  # its progress is drawn; the form goes on meanwhile
            return
        rows = [
            {
                t("col_likelihood"): t(f"lik_{row.key.replace('-', '_')}"),
                t("col_nll"): f"{row.nll:.1f} ± {row.nll_se:.1f}",
                t("col_floor"): "–" if row.floor is None else f"{row.floor:.1f}",
            }
            for row in r.rows
        ]
        st.caption(t("lik_table", pair=plain(view.pair_id), n=r.n, pixels=r.pixels, sigma=r.sigma))
        st.dataframe(rows, hide_index=True)
        gaussian = next(row for row in r.rows if row.key == "gaussian")
        st.markdown(
            t(
                "lik_gaussian_mse",
                sigma=r.sigma,
                mse=r.mse,
                weight=r.mse_weight,
                constant=r.gaussian_constant,
                nll=r.mse * r.mse_weight + r.gaussian_constant,
                measured=gaussian.nll,
            )
        )
