"""Train: a pair from your choices, watched live; your own data and checkpoints; KL and beta."""

import tempfile
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from explorer import figures
from explorer.projection import make_projection
from explorer.ui.context import KINDS, LABELS, collapse_warning, current_view
from training import jobs
from training.checkpoint import read_sidecar
from training.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from training.datasets import DATASETS
from training.errors import LatentExplorerError
from training.store import allowed_path, find_sets, import_set, runs_dir, uploads_dir
from training.uploads import import_upload, list_uploads

MODEL_CHOICES = {  # label -> (kind, condition); a run trains the pair the config asks for
    "AE + VAE": ("vae", "none"),
    "CVAE on the class label (+ regression)": ("cvae", "label"),
    "CVAE on half the image (+ regression)": ("cvae", "half"),
}

view = current_view()
st.title("Train")

# --- train a pair --------------------------------------------------------------------------------
uploads = list_uploads(uploads_dir())
dataset_options = [n for n, spec in DATASETS.items() if not spec.needs_path] + [f"upload:{u}" for u in uploads]

with st.form("train_form"):
    st.markdown("**Train an AE and a VAE** with the same data, architecture, seed and schedule.")
    c = st.columns(4)
    dataset = c[0].selectbox(
        "Dataset", dataset_options, key="train_dataset", format_func=lambda d: d.replace("upload:", "your upload: ")
    )
    regime = c[1].selectbox(
        "Moons regime",
        ["full", "gap", "sparse"],
        index=2,
        key="train_regime",
        help="moons only: which phases the training split holds",
    )
    jitter = c[2].checkbox("Moons: size/position jitter", key="train_jitter")
    n_train = c[3].number_input("Training images (0: all)", 0, jobs.MAX_TRAIN_IMAGES, 0, 100, key="train_n")
    c = st.columns(4)
    family = c[0].selectbox(
        "Architecture",
        ["mlp", "conv"],
        key="train_family",
        help="mlp decodes in your browser on the drag page; conv needs 28x28 or 32x32 images",
    )
    what = c[0].selectbox(
        "Models",
        list(MODEL_CHOICES),
        key="train_models",
        help="a CVAE is trained with its regression baseline, and shows on the Conditional VAE page",
    )
    latent_dim = c[1].number_input("Latent size", 1, 128, 2, key="train_latent")
    beta = c[2].number_input("β (KL weight)", 0.0, 100.0, 1.0, 0.5, key="train_beta")
    hidden = c[3].text_input("Hidden sizes", "128,64", key="train_hidden")
    c = st.columns(4)
    epochs = c[0].number_input(f"Epochs (max {jobs.MAX_EPOCHS})", 1, 10_000, 20, key="train_epochs")
    lr = c[1].number_input("Learning rate", 1e-5, 1.0, 1e-3, format="%.5f", key="train_lr")
    seed = c[2].number_input("Seed", 0, 1_000_000, 0, key="train_seed")
    warmup = c[3].number_input("KL warm-up epochs", 0, 1000, 0, key="train_warmup")
    submitted = st.form_submit_button("Train the pair", key="train_submit", type="primary")

if submitted:
    try:
        hidden_sizes = tuple(int(h) for h in hidden.split(",") if h.strip())
    except ValueError:
        hidden_sizes = ()
    if dataset.startswith("upload:"):
        name = dataset.split(":", 1)[1]
        data = DataConfig("npz", path=str(uploads_dir() / name / "data.npz"), n_train=n_train or None, seed=int(seed))
    else:
        data = DataConfig(dataset, regime=regime, jitter=jitter, n_train=n_train or None, seed=int(seed))
    kind, condition = MODEL_CHOICES[what]
    config = RunConfig(
        data,
        ModelConfig(
            kind=kind,
            condition=condition,
            family=family,
            latent_dim=int(latent_dim),
            hidden=hidden_sizes,
            beta=float(beta),
        ),
        TrainConfig(epochs=int(epochs), lr=float(lr), seed=int(seed), kl_warmup_epochs=int(warmup)),
    )
    try:
        if not hidden_sizes:
            raise LatentExplorerError(f"hidden sizes must be comma-separated whole numbers, got {hidden!r}")
        job = jobs.start_job(config, runs_dir())
        st.session_state["train_job"] = job.run_id
    except LatentExplorerError as exc:
        st.error(f"Cannot train: {exc}")


