"""The Train page's own module: the train form and the run it asks for, your own data (upload) and
your own checkpoint (import), a run's status line and the beta chart's points."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from explorer.i18n import ENGLISH, Words
from explorer.ui.context import KINDS
from explorer.ui.lang import error_text, show_error, t, words
from explorer.ui.likelihood_section import likelihood_explainer
from explorer.ui.text import plain
from explorer.ui.uploader import file_uploader
from training import moons
from training.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from training.errors import LatentExplorerError
from training.kinds import LABELS
from training.losses import LIKELIHOODS
from training.store import RUN_PREFIX

MODEL_CHOICES = {  # label -> (kind, condition); a run trains the set the config asks for
    "AE + VAE": ("vae", "none"),
    "CVAE on the class label (+ regression)": ("cvae", "label"),
    "CVAE on half the image (+ regression)": ("cvae", "half"),
}
UPLOAD_PREFIX = "upload:"  # dataset options naming the user's uploads
# MODEL_CHOICES' labels (the form's values) -> the catalogue's words for them
MODEL_KEYS = {
    "AE + VAE": "train_models_pair",
    "CVAE on the class label (+ regression)": "train_models_label",
    "CVAE on half the image (+ regression)": "train_models_half",
}


def train_form(user_data: dict, view=None) -> dict | None:
    """The train form's values when submitted (train_config turns them into a run), else None. view: the
    sidebar's pair, whose decodes explain the likelihood choice (explorer/ui/likelihood_section.py)."""
    from training.config import MAX_LATENT_DIM
    from training.datasets import DATASETS
    from training.limits import MAX_EPOCHS, MAX_TRAIN_IMAGES
    from training.models import FAMILIES

    options = [n for n, spec in DATASETS.items() if not spec.needs_path] + [UPLOAD_PREFIX + u for u in user_data]
    # Choices shown in words; the options are the words themselves (a form keeps no URL state), mapped back
    # to their values below. A word left in Session State from the other language falls back to the default.
    regime_of = {t("regime_" + r): r for r in moons.REGIMES}
    models_of = {t(MODEL_KEYS[m]): m for m in MODEL_CHOICES}
    for key, labels in (("train_regime", regime_of), ("train_models", models_of)):
        if st.session_state.get(key) not in labels:
            st.session_state.pop(key, None)
    with st.form("train_form"):
        st.markdown(t("train_lead"))
        c = st.columns(4)
        shown = lambda d: t("train_upload", name=d[len(UPLOAD_PREFIX) :]) if d.startswith(UPLOAD_PREFIX) else d  # noqa: E731
        f = {"dataset": c[0].selectbox(t("side_dataset"), options, key="train_dataset", format_func=shown)}
        regime = c[1].selectbox(
            t("train_regime"),
            list(regime_of),
            index=list(regime_of.values()).index("sparse"),
            key="train_regime",
            help=t("train_regime_help"),
        )
        f["regime"] = regime_of[regime]
        f["jitter"] = c[2].checkbox(t("train_jitter"), key="train_jitter")
        f["n_train"] = c[3].number_input(t("train_n"), 0, MAX_TRAIN_IMAGES, 0, 100, key="train_n")
        c = st.columns(4)
        f["family"] = c[0].selectbox(
            t("train_family"),
            list(FAMILIES),
            key="train_family",
            help=t("train_family_help"),
        )
        models = c[0].selectbox(t("train_models"), list(models_of), key="train_models", help=t("train_models_help"))
        f["models"] = models_of[models]
        f["latent_dim"] = c[1].number_input(t("train_latent"), 1, MAX_LATENT_DIM, 2, key="train_latent")
        f["beta"] = c[2].number_input(t("train_beta_weight"), 0.0, 100.0, 1.0, 0.5, key="train_beta")
        f["hidden"] = c[3].text_input(t("train_hidden"), "128,64", key="train_hidden")
        c = st.columns(4)
        f["likelihood"] = c[0].selectbox(
            t("train_likelihood"),
            list(LIKELIHOODS),
            key="train_likelihood",
            format_func=lambda k, t=words(): t(f"lik_{k.replace('-', '_')}"),
            help=t("train_likelihood_help"),
        )
        f["sigma"] = c[1].number_input(
            t("train_sigma"), 0.01, 1.0, ModelConfig.gaussian_sigma, 0.01, key="train_sigma", help=t("train_sigma_help")
        )
        c = st.columns(4)
        f["epochs"] = c[0].number_input(t("train_epochs", max=MAX_EPOCHS), 1, MAX_EPOCHS, 20, key="train_epochs")
        f["lr"] = c[1].number_input(t("train_lr"), 1e-5, 1.0, 1e-3, format="%.5f", key="train_lr")
        f["seed"] = c[2].number_input(t("lab_seed"), 0, 1_000_000, 0, key="train_seed")
        f["warmup"] = c[3].number_input(t("train_warmup"), 0, 1000, 0, key="train_warmup")
        f.update(posterior_inputs())
        f["name"] = st.text_input(
            t("train_name"),
            key="train_name",
            max_chars=60,
            placeholder=t("train_name_placeholder"),
            help=t("train_name_help"),
        )
        submitted = st.form_submit_button(t("train_submit"), key="train_submit", type="primary")
    if view is not None:  # below the form: its scores are a long request, whose Cancel button a form cannot hold
        likelihood_explainer(view, f["sigma"])
    return f if submitted else None


