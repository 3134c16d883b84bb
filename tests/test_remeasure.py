"""`python -m training defaults --remeasure`: new metrics for saved sets, the weights left byte for byte."""

import json
import shutil

import pytest

from tests.helpers import run_cli
from training.metrics import Budget

SMALL = Budget(elbo_samples=10, n_images=8, iwae_k=40)  # the full budget's kind of measurement, cheaply
OLD_KEYS = {"elbo": -300.0, "iwae_nll": 98.5, "iwae_k": 50}  # what sidecars held before issue 15


@pytest.fixture
def old_pair(tmp_path, tiny_pair_dir):
    """The tiny pair with its VAE's sidecar turned back into an old one: single-draw ELBO, IWAE-50."""
    out = tmp_path / "sets" / "tiny-moons"
    shutil.copytree(tiny_pair_dir, out)
    sidecar = json.loads((out / "vae.json").read_text())
    metrics = {k: v for k, v in sidecar["metrics"].items() if not k.startswith(("elbo", "iwae", "exact"))}
    sidecar["metrics"] = {**metrics, **OLD_KEYS}
    (out / "vae.json").write_text(json.dumps(sidecar))
    return out


def test_remeasure_rewrites_metrics_and_leaves_the_weights(old_pair):
    from training.checkpoint import read_sidecar
    from training.runs import remeasure

    weights = {p.name: p.read_bytes() for p in old_pair.glob("*.safetensors")}
    before = {kind: read_sidecar(old_pair / kind) for kind in ("ae", "vae")}
    changed = remeasure(old_pair, SMALL)

    assert {"elbo", "elbo_se", "iwae_nll", "iwae_k", "exact_nll"} <= set(changed["vae"])
    m = read_sidecar(old_pair / "vae")["metrics"]
    assert m["iwae_k"] == 40 and m["elbo_samples"] == 10 and m["iwae_n_images"] == m["exact_n_images"] == 8
    assert m["elbo_se"] > 0 and m["elbo"] != OLD_KEYS["elbo"] and -m["exact_nll"] >= m["elbo"] - 4 * m["elbo_se"]
    assert m["train_seconds"] == before["vae"]["metrics"]["train_seconds"]  # a training fact, kept
    assert {p.name: p.read_bytes() for p in old_pair.glob("*.safetensors")} == weights
    for kind in ("ae", "vae"):
        after = read_sidecar(old_pair / kind)
        assert after["created"] == before[kind]["created"]
        assert after["weights_sha256"] == before[kind]["weights_sha256"]
    assert remeasure(old_pair, SMALL) == {"ae": [], "vae": []}  # seeded: a second pass changes nothing


def test_a_save_that_would_change_the_weights_writes_nothing(old_pair):
    from training.checkpoint import load_checkpoint, save_checkpoint
    from training.errors import CheckpointError

    files = {p.name: p.read_bytes() for p in old_pair.iterdir()}
    vae = load_checkpoint(old_pair / "vae")
    with pytest.raises(CheckpointError, match="byte for byte"):
        save_checkpoint(old_pair, vae.model, vae.config, metrics={"elbo": 0.0}, same_weights_as="0" * 64)
    assert {p.name: p.read_bytes() for p in old_pair.iterdir()} == files


def test_metrics_table_says_what_was_measured(old_pair):
    from training.__main__ import write_defaults_table
    from training.runs import remeasure

    remeasure(old_pair, SMALL)
    write_defaults_table(old_pair.parent)
    table = (old_pair.parent / "METRICS.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| tiny-moons | VAE"))
    assert "±" in row and "exact (8 images)" in row


def test_remeasure_of_an_unknown_set_is_one_clear_line(tmp_path):
    done = run_cli("defaults", "--remeasure", "--only", "moons-sparse-2d,nope", "--out", str(tmp_path))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "error: unknown default ['nope']" in done.stderr
    assert "Traceback" not in done.stderr and not any(tmp_path.iterdir())


def test_remeasure_holds_its_folder_against_a_second_writer(old_pair, monkeypatch):
    """Issue 25, class 3: a re-measure is a writer of its set's folder like a run or an import
    (store.hold): while it measures, a second re-measure and a training run into that folder are
    refused at once, and the set it then writes is whole."""
    import threading

    from training import runs
    from training.checkpoint import read_sidecar

    folder = old_pair.rename(old_pair.parent / "digits-2d")  # a name `defaults --only` accepts
    weights = {p.name: p.read_bytes() for p in folder.glob("*.safetensors")}
    measuring, release = threading.Event(), threading.Event()
    real = runs.measure_set

    def slow_measure(*args, **kwargs):  # the first writer, paused mid-measure
        measuring.set()
        assert release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(runs, "measure_set", slow_measure)
    first = threading.Thread(target=runs.remeasure, args=(folder, SMALL))
    first.start()
    try:
        assert measuring.wait(60)
        second = run_cli("defaults", "--remeasure", "--only", "digits-2d", "--out", str(folder.parent))
        assert second.returncode == 2 and "is writing this folder" in second.stderr, second.stderr
        assert len(second.stderr.strip().splitlines()) == 1 and "Traceback" not in second.stderr
        train = run_cli("train", "--dataset", "moons", "--n-train", "64", "--n-test", "8", "--epochs", "1",
                        "--out", str(folder))  # fmt: skip
        assert train.returncode == 2 and "is writing this folder" in train.stderr, train.stderr
    finally:
        release.set()
        first.join(120)
    assert not first.is_alive()
    assert read_sidecar(folder / "vae")["metrics"]["iwae_k"] == SMALL.iwae_k  # the first writer's measure landed
    assert {p.name: p.read_bytes() for p in folder.glob("*.safetensors")} == weights
    assert sorted(p.name for p in folder.parent.iterdir()) == ["digits-2d"]  # no lock or staging left
