"""The Train page's inputs: the train form, your own data (upload) and your own checkpoint (import)."""

from __future__ import annotations

import streamlit as st

from explorer.ui.context import KINDS
from explorer.ui.text import plain
from training import moons
from training.errors import LatentExplorerError


def train_form(user_data: dict) -> dict | None:
    """The train form's values when submitted (analyses.train_config turns them into a run), else None."""
    from explorer.analyses import MODEL_CHOICES, UPLOAD_PREFIX
    from training.config import MAX_LATENT_DIM
    from training.datasets import DATASETS
    from training.limits import MAX_EPOCHS, MAX_TRAIN_IMAGES
    from training.models import FAMILIES

    options = [n for n, spec in DATASETS.items() if not spec.needs_path] + [UPLOAD_PREFIX + u for u in user_data]
    regimes = list(moons.REGIMES)
    with st.form("train_form"):
        st.markdown("**Train an AE and a VAE** with the same data, architecture, seed and schedule.")
        c = st.columns(4)
        shown = lambda d: d.replace(UPLOAD_PREFIX, "your upload: ")  # noqa: E731
        f = {"dataset": c[0].selectbox("Dataset", options, key="train_dataset", format_func=shown)}
        f["regime"] = c[1].selectbox(
            "Moons regime",
            regimes,
            index=regimes.index("sparse"),
            key="train_regime",
            help="moons only: which phases the training split holds",
        )
        f["jitter"] = c[2].checkbox("Moons: size/position jitter", key="train_jitter")
        f["n_train"] = c[3].number_input("Training images (0: all)", 0, MAX_TRAIN_IMAGES, 0, 100, key="train_n")
        c = st.columns(4)
        f["family"] = c[0].selectbox(
            "Architecture",
            list(FAMILIES),
            key="train_family",
            help="mlp decodes in your browser on the drag page; conv needs 28x28 or 32x32 images",
        )
        f["models"] = c[0].selectbox(
            "Models",
            list(MODEL_CHOICES),
            key="train_models",
            help="a CVAE is trained with its regression baseline, and shows on the Conditional VAE page",
        )
        f["latent_dim"] = c[1].number_input("Latent size", 1, MAX_LATENT_DIM, 2, key="train_latent")
        f["beta"] = c[2].number_input("β (KL weight)", 0.0, 100.0, 1.0, 0.5, key="train_beta")
        f["hidden"] = c[3].text_input("Hidden sizes", "128,64", key="train_hidden")
        c = st.columns(4)
        f["epochs"] = c[0].number_input(f"Epochs (max {MAX_EPOCHS})", 1, MAX_EPOCHS, 20, key="train_epochs")
        f["lr"] = c[1].number_input("Learning rate", 1e-5, 1.0, 1e-3, format="%.5f", key="train_lr")
        f["seed"] = c[2].number_input("Seed", 0, 1_000_000, 0, key="train_seed")
        f["warmup"] = c[3].number_input("KL warm-up epochs", 0, 1000, 0, key="train_warmup")
        f["name"] = st.text_input(
            "Run name",
            key="train_name",
            max_chars=60,
            placeholder="empty: dataset-regime-dim-time, e.g. moons-sparse-2d-20260612-1430",
            help="the run's folder under runs/ and its id in the link; letters, digits, '.', '-' and '_'",
        )
        submitted = st.form_submit_button("Train the pair", key="train_submit", type="primary")
    return f if submitted else None


def checkpoint_import() -> None:
    """A pair from a folder under the import roots, or four uploaded files, copied into runs/."""
    import tempfile
    from pathlib import Path

    from training.store import allowed_path, import_set

    st.subheader("Your own checkpoint")
    st.caption("A pair in this project's format: ae.safetensors, ae.json, vae.safetensors, vae.json (see the README).")
    c = st.columns([3, 1])
    folder = c[0].text_input("From a folder on this server", key="ckpt_path", placeholder="/path/to/pair")
    files = st.file_uploader(
        "…or upload the four files", accept_multiple_files=True, key="ckpt_files", type=["json", "safetensors"]
    )
    if not c[1].button("Load the pair", key="ckpt_load"):
        return
    try:
        if files:
            from explorer.analyses import latest_files

            wanted = {f"{k}{s}" for k in KINDS for s in (".json", ".safetensors")}
            with tempfile.TemporaryDirectory() as tmp:
                for name, f in latest_files(files, wanted).items():  # earlier attempts' files stay in the uploader
                    (Path(tmp) / name).write_bytes(f.getvalue())
                st.success(f"Loaded as {plain(import_set(tmp, 'uploaded-pair'))}: choose it in the sidebar.")
        elif folder:
            source = allowed_path(folder)
            st.success(f"Loaded as {plain(import_set(source, source.name))}: choose it in the sidebar.")
        else:
            st.info("Give a folder or upload the four files first.")
    except LatentExplorerError as exc:
        st.error(f"Not loaded: {plain(exc)}")
    except OSError as exc:
        st.error(f"Not loaded: {plain(exc.strerror or exc)}")


def dataset_upload(user_data: dict) -> None:
    """Import a .zip or .npz as a dataset the train form offers; list the ones imported."""
    from training import uploads
    from training.limits import MAX_IMAGES, MAX_SIDE, MAX_UPLOAD_BYTES, MIN_SIDE
    from training.store import uploads_dir

    st.subheader("Your own data")
    st.caption(
        f"A .zip of PNG/JPEG images (all the same size, {MIN_SIDE} to {MAX_SIDE} pixels; sub-folders become classes) "
        f"or an .npz with 'x' (N, H, W[, C]) and optional integer labels 'y'. Limits: "
        f"{MAX_UPLOAD_BYTES // 2**20} MiB upload, {MAX_IMAGES:,} images."
    )
    upload = st.file_uploader("Upload a dataset", type=["zip", "npz"], key="upload_data")
    if "import_message" in st.session_state:
        st.success(plain(st.session_state.pop("import_message")))
    if upload is not None and st.button("Import it", key="import_data"):
        try:
            imported = uploads.import_upload(upload.name, upload.getvalue(), uploads_dir())
            st.session_state["import_message"] = (
                f"Imported {imported.n_images:,} images of shape {imported.image_shape} as "
                f"'{imported.path.name}': choose 'your upload: {imported.path.name}' above to train on it."
            )
            st.rerun()  # the dataset chooser above lists it now
        except LatentExplorerError as exc:
            st.error(f"Not imported: {plain(exc)}")
    if user_data:
        from explorer.analyses import upload_rows

        st.dataframe(upload_rows(user_data), hide_index=True)