def checkpoint_import() -> None:
    """A pair from a folder under the import roots, or four uploaded files, copied into runs/."""
    import tempfile
    from pathlib import Path

    from training.store import allowed_path, import_set

    st.subheader(t("ckpt_title"))
    st.caption(t("ckpt_lead"))
    c = st.columns([3, 1])
    folder = c[0].text_input(t("ckpt_folder"), key="ckpt_path", placeholder=t("ckpt_placeholder"))
    files = file_uploader(
        t("ckpt_files"),
        accept_multiple_files=True,
        key="ckpt_files",
        type=["json", "safetensors", "onnx", "npy", "csv", "tsv", "txt"],
        help=t("ckpt_files_help"),
    )
    onnx_data = onnx_data_choice() if any(f.name.lower().endswith(".onnx") for f in files or []) else None
    codes = [f for f in files or [] if f.name.lower().endswith(EMBEDDING_SUFFIXES)]
    if codes and onnx_data is None:
        st.caption(t("ckpt_emb_lead", n=len(codes)))
    if not c[1].button(t("ckpt_load"), key="ckpt_load"):
        return
    try:
        if codes and onnx_data is None:
            from training.embeddings import read_embeddings, sort_files
            from training.onnxio import import_embeddings

            roles = sort_files({f.name: f.getvalue() for f in codes})
            emb = read_embeddings(roles["codes"], roles.get("labels"), roles.get("images"))
            st.success(t("ckpt_loaded", name=plain(import_embeddings(emb, "uploaded-embeddings", "upload").set_id)))
        elif files and onnx_data is not None:
            from training.onnxio import import_uploaded

            data, output = onnx_data
            imported = import_uploaded({f.name: f.getvalue() for f in files}, data, decoder_output=output)
            st.success(t("ckpt_loaded", name=plain(imported.set_id)))
        elif files:
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
        show_error(t("ckpt_not_loaded", error=error_text(exc)), exc)


EMBEDDING_SUFFIXES = (".npy", ".csv", ".tsv", ".txt")  # codes, labels and images of an embeddings set


def onnx_data_choice():
    """The data uploaded ONNX graphs were trained on (an exported set's onnx.json overrides it), and what
    their decoders output (None: read from the output's name)."""
    from training.config import DataConfig
    from training.datasets import DATASETS
    from training.schema import ONNX_DECODER_OUTPUTS

    names = [name for name, spec in DATASETS.items() if not spec.downloads and name not in ("folder", "npz")]
    st.caption(t("ckpt_onnx_lead"))
    c = st.columns(2)
    name = c[0].selectbox(t("ckpt_onnx_data"), names, key="ckpt_onnx_data")
    output = c[1].selectbox(
        t("ckpt_onnx_output"),
        [None, *ONNX_DECODER_OUTPUTS],
        format_func=lambda o, t=words(): t("ckpt_onnx_output_named") if o is None else o,
        key="ckpt_onnx_output",
        help=t("ckpt_onnx_output_help"),
    )
    size = c[0].number_input(t("ckpt_onnx_size"), 4, 128, 28, key="ckpt_onnx_size", disabled=name != "moons")
    regime = c[1].selectbox(
        t("ckpt_onnx_regime"), list(moons.REGIMES), key="ckpt_onnx_regime", disabled=name != "moons"
    )
    return DataConfig(name=name, image_size=int(size), regime=regime), output


def _import_chosen() -> None:
    """The file uploader's on_change, before the script reruns: import the chosen file at once and choose
    it in the train form (its selectbox is not drawn yet), or keep the refusal for the page to show."""
    from training import uploads
    from training.store import uploads_dir

    upload = st.session_state.get("upload_data")
    if upload is None:
        return
    try:
        imported = uploads.import_upload(upload.name, upload.getvalue(), uploads_dir())
    except LatentExplorerError as exc:
        st.session_state["import_error"] = t("data_not_imported", error=error_text(exc))
        return
    name = imported.path.name
    st.session_state["train_dataset"] = UPLOAD_PREFIX + name
    st.session_state["import_message"] = t("data_imported", n=imported.n_images, shape=imported.image_shape, name=name)