def curves(job: jobs.Job) -> go.Figure:
    fig = make_subplots(rows=1, cols=3, subplot_titles=["reconstruction", "KL", "total (−ELBO for the VAE)"])
    colours = {**figures.MODEL_COLOURS, "CVAE": figures.MODEL_COLOURS["VAE"], "REGRESSION": "#7f7f7f"}
    for kind, history in job.history.items():
        if not history:
            continue
        epochs_done = [h["epoch"] for h in history]
        for col, term in enumerate(("reconstruction", "kl", "total"), start=1):
            for split, dash in (("train", "solid"), ("test", "dot")):
                fig.add_trace(
                    go.Scatter(
                        x=epochs_done,
                        y=[h[f"{split}_{term}"] for h in history],
                        mode="lines",
                        name=f"{kind.upper()} {split}",
                        legendgroup=f"{kind}{split}",
                        showlegend=col == 1,
                        line=dict(color=colours[kind.upper()], dash=dash),
                    ),
                    row=1,
                    col=col,
                )
    fig.update_layout(height=280, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="epoch")
    return fig


def snapshot_maps(job: jobs.Job):
    panels = []
    for kind in KINDS:
        if kind not in job.snapshots:
            continue
        epoch, codes = job.snapshots[kind]
        points = codes if codes.shape[1] == 2 else make_projection("pca", codes.shape[1]).fit(codes).embedding
        panels.append(figures.MapPanel(f"{LABELS[kind]} codes after epoch {epoch}", points))
    if not panels:
        return None
    kind, values, names = job.snapshot_colour
    return figures.latent_maps(panels, figures.Colouring(values, kind, "phase", names), height=320)


def job_panel() -> None:
    run_id = st.session_state.get("train_job")
    job = jobs.get_job(run_id) if run_id else None
    if job is None:
        st.caption("No run started in this session yet.")
        return
    st.markdown(f"**Run `{job.run_id}`**: {job.status}" + (f" — {job.message}" if job.message else ""))
    st.progress(job.fraction, text=f"{job.kind.upper()} epoch {job.epoch} of {job.config.train.epochs}")
    if job.active and st.button("Cancel", key="train_cancel"):
        job.cancel()
        st.info("Cancelling after the current batch…")
    st.plotly_chart(curves(job), key="train_curves")
    maps = snapshot_maps(job)
    if maps is not None:
        st.plotly_chart(maps, key="train_snapshots")
    if job.status == "done" and job.config.model.condition != "none":
        st.success("Open the Conditional VAE page and choose it there.")
    elif job.status == "done":
        pair_id = f"runs/{job.run_id}"
        if pair_id in find_sets("pair") and st.button("Explore this pair", key="train_explore"):
            st.session_state["dataset"] = job.config.data.name
            st.session_state["pair"] = pair_id
            st.switch_page("explorer/ui/pages/latent_map.py")
    if not job.active and st.session_state.get("train_seen_finish") != job.run_id:
        st.session_state["train_seen_finish"] = job.run_id
        st.rerun(scope="app")  # the sidebar lists the new pair at once


run_id = st.session_state.get("train_job")
live = run_id is not None and jobs.get_job(run_id) is not None and jobs.get_job(run_id).active
st.fragment(job_panel, run_every=1.0 if live else None)()

# --- your own data -------------------------------------------------------------------------------
st.subheader("Your own data")
st.caption(
    "A .zip of PNG/JPEG images (all the same size, 4 to 128 pixels; sub-folders become classes) or an .npz with "
    "'x' (N, H, W[, C]) and optional integer labels 'y'. Limits: 50 MiB upload, 5,000 images."
)
upload = st.file_uploader("Upload a dataset", type=["zip", "npz"], key="upload_data")
if "import_message" in st.session_state:
    st.success(st.session_state.pop("import_message"))
if upload is not None and st.button("Import it", key="import_data"):
    try:
        imported = import_upload(upload.name, upload.getvalue(), uploads_dir())
        st.session_state["import_message"] = (
            f"Imported {imported.n_images:,} images of shape {imported.image_shape} as "
            f"'{imported.path.name}': choose 'your upload: {imported.path.name}' above to train on it."
        )
        st.rerun()  # the dataset chooser above lists it now
    except LatentExplorerError as exc:
        st.error(f"Not imported: {exc}")
