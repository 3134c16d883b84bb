"""Train: a pair from your choices, watched live by any tab (?run=<id>); the server's runs; your own
data and checkpoints; KL and beta."""

import numpy as np
import streamlit as st

from explorer import figures
from explorer.ui import runs
from explorer.ui.bridge import plotly_chart
from explorer.ui.context import collapse_warning, current_view
from explorer.ui.lang import error_text, show_error, t
from explorer.ui.text import plain
from explorer.ui.train_page import (
    beta_curves,
    bundled_sweep_curve,
    checkpoint_import,
    dataset_upload,
    train_config,
    train_form,
)
from training import jobs, uploads
from training.devices import resolve_device
from training.errors import LatentExplorerError
from training.metrics import ACTIVE_UNIT_THRESHOLD
from training.stats import LEVEL
from training.store import find_sets, runs_dir, uploads_dir
from training.sweep import sweep_command

view = current_view()
st.title(t("nav_train"))
device, _ = resolve_device("auto")  # TrainConfig's default, as jobs.device_line says it (in English) for the log
why = t("train_device_cuda" if device.type == "cuda" else "train_device_cpu")
st.caption(":material/memory: " + t("train_device", device=str(device), why=why))

# --- train a pair, watch it, list the server's runs -------------------------------------------
user_data = uploads.list_uploads(uploads_dir())
form = train_form(user_data, view)
if form is not None:
    try:
        job = jobs.start_job(train_config(form, uploads_dir()), runs_dir(), name=form["name"])
        st.session_state["train_job"] = st.query_params["run"] = job.run_id
    except LatentExplorerError as exc:
        show_error(t("train_cannot", error=error_text(exc)), exc)

run_id = runs.shown_run()
if run_id:
    job = jobs.get_run(run_id)
    live = job is not None and job.active
    if live:
        st.session_state["train_watching"] = run_id
    runs.run_panel(run_id, live)
else:
    st.caption(t("train_no_run"))

st.subheader(t("train_runs"))
runs.run_list()

# --- your own data and checkpoints -------------------------------------------------------------
dataset_upload(user_data)
checkpoint_import()

# --- posterior collapse and beta -----------------------------------------------------------------
st.subheader(t("train_dims"))
metrics = view.pair["vae"].metrics
kl = np.array(metrics.get("kl_per_dim", []))
if kl.size:
    plotly_chart(figures.kl_bars(kl, t=t), key="kl_bars")
    active, dim = metrics.get("active_units"), metrics.get("latent_dim")
    told = t("train_kl", pair=plain(view.pair_id), active=active, dim=dim, threshold=ACTIVE_UNIT_THRESHOLD)
    st.caption(told, help=t("help_kl"))
    warning = collapse_warning(metrics, view.pair["vae"].config.model.beta)
    if warning:
        st.warning(warning)

st.subheader(t("train_beta"))
curves = beta_curves(find_sets("pair"), view.dataset.name, t=t)
if not any(len(found) >= 2 for found in curves.values()):  # a curve needs two betas
    st.caption(t("train_beta_none", dataset=plain(view.dataset.name)))
else:
    plotly_chart(figures.rate_distortion(curves, t=t), key="rate_distortion")
    st.caption(t("train_beta_runs", dataset=plain(view.dataset.name), level=f"{LEVEL:.0%}"), help=t("help_beta"))
bundled = bundled_sweep_curve(t=t)
if bundled is not None:
    results, curve = bundled
    plotly_chart(figures.rate_distortion(curve, t=t), key="rate_distortion_bundled")
    config = results["config"]
    told = t(
        "train_beta_bundled",
        runs=len(results["runs"]),
        dataset=plain(config["dataset"]),
        seeds=config["seeds"],
        command=sweep_command(config),
    )
    st.caption(told, help=t("help_beta"))