def dataset_upload(user_data: dict) -> None:
    """A .zip or .npz imported as soon as it is chosen, and chosen for training; the imported ones listed."""
    from training.limits import MAX_IMAGES, MAX_SIDE, MAX_UPLOAD_BYTES, MIN_SIDE

    st.subheader(t("data_title"))
    st.caption(t("data_lead", lo=MIN_SIDE, hi=MAX_SIDE, mib=MAX_UPLOAD_BYTES // 2**20, images=MAX_IMAGES))
    file_uploader(t("data_upload"), type=["zip", "npz"], key="upload_data", on_change=_import_chosen)
    if "import_message" in st.session_state:
        st.success(plain(st.session_state.pop("import_message")), icon=":material/check_circle:")
    if "import_error" in st.session_state:
        st.error(st.session_state.pop("import_error"))
    if user_data:
        st.dataframe(upload_rows(user_data, t=t), hide_index=True)


def train_config(form: dict, uploads: Path) -> RunConfig:
    """The run the train form asks for; LatentExplorerError when a field cannot be used."""
    try:
        hidden = tuple(int(h) for h in form["hidden"].split(",") if h.strip())
    except ValueError:
        hidden = ()
    if not hidden:
        raise LatentExplorerError(
            f"hidden sizes must be comma-separated whole numbers, got {form['hidden']!r}",
            key="err_hidden_text",
            text=repr(form["hidden"]),
        )
    n_train, seed, dataset = form["n_train"] or None, int(form["seed"]), form["dataset"]
    if dataset.startswith(UPLOAD_PREFIX):
        path = uploads / dataset[len(UPLOAD_PREFIX) :] / "data.npz"
        data = DataConfig("npz", path=str(path), n_train=n_train, seed=seed)
    else:
        data = DataConfig(dataset, regime=form["regime"], jitter=form["jitter"], n_train=n_train, seed=seed)
    kind, condition = MODEL_CHOICES[form["models"]]
    model = ModelConfig(
        kind=kind,
        condition=condition,
        family=form["family"],
        latent_dim=int(form["latent_dim"]),
        hidden=hidden,
        beta=float(form["beta"]),
        likelihood=form.get("likelihood", ModelConfig.likelihood),
        gaussian_sigma=float(form.get("sigma", ModelConfig.gaussian_sigma)),
    )
    model.posterior = form.get("posterior", "diag") if kind == "vae" else "diag"
    train = TrainConfig(
        epochs=int(form["epochs"]),
        lr=float(form["lr"]),
        seed=seed,
        kl_warmup_epochs=int(form["warmup"]),
        objective=form.get("objective", "elbo"),
        iwae_k=int(form.get("iwae_k", 50)),
    )
    return RunConfig(data, model, train)


def posterior_inputs() -> dict:
    """The VAE's posterior family and training objective (issue 28): one row of the form."""
    from training.config import MAX_IWAE_K, OBJECTIVES
    from training.posteriors import POSTERIORS

    c = st.columns(4)
    # the options are the labels (as the regime's are): a language switch then reruns with valid options
    posterior_of = {t(f"posterior_{k}"): k for k in POSTERIORS}
    return {
        "posterior": posterior_of[
            c[0].selectbox(
                t("train_posterior"), list(posterior_of), key="train_posterior", help=t("train_posterior_help")
            )
        ],
        "objective": c[1].selectbox(
            t("train_objective"),
            list(OBJECTIVES),
            key="train_objective",
            format_func=str.upper,  # the bounds' names (ELBO, IWAE), the same in every language
            help=t("train_objective_help"),
        ),
        "iwae_k": c[2].number_input(t("train_k"), 1, MAX_IWAE_K, 50, key="train_k", help=t("train_k_help")),
    }


def beta_curves(sets: dict, dataset: str, t: Words = ENGLISH) -> dict[str, list]:
    """The user's VAEs on dataset on the rate-distortion plane: one curve per setting (named in words),
    each summarised per beta over its seeds. The index of runs/ has each VAE's RunPoint, so no sidecar
    is read here (SetInfo.point)."""
    from training.sweep import curves

    found = [info for info in sets.values() if info.id.startswith(RUN_PREFIX) and info.dataset == dataset]
    found = [info for info in found if info.point is not None]
    named = curves([info.point for info in found], [info.path.name for info in found])
    return {setting_label(setting, t): summaries for setting, summaries in named.items()}


def setting_label(setting: str, t: Words = ENGLISH) -> str:
    """A curve's name: store.run_setting's key in words (the key itself if it is not one)."""
    import json

    try:
        f = json.loads(setting)
        words = [t("train_beta_setting", **{k: f[k] for k in ("dim", "family", "hidden", "epochs", "batch")})]
        words += [t(f"lik_{f['likelihood'].replace('-', '_')}"), t("train_beta_setting_lr", lr=f"{float(f['lr']):g}")]
        words += [t("regime_" + f["regime"])] if f["regime"] in moons.REGIMES else []
        words += [t("train_jitter")] if f["jitter"] else []
        words += [t("train_beta_setting_n", n=int(f["n_train"]))] if f["n_train"] else []
        words += [t("train_beta_setting_warmup", n=int(f["warmup"]))] if f["warmup"] else []
        words += [t("posterior_" + f["posterior"])] if f.get("posterior", "diag") != "diag" else []
        words += [f"IWAE-{int(f['iwae_k'])}"] if f.get("objective") == "iwae" else []  # the bound's name
    except (ValueError, TypeError, KeyError):
        return setting
    return ", ".join(words)


def bundled_sweep_curve(t: Words = ENGLISH) -> tuple[dict, dict[str, list]] | None:
    """The committed sweep (lab/beta/results.json) and its one curve, or None when it is absent."""
    from explorer.ui import cache
    from training.sweep import BUNDLED, sweep_setting

    path = BUNDLED / "results.json"
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return None
    found = cache.sweep_results(str(path), stamp)
    if found is None:
        return None
    results, summaries = found
    return results, {setting_label(sweep_setting(results["config"]), t): summaries}


def upload_rows(uploads: dict[str, dict], t: Words = ENGLISH) -> list[dict]:
    """The user's uploaded datasets as table rows."""
    return [
        {
            t("data_col_dataset"): name,
            t("data_col_from"): meta.get("source"),
            t("data_col_images"): meta.get("n_images"),
            t("data_col_shape"): "x".join(map(str, meta.get("image_shape", []))),
        }
        for name, meta in uploads.items()
    ]


def elapsed(seconds: float) -> str:
    """0:42, 12:05, 1:02:03."""
    seconds = max(0, int(seconds))
    h, m, s = seconds // 3600, seconds // 60 % 60, seconds % 60
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


RUN_PHASES = {"starting": "run_starting", "loading": "run_loading", "training": "run_epoch"}
RUN_PHASES |= {"measuring": "run_measuring", "saving": "run_saving"}


def run_status(job, t: Words = ENGLISH, explain=None, now: float | None = None) -> str:
    """One line on a training.jobs.Job: its place in the queue, the phase it is in with the time since
    it started, or how and when it ended (no word said twice); explain(exc) words a failed run's keyed
    error (the app's lang.error_text)."""
    import time

    now = time.time() if now is None else now
    status = t("status_" + job.status) if "status_" + job.status in STATUS_KEYS else job.status
    if job.status == "queued" and job.place:
        from training.jobs import max_runs

        return t("run_queued", status=status, place=job.place, slots=max_runs())
    if job.active:
        phase = job.phase or {}
        what, kind = str(phase.get("what", "")), str(phase.get("kind") or "")
        key = "run_what_" + what.lower().replace(" ", "_")
        values = {
            "status": status,
            "elapsed": elapsed(now - (job.started or now)),
            "kind": LABELS.get(kind, kind.upper()),
            "epoch": phase.get("epoch", 0),
            "epochs": job.epochs,
            "what": t(key) if key in RUN_WHAT_KEYS else what,
        }
        return status if job.status == "queued" else t(RUN_PHASES.get(phase.get("name"), "run_starting"), **values)
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(job.finished or job.started or job.created))
    message = job.message
    if job.status == "finished" and message:  # "saved as runs/<id>"
        message = t("run_saved_as", name=RUN_PREFIX + job.run_id)
    elif job.status == "cancelled":
        message = t("run_nothing_saved")
    elif job.status == "failed" and explain is not None and getattr(job, "error", None) is not None:
        message = explain(job.error)
    return f"{status} {when}" + (f": {message}" if message else "")


STATUS_KEYS = {"status_queued", "status_running", "status_finished", "status_failed", "status_cancelled"}
RUN_WHAT_KEYS = {f"run_what_{w}" for w in ("reconstruction", "elbo", "iwae", "exact_nll", "prior_samples")}
RUN_WHAT_KEYS |= {"run_what_completions", "run_what_labels"}


def latest_files(files: list, wanted: set[str]) -> dict:
    """The uploader's files by name, the last upload of each name winning (the uploader keeps earlier
    attempts); LatentExplorerError naming what is missing. Files of other names are ignored."""
    latest = {f.name: f for f in files}
    missing = wanted - set(latest)
    if missing:
        got = ", ".join(sorted(latest)) or "-"
        raise LatentExplorerError(
            f"upload {', '.join(sorted(wanted))}; missing {', '.join(sorted(missing))} (got {got})",
            key="err_upload_missing_files",
            wanted=", ".join(sorted(wanted)),
            missing=", ".join(sorted(missing)),
            got=got,
        )
    return {name: latest[name] for name in sorted(wanted)}
