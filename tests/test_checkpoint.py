import json
import shutil

import pytest
import torch

from training.checkpoint import FORMAT_VERSION, load_checkpoint
from training.errors import CheckpointError
from training.store import find_sets, load_set


@pytest.fixture
def pair_copy(tiny_pair_dir, tmp_path):
    target = tmp_path / "pair"
    shutil.copytree(tiny_pair_dir, target)
    return target


def test_round_trip_gives_identical_outputs(tiny_pair_dir, tiny_moons):
    pair = load_set(tiny_pair_dir)
    again = load_set(tiny_pair_dir)
    x = tiny_moons.test.x[:8]
    for kind in ("ae", "vae"):
        a, b = pair[kind].model, again[kind].model
        assert torch.equal(a.encode(x).mean, b.encode(x).mean)
        z = torch.randn(4, 2)
        assert torch.equal(a.decode(z), b.decode(z))


def test_checkpoint_describes_itself(tiny_pair_dir):
    sidecar = json.loads((tiny_pair_dir / "vae.json").read_text())
    assert sidecar["format_version"] == FORMAT_VERSION
    assert sidecar["model"]["in_shape"] == [1, 16, 16]
    assert sidecar["data"]["regime"] == "sparse"
    assert len(sidecar["history"]) == 3
    assert {"recon_bce", "elbo", "iwae_nll", "active_units", "kl_per_dim"} <= set(sidecar["metrics"])
    assert {"torch", "python"} <= set(sidecar["versions"])
    assert sidecar["data_stats"]["n_train"] == 256


def test_saved_models_equal_what_was_trained(tiny_config, tiny_moons, tmp_path):
    from training.runs import train_and_save

    results = train_and_save(tiny_config, tmp_path / "p", ("ae",), dataset=tiny_moons, progress_bar=False)
    loaded = load_checkpoint(tmp_path / "p" / "ae.safetensors").model
    x = tiny_moons.test.x[:5]
    assert torch.equal(results["ae"].model.encode(x).mean, loaded.encode(x).mean)


def test_random_bytes_are_refused(pair_copy):
    (pair_copy / "ae.safetensors").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(CheckpointError, match="do not match their sidecar"):
        load_checkpoint(pair_copy / "ae")


def test_truncated_weights_are_refused_even_with_a_matching_hash(pair_copy):
    import hashlib

    weights = pair_copy / "ae.safetensors"
    cut = weights.read_bytes()[:200]
    weights.write_bytes(cut)
    sidecar = json.loads((pair_copy / "ae.json").read_text())
    sidecar["weights_sha256"] = hashlib.sha256(cut).hexdigest()
    (pair_copy / "ae.json").write_text(json.dumps(sidecar))
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_checkpoint(pair_copy / "ae")


def test_config_that_disagrees_with_the_weights_is_refused(pair_copy):
    sidecar = json.loads((pair_copy / "vae.json").read_text())
    sidecar["model"]["latent_dim"] = 3
    (pair_copy / "vae.json").write_text(json.dumps(sidecar))
    with pytest.raises(CheckpointError, match="shape"):
        load_checkpoint(pair_copy / "vae")


def test_a_newer_format_version_is_refused(pair_copy):
    sidecar = json.loads((pair_copy / "vae.json").read_text())
    sidecar["format_version"] = FORMAT_VERSION + 1
    (pair_copy / "vae.json").write_text(json.dumps(sidecar))
    with pytest.raises(CheckpointError, match="newer than this program reads"):
        load_checkpoint(pair_copy / "vae")


@pytest.mark.parametrize("victim", ["ae.json", "ae.safetensors"])
def test_missing_files_are_refused(pair_copy, victim):
    (pair_copy / victim).unlink()
    with pytest.raises(CheckpointError, match="missing|no checkpoint"):
        load_set(pair_copy)


def test_not_json_is_refused(pair_copy):
    (pair_copy / "ae.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(pair_copy / "ae.json")


def test_writes_leave_no_temporary_files(tiny_pair_dir):
    assert sorted(p.name for p in tiny_pair_dir.iterdir()) == [
        "ae.json",
        "ae.safetensors",
        "vae.json",
        "vae.safetensors",
    ]


def test_find_sets_lists_complete_visible_sets_only(pair_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path))
    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(pair_copy / "vae.json", half / "vae.json")
    shutil.copytree(pair_copy, tmp_path / ".hidden" / "pair")
    found = {k: v for k, v in find_sets().items() if k.startswith("runs/")}
    assert list(found) == ["runs/pair"]
    info = found["runs/pair"]
    assert (info.path, info.kind, info.kinds, info.dataset) == (pair_copy, "pair", ("ae", "vae"), "moons")
    assert info.stamp == max((pair_copy / f"{k}.json").stat().st_mtime for k in ("ae", "vae"))


def test_a_save_killed_between_its_renames_still_loads_the_previous_checkpoint(pair_copy, monkeypatch):
    """The worst moment: the new weights renamed into place, the process dead before its sidecar."""
    import training.checkpoint as ck

    old = load_checkpoint(pair_copy / "vae")
    z = torch.randn(3, 2)
    expected = old.model.decode(z)
    with torch.no_grad():
        for p in old.model.parameters():
            p.add_(1.0)
    real = ck.atomic_write_bytes

    def killed_before_the_sidecar(path, data):
        if path.suffix == ".json":
            raise KeyboardInterrupt("killed")
        real(path, data)

    monkeypatch.setattr(ck, "atomic_write_bytes", killed_before_the_sidecar)
    with pytest.raises(KeyboardInterrupt):
        ck.save_checkpoint(pair_copy, old.model, old.config)
    monkeypatch.undo()
    reloaded = load_checkpoint(pair_copy / "vae")  # the old sidecar finds its own weights
    assert torch.equal(reloaded.model.decode(z), expected)
    for backup in pair_copy.glob(".vae.*.safetensors"):
        backup.unlink()
    with pytest.raises(CheckpointError, match="do not match"):
        load_checkpoint(pair_copy / "vae")  # without them: refused, never mixed
