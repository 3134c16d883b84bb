"""The Inference page's "three ways to the posterior" section (tutorial 004): the encoder's q(z|x), the exact
grid and a Metropolis chain on one image, side by side with what each cost (explorer/sampling.py)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer import sampling
from explorer.ui import urlstate, waiting
from explorer.ui.context import View
from explorer.ui.lang import t


def posterior_methods_section(view: View, index: int) -> None:
    st.subheader(t("inf_methods"))
    urlstate.seed("inference_methods", False)
    if not st.toggle(t("inf_methods_toggle"), key="inference_methods"):
        return
    st.caption(t("inf_methods_lead", chains=sampling.CHAINS, steps=sampling.STEPS, burn=sampling.BURN_IN))
    request = (view.path, view.stamp, index)
    r = waiting.result("posterior_methods", request, "long_task_posterior_methods", "posterior_methods")
    if r is None:  # computing in the background (explorer/offload.py): its progress is drawn
        return
    pair = lambda v, digits=3: f"({v[0]:.{digits}f}, {v[1]:.{digits}f})"  # noqa: E731
    rows = []
    for key, m in r.methods.items():
        mean = pair(m.mean) + ("" if m.mean_se is None else f" ± {pair(m.mean_se)}")
        rows.append(
            {
                t("col_method"): t(f"method_{key}"),
                t("col_mean"): mean,
                t("col_sd"): pair(m.std),
                t("col_corr"): round(m.corr, 2),
                t("col_off"): round(r.off_by(key), 2),
                t("col_decoded"): m.decoded,
                t("col_seconds"): round(m.seconds, 3),
            }
        )
    st.dataframe(rows, hide_index=True)
    q, grid, chain = (r.methods[k] for k in ("q", "grid", "mcmc"))
    worst = float(np.max(np.abs(chain.mean - grid.mean) / chain.mean_se))
    st.markdown(
        t(
            "inf_methods_result",
            q_off=r.off_by("q"),
            chain_off=r.off_by("mcmc"),
            z=worst,
            verdict=t("inf_methods_agrees" if r.chain_agrees() else "inf_methods_differs"),
            accept=r.accept,
            grid_decoded=grid.decoded,
            chain_decoded=chain.decoded,
            grid_s=grid.seconds,
            chain_s=chain.seconds,
            q_s=q.seconds,
        )
    )