if uploads:
    st.dataframe(
        [
            {
                "dataset": name,
                "from": meta.get("source"),
                "images": meta.get("n_images"),
                "shape": "x".join(map(str, meta.get("image_shape", []))),
            }
            for name, meta in uploads.items()
        ],
        hide_index=True,
    )

# --- your own checkpoint -------------------------------------------------------------------------
st.subheader("Your own checkpoint")
st.caption("A pair in this project's format: ae.safetensors, ae.json, vae.safetensors, vae.json (see the README).")
c = st.columns([3, 1])
folder = c[0].text_input("From a folder on this server", key="ckpt_path", placeholder="/path/to/pair")
files = st.file_uploader(
    "…or upload the four files", accept_multiple_files=True, key="ckpt_files", type=["json", "safetensors"]
)


if c[1].button("Load the pair", key="ckpt_load"):
    try:
        if files:
            names = {f.name for f in files}
            wanted = {f"{k}{s}" for k in KINDS for s in (".json", ".safetensors")}
            if names != wanted:
                raise LatentExplorerError(f"upload exactly {', '.join(sorted(wanted))}; got {', '.join(sorted(names))}")
            with tempfile.TemporaryDirectory() as tmp:
                for f in files:
                    (Path(tmp) / f.name).write_bytes(f.getvalue())
                st.success(f"Loaded as {import_set(tmp, 'uploaded-pair')}: choose it in the sidebar.")
        elif folder:
            source = allowed_path(folder)
            st.success(f"Loaded as {import_set(source, source.name)}: choose it in the sidebar.")
        else:
            st.info("Give a folder or upload the four files first.")
    except LatentExplorerError as exc:
        st.error(f"Not loaded: {exc}")
    except OSError as exc:
        st.error(f"Not loaded: {exc.strerror or exc}")

# --- posterior collapse and beta -----------------------------------------------------------------
st.subheader("The VAE's latent dimensions")
metrics = view.pair["vae"].metrics
kl = np.array(metrics.get("kl_per_dim", []))
if kl.size:
    st.plotly_chart(figures.kl_bars(kl), key="kl_bars")
    st.caption(
        f"{view.pair_id}: KL per dimension on the test split (nats); {metrics.get('active_units')} of "
        f"{metrics.get('latent_dim')} dimensions are active (their posterior mean varies with the input, variance > 0.01)."
    )
    warning = collapse_warning(metrics, view.pair["vae"].config.model.beta)
    if warning:
        st.warning(warning)

st.subheader("β: reconstruction against prior samples")
points = []
for info in find_sets("pair").values():
    if not info.id.startswith("runs/"):
        continue
    directory = info.path
    try:  # the sidecars say all this chart needs: no weights are loaded
        sidecar = read_sidecar(directory / "vae")
        data, model, m = sidecar["data"], sidecar["model"], sidecar["metrics"]
        if data["name"] == view.dataset.name and "prior_validity" in m:
            points.append((float(model["beta"]), float(m["recon_mse"]), float(m["prior_validity"]), directory.name))
    except (LatentExplorerError, KeyError, TypeError, ValueError):
        continue
if len(points) < 2:
    st.caption(
        f"Train VAEs on {view.dataset.name} with two or more β values (above) to see the trade-off: larger β buys prior "
        "samples that look like data at the price of blurrier reconstructions."
    )
else:
    points.sort()
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=["reconstruction MSE (test)", "prior-sample distance (1,000 samples)"]
    )
    for col, index in ((1, 1), (2, 2)):
        fig.add_trace(
            go.Scatter(
                x=[p[0] for p in points],
                y=[p[index] for p in points],
                mode="markers+lines",
                text=[p[3] for p in points],
                showlegend=False,
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text="β", type="log" if min(p[0] for p in points) > 0 else "linear", row=1, col=col)
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10))
    st.plotly_chart(fig, key="beta_tradeoff")
    st.caption(f"Your runs on {view.dataset.name} under runs/, one point per VAE.")
