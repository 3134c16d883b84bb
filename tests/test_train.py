"""Train page, background runs, uploads and imported checkpoints."""

import dataclasses
import io
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import npz_bytes, open_app, slow_run, tiny_run, wait, zip_with
from training import jobs, limits, store, uploads
from training.config import DataConfig, ModelConfig
from training.errors import DatasetError, LatentExplorerError
from training.store import load_set

TRAIN = "explorer/ui/pages/train.py"


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    runs, ups = tmp_path / "runs", tmp_path / "uploads"
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(runs))
    monkeypatch.setenv("LATENT_EXPLORER_UPLOADS", str(ups))
    return runs, ups


def test_training_from_the_page_lands_in_the_sidebar(dirs):
    runs, _ = dirs
    at = open_app(TRAIN, dataset="digits", pair="digits-2d")
    at.selectbox(key="train_dataset").set_value("digits")  # the sidebar lists pairs of its dataset
    at.number_input(key="train_n").set_value(200)
    at.number_input(key="train_epochs").set_value(1)
    at.number_input(key="train_latent").set_value(3)  # a 2-D VAE's save adds exact log p(x): seconds
    at.text_input(key="train_hidden").set_value("16")
    at.button(key="train_submit").click().run()
    assert not at.exception and not at.error
    job = wait(jobs.get_run(at.session_state["train_job"]))
    assert job.status == "finished", job.message
    assert len(job.history["ae"]) == len(job.history["vae"]) == 1
    assert set(job.snapshots) == {"ae", "vae"}
    at.run()
    assert f"runs/{job.run_id}" in at.sidebar.selectbox(key="pair").options
    vae = load_set(runs / job.run_id)["vae"].metrics  # measured on the app's cheaper budget, and says so
    # 3-D: no quadrature; IWAE on the quick budget's 50 images (fewer when the test split is smaller)
    assert (vae["elbo_samples"], vae["iwae_k"]) == (20, 500) and "exact_n_images" not in vae
    assert vae["iwae_n_images"] <= 50


def test_cancel_leaves_no_partial_run(dirs):
    runs, _ = dirs
    job = jobs.start_job(slow_run(), runs)
    deadline = time.time() + 120
    while not jobs.get_run(job.run_id).history["ae"]:
        assert time.time() < deadline
        time.sleep(0.1)
    job.cancel()
    job = wait(job)
    assert job.status == "cancelled"
    assert sorted(p.name for p in (runs / job.run_id).iterdir()) == [
        "heartbeat",
        "job.json",
        "progress.jsonl",
        "run.lock",
        "snapshots.npz",
        "worker.log",
    ]  # the run's record, no part of a set


def test_two_simultaneous_runs_keep_their_own_histories(dirs):
    runs, _ = dirs
    a = jobs.start_job(tiny_run(epochs=2, seed=1), runs)
    b = jobs.start_job(dataclasses.replace(tiny_run(epochs=4, seed=2)), runs)
    assert (a.status, b.status) == ("running", "running")  # two slots by default
    a, b = wait(a), wait(b)
    assert (a.status, b.status) == ("finished", "finished")
    assert len(a.history["vae"]) == 2 and len(b.history["vae"]) == 4
    assert a.history["vae"][0]["train_total"] != b.history["vae"][0]["train_total"]
    saved = json.loads((runs / b.run_id / "vae.json").read_text())
    assert [h["train_total"] for h in saved["history"]] == [h["train_total"] for h in b.history["vae"]]


def test_limits_say_what_they_are_and_the_queue_is_bounded(dirs, monkeypatch):
    runs, _ = dirs
    with pytest.raises(LatentExplorerError, match=f"at most {limits.MAX_EPOCHS} epochs"):
        jobs.start_job(tiny_run(epochs=limits.MAX_EPOCHS + 1), runs)
    monkeypatch.setenv("LATENT_EXPLORER_MAX_RUNS", "0")  # nothing starts: every run waits
    monkeypatch.setattr(jobs, "MAX_QUEUED_RUNS", 2)
    first, second = jobs.start_job(tiny_run(), runs), jobs.start_job(tiny_run(), runs)
    assert [(j.status, j.place) for j in (first, second)] == [("queued", 1), ("queued", 2)]
    with pytest.raises(LatentExplorerError, match="2 runs are waiting already"):
        jobs.start_job(tiny_run(), runs)
    first.cancel()
    assert jobs.get_run(first.run_id).status == "cancelled" and jobs.get_run(second.run_id).place == 1


