"""The Train page's inputs: the train form, your own data (upload) and your own checkpoint (import)."""

from __future__ import annotations

import streamlit as st

from explorer.ui.context import KINDS
from explorer.ui.lang import error_text, t
from explorer.ui.text import plain
from training import moons
from training.errors import LatentExplorerError

# analyses.MODEL_CHOICES' labels (the form's values) -> the catalogue's words for them
MODEL_KEYS = {
    "AE + VAE": "train_models_pair",
    "CVAE on the class label (+ regression)": "train_models_label",
    "CVAE on half the image (+ regression)": "train_models_half",
}


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
        st.markdown(t("train_lead"))
        c = st.columns(4)
        shown = lambda d: t("train_upload", name=d[len(UPLOAD_PREFIX) :]) if d.startswith(UPLOAD_PREFIX) else d  # noqa: E731
        f = {"dataset": c[0].selectbox(t("side_dataset"), options, key="train_dataset", format_func=shown)}
        f["regime"] = c[1].selectbox(
            t("train_regime"),
            regimes,
            format_func=lambda r: t("regime_" + r),
            index=regimes.index("sparse"),
            key="train_regime",
            help=t("train_regime_help"),
        )
        f["jitter"] = c[2].checkbox(t("train_jitter"), key="train_jitter")
        f["n_train"] = c[3].number_input(t("train_n"), 0, MAX_TRAIN_IMAGES, 0, 100, key="train_n")
        c = st.columns(4)
        f["family"] = c[0].selectbox(
            t("train_family"),
            list(FAMILIES),
            key="train_family",
            help=t("train_family_help"),
        )
        f["models"] = c[0].selectbox(
            t("train_models"),
            list(MODEL_CHOICES),
            format_func=lambda m: t(MODEL_KEYS[m]),
            key="train_models",
            help=t("train_models_help"),
        )
        f["latent_dim"] = c[1].number_input(t("train_latent"), 1, MAX_LATENT_DIM, 2, key="train_latent")
        f["beta"] = c[2].number_input(t("train_beta_weight"), 0.0, 100.0, 1.0, 0.5, key="train_beta")
        f["hidden"] = c[3].text_input(t("train_hidden"), "128,64", key="train_hidden")
        c = st.columns(4)
        f["epochs"] = c[0].number_input(t("train_epochs", max=MAX_EPOCHS), 1, MAX_EPOCHS, 20, key="train_epochs")
        f["lr"] = c[1].number_input(t("train_lr"), 1e-5, 1.0, 1e-3, format="%.5f", key="train_lr")
        f["seed"] = c[2].number_input(t("lab_seed"), 0, 1_000_000, 0, key="train_seed")
        f["warmup"] = c[3].number_input(t("train_warmup"), 0, 1000, 0, key="train_warmup")
        f["name"] = st.text_input(
            t("train_name"),
            key="train_name",
            max_chars=60,
            placeholder=t("train_name_placeholder"),
            help=t("train_name_help"),
        )
        submitted = st.form_submit_button(t("train_submit"), key="train_submit", type="primary")
    return f if submitted else None


def checkpoint_import() -> None:
    """A pair from a folder under the import roots, or four uploaded files, copied into runs/."""
    import tempfile
    from pathlib import Path

    from training.store import allowed_path, import_set

    st.subheader(t("ckpt_title"))
    st.caption(t("ckpt_lead"))
    c = st.columns([3, 1])
    folder = c[0].text_input(t("ckpt_folder"), key="ckpt_path", placeholder="/path/to/pair")
    files = st.file_uploader(
        t("ckpt_files"), accept_multiple_files=True, key="ckpt_files", type=["json", "safetensors"]
    )
    if not c[1].button(t("ckpt_load"), key="ckpt_load"):
        return
    try:
        if files:
            from explorer.analyses import latest_files

            wanted = {f"{k}{s}" for k in KINDS for s in (".json", ".safetensors")}
            with tempfile.TemporaryDirectory() as tmp:
                for name, f in latest_files(files, wanted).items():  # earlier attempts' files stay in the uploader
                    (Path(tmp) / name).write_bytes(f.getvalue())
                st.success(t("ckpt_loaded", name=plain(import_set(tmp, "uploaded-pair"))))
        elif folder:
            source = allowed_path(folder)
            st.success(t("ckpt_loaded", name=plain(import_set(source, source.name))))
        else:
            st.info(t("ckpt_nothing"))
    except (LatentExplorerError, OSError) as exc:
        st.error(t("ckpt_not_loaded", error=error_text(exc)))


def dataset_upload(user_data: dict) -> None:
    """Import a .zip or .npz as a dataset the train form offers; list the ones imported."""
    from training import uploads
    from training.limits import MAX_IMAGES, MAX_SIDE, MAX_UPLOAD_BYTES, MIN_SIDE
    from training.store import uploads_dir

    st.subheader(t("data_title"))
    st.caption(t("data_lead", lo=MIN_SIDE, hi=MAX_SIDE, mib=MAX_UPLOAD_BYTES // 2**20, images=MAX_IMAGES))
    upload = st.file_uploader(t("data_upload"), type=["zip", "npz"], key="upload_data")
    if "import_message" in st.session_state:
        st.success(plain(st.session_state.pop("import_message")))
    if upload is not None and st.button(t("data_import"), key="import_data"):
        try:
            imported = uploads.import_upload(upload.name, upload.getvalue(), uploads_dir())
            name = imported.path.name
            shape, n = imported.image_shape, imported.n_images
            st.session_state["import_message"] = t("data_imported", n=n, shape=shape, name=name)
            st.rerun()  # the dataset chooser above lists it now
        except LatentExplorerError as exc:
            st.error(t("data_not_imported", error=error_text(exc)))
    if user_data:
        from explorer.analyses import upload_rows

        st.dataframe(upload_rows(user_data, t=t), hide_index=True)