def test_a_failing_run_is_marked_failed(dirs):
    runs, _ = dirs
    missing = dataclasses.replace(tiny_run(), data=DataConfig("npz", path=str(runs / "missing.npz")))
    job = wait(jobs.start_job(missing, runs))
    assert job.status == "failed" and "not a readable .npz" in job.message


def test_run_ids_cannot_leave_runs():
    assert store.safe_name("../../etc/passwd") == "etc-passwd"
    assert "/" not in store.safe_name("a/b\\c") and store.safe_name("...") == "run"


# --- uploads -----------------------------------------------------------------------------------


def zip_of(files: dict[str, bytes]) -> bytes:
    return zip_with(files.items())


def png(side=12, seed=0, mode="L") -> bytes:
    rng = np.random.default_rng(seed)
    shape = (side, side) if mode == "L" else (side, side, 3)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_a_valid_zip_becomes_a_dataset(tmp_path):
    data = zip_of({f"{c}/{i}.png": png(12, i) for c in ("a", "b") for i in range(6)})
    imported = uploads.import_upload("shapes.zip", data, tmp_path)
    assert imported.n_images == 12 and imported.image_shape == (1, 12, 12)
    assert imported.class_names == ["a", "b"]
    assert uploads.list_uploads(tmp_path)["shapes"]["n_images"] == 12


BAD_UPLOADS = {
    "too big": ("big.npz", None, "limit is"),
    "empty": ("empty.zip", b"", "empty"),
    "not an image": ("mixed.zip", zip_of({"a.png": png(), "notes.txt": b"hi"}), "only PNG and JPEG"),
    "broken image": ("broken.zip", zip_of({"a.png": b"\x89PNG garbage"}), "not a readable image"),
    "mixed sizes": ("sizes.zip", zip_of({"a.png": png(12), "b.png": png(16)}), "same size"),
    "NaN": ("nan.npz", npz_bytes(x=np.full((4, 8, 8), np.nan, dtype=np.float32)), "NaN"),
    "wrong shape": ("shape.npz", npz_bytes(x=np.zeros((4, 8), dtype=np.float32)), "shape"),
    "no x": ("nox.npz", npz_bytes(images=np.zeros((4, 8, 8))), "needs an array 'x'"),
    "not a zip": ("fake.zip", b"hello", "not a valid zip"),
    "wrong type": ("data.csv", b"1,2", "upload a .zip"),
    "path traversal": ("evil.zip", zip_of({"../evil.png": png()}), "outside the archive"),
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_bad_uploads_are_refused_and_leave_nothing(tmp_path, monkeypatch, case):
    name, data, message = BAD_UPLOADS[case]
    if data is None:
        monkeypatch.setattr(limits, "MAX_UPLOAD_BYTES", 100)
        data = npz_bytes(x=np.zeros((4, 8, 8), dtype=np.uint8))
    with pytest.raises(DatasetError, match=message) as error:
        uploads.import_upload(name, data, tmp_path)
    assert name in str(error.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # each step has a fast test of its own: the upload import, training from the page
def test_upload_in_the_page_then_train_and_explore(dirs):
    runs, ups = dirs
    at = open_app(TRAIN, dataset="digits", pair="digits-2d")
    data = npz_bytes(x=(np.random.default_rng(0).random((60, 8, 8)) * 255).astype(np.uint8), y=np.arange(60) % 3)
    at.file_uploader(key="upload_data").set_value(("mine.npz", data, "application/octet-stream")).run()
    assert any("Imported 60 images" in s.value for s in at.success), [e.value for e in at.error]
    assert at.selectbox(key="train_dataset").value == "upload:mine"  # imported on choice, and chosen
    at.number_input(key="train_epochs").set_value(1)
    at.button(key="train_submit").click().run()
    job = wait(jobs.get_run(at.session_state["train_job"]))
    assert job.status == "finished", job.message
    at = open_app(None, dataset="npz", pair=f"runs/{job.run_id}")  # the explorer opens on it
    assert at.title[0].value == "Latent map"
    assert "label" in at.subheader[0].value


def test_an_upload_with_a_defect_shows_its_message_in_the_page(dirs):
    at = open_app(TRAIN, dataset="digits", pair="digits-2d")
    at.file_uploader(key="upload_data").set_value(("nan.npz", BAD_UPLOADS["NaN"][1], "application/octet-stream")).run()
    assert any("Not imported" in e.value and "NaN" in e.value for e in at.error)


def test_an_upload_is_imported_on_choice_chosen_for_training_and_the_same_bytes_reuse_it(dirs):
    _, ups = dirs
    at = open_app(TRAIN, dataset="digits", pair="digits-2d")
    data = npz_bytes(x=(np.random.default_rng(1).random((12, 8, 8)) * 255).astype(np.uint8))
    at.file_uploader(key="upload_data").set_value(("mine.npz", data, "application/octet-stream")).run()
    assert any("Imported 12 images" in s.value for s in at.success), [e.value for e in at.error]
    assert at.selectbox(key="train_dataset").value == "upload:mine"
    for name in ("mine.npz", "renamed.npz"):  # the same bytes again, under any name: the same dataset
        assert uploads.import_upload(name, data, ups).path.name == "mine"
    assert sorted(p.name for p in Path(ups).iterdir() if not p.name.startswith(".")) == ["mine"]
    other = npz_bytes(x=np.zeros((12, 8, 8), dtype=np.uint8))
    assert uploads.import_upload("mine.npz", other, ups).path.name == "mine-2"  # other bytes: a new one


def test_own_checkpoint_from_a_folder_is_validated_and_listed(dirs, tiny_pair_dir, tmp_path, monkeypatch):
    runs, _ = dirs
    monkeypatch.setenv("LATENT_EXPLORER_IMPORT_ROOTS", os.pathsep.join([str(tiny_pair_dir.parent), str(tmp_path)]))
    at = open_app(TRAIN, dataset="digits", pair="digits-2d")
    at.text_input(key="ckpt_path").set_value(str(tiny_pair_dir))
    at.button(key="ckpt_load").click().run()
    assert any("Loaded as runs/tiny-moons" in s.value for s in at.success)
    broken = tmp_path / "broken"
    shutil.copytree(tiny_pair_dir, broken)
    (broken / "vae.safetensors").write_bytes(b"junk")
    at.text_input(key="ckpt_path").set_value(str(broken))
    at.button(key="ckpt_load").click().run()
    assert any("Not loaded" in e.value and "sidecar" in e.value for e in at.error)
    assert sorted(p.name for p in runs.iterdir() if not p.name.startswith(".")) == ["tiny-moons"]  # none half-copied


def test_collapse_warning_names_what_to_try():
    from explorer.ui.context import collapse_warning

    assert "collapsed" in collapse_warning({"active_units": 0, "latent_dim": 8}, 4.0)
    assert "lower β (now 4)" in collapse_warning({"active_units": 2, "latent_dim": 8}, 4.0)
    assert collapse_warning({"active_units": 6, "latent_dim": 8}, 1.0) is None


def test_the_rate_distortion_plane_is_drawn_from_the_users_runs(dirs):
    from tests.helpers import beta_runs

    runs, _ = dirs
    beta_runs(runs)
    at = open_app(TRAIN, dataset="moons", pair="runs/beta-0.5-s0")
    assert not at.exception
    assert any("Your runs on moons under runs/: one curve per setting" in c.value for c in at.caption)
    fig = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "rate_distortion" in c.proto.id)
    means = next(t for t in fig["data"] if t.get("mode") == "markers+lines+text")
    for i, beta in enumerate((0.5, 4.0)):  # each point: the mean of its two seeds' sidecar numbers
        m = [json.loads((runs / f"beta-{beta}-s{s}" / "vae.json").read_text())["metrics"] for s in (0, 1)]
        assert means["x"][i] == pytest.approx(np.mean([v["rate"] for v in m]))
        assert means["y"][i] == pytest.approx(np.mean([v["distortion"] for v in m]))
    assert "1-D" not in means["name"] and "3-D mlp 16" in means["name"]  # the curve named by its setting


@pytest.mark.slow  # CVAE training: test_conditional's command-line run; the page: test_conditional
def test_a_cvae_trains_from_the_page_and_shows_on_the_conditional_page(dirs):
    runs, _ = dirs
    at = open_app(TRAIN, dataset="digits", pair="digits-2d")
    at.selectbox(key="train_dataset").set_value("digits")
    at.selectbox(key="train_models").set_value("CVAE on half the image (+ regression)")
    at.number_input(key="train_epochs").set_value(2)
    at.button(key="train_submit").click().run()
    assert not at.error, [e.value for e in at.error]
    job = wait(jobs.get_run(at.session_state["train_job"]))
    assert job.status == "finished", job.message
    assert set(job.history) == {"cvae", "regression"} and len(job.history["cvae"]) == 2
    assert {p.name for p in (runs / job.run_id).iterdir()} >= {"cvae.json", "regression.json"}
    page = open_app("explorer/ui/pages/conditional.py", cond_half_set=f"runs/{job.run_id}")
    assert any("regression: MSE" in c for im in page.image for c in im.captions)


def test_the_forms_likelihood_reaches_the_run_config(dirs):
    """Issue 27 item 9: the likelihood is chosen on the Train form (Bernoulli, continuous Bernoulli, Gaussian)."""
    from explorer.ui.train_page import train_config
    from training.losses import LIKELIHOODS
    from training.models import FAMILIES

    form = dict(dataset="digits", regime="sparse", jitter=False, n_train=0, family=next(iter(FAMILIES)))
    form.update(models="AE + VAE", latent_dim=2, beta=1.0, hidden="16", epochs=1, lr=1e-3, seed=0, warmup=0)
    assert train_config(form, dirs[1]).model.likelihood == ModelConfig.likelihood  # a form without the field
    for key in LIKELIHOODS:
        model = train_config({**form, "likelihood": key, "sigma": 0.2}, dirs[1]).model
        assert (model.likelihood, model.gaussian_sigma) == (key, 0.2)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_likelihood_choice_is_explained_with_the_pairs_own_decodes(dirs, lang):
    """Where the likelihood is chosen, the sidebar pair's decodes are scored under each; the Gaussian's is the
    summed squared error times 1/(2 sigma^2) plus D log(sigma sqrt(2 pi)), and the Bernoulli's sits above its floor."""
    from explorer.i18n import CATALOGUES

    words = CATALOGUES[lang]
    at = open_app(TRAIN, dataset="digits", pair="digits-2d", lang=lang)
    assert not at.exception and not at.error
    names = [words[f"lik_{k}"] for k in ("bernoulli", "gaussian", "continuous_bernoulli")]
    assert list(at.selectbox(key="train_likelihood").options) == names
    table = next(d.value for d in at.dataframe if words["col_likelihood"] in d.value.columns)
    assert list(table[words["col_likelihood"]]) == names
    nll = [float(v.split(" ± ")[0]) for v in table[words["col_nll"]]]
    floor = table[words["col_floor"]]
    assert nll[0] > float(floor.iloc[0]) > 0 and nll[1] > float(floor.iloc[1])
    said = next(m.value for m in at.markdown if "1/(2σ²) =" in m.value)  # the Gaussian's sum, worked out
    assert f"= {nll[1]:.1f} " in said and f"{nll[1]:.1f}" in said.rsplit("=", 1)[1]
