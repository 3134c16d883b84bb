"""training/store.py: ids <-> paths, listing, loading, importing and staging run folders."""

import json
import os
import shutil
import time

import pytest

from training.errors import CheckpointError, LatentExplorerError
from training.store import (
    allowed_path,
    clean_stale_staging,
    find_sets,
    import_set,
    load_set,
    set_path,
    staged_dir,
)


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("LATENT_EXPLORER_IMPORT_ROOTS", str(tmp_path))
    return tmp_path / "runs"


def test_pairs_and_conditional_sets_are_listed_alike():
    pairs, conditional = find_sets("pair"), find_sets("conditional")
    assert "moons-sparse-2d" in pairs and "digits-label-cvae" not in pairs
    assert conditional["digits-label-cvae"].kinds == ("cvae", "regression")
    assert conditional["digits-half-cvae"].condition == "half"
    assert list(find_sets()) == [k for k in find_sets() if k in pairs or k in conditional]
    assert load_set(conditional["digits-label-cvae"].path).lead.config.model.kind == "cvae"


def test_importing_the_same_set_twice_gives_one_set(runs, tiny_pair_dir):
    first = import_set(tiny_pair_dir, "mine")
    assert first == "runs/mine" and set_path(first) == runs / "mine"
    assert import_set(tiny_pair_dir, "again") == first
    assert sorted(p.name for p in runs.iterdir() if not p.name.startswith(".")) == ["mine"]
    assert torch_equal(load_set(runs / "mine"), load_set(tiny_pair_dir))


def torch_equal(a, b) -> bool:
    return all(
        all((x == y).all() for x, y in zip(a[k].model.state_dict().values(), b[k].model.state_dict().values()))
        for k in a.kinds
    )


@pytest.mark.parametrize("field, value, reason", [("seed", 7, "different seeds"), ("n_train", 9, "different data")])
def test_a_set_whose_members_disagree_is_refused(tmp_path, tiny_pair_dir, field, value, reason):
    pair = tmp_path / "pair"
    shutil.copytree(tiny_pair_dir, pair)
    sidecar = json.loads((pair / "ae.json").read_text())
    sidecar["train" if field == "seed" else "data"][field] = value
    (pair / "ae.json").write_text(json.dumps(sidecar))
    with pytest.raises(CheckpointError, match=reason):
        load_set(pair)


def test_staged_dir_renames_on_success_and_leaves_nothing_on_failure(tmp_path):
    with staged_dir(tmp_path / "ok") as staging:
        (staging / "a").write_text("1")
        assert staging.name.startswith(".") and not (tmp_path / "ok").exists()
    assert (tmp_path / "ok" / "a").read_text() == "1"
    with pytest.raises(RuntimeError), staged_dir(tmp_path / "bad") as staging:
        (staging / "a").write_text("1")
        raise RuntimeError("killed mid-write")
    with pytest.raises(LatentExplorerError, match="exists already"), staged_dir(tmp_path / "ok") as staging:
        (staging / "a").write_text("2")
    with staged_dir(tmp_path / "ok", replace=True) as staging:
        (staging / "b").write_text("3")
    assert sorted(p.name for p in (tmp_path / "ok").iterdir()) == ["b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok"]


def test_stale_staging_is_cleaned_and_fresh_staging_kept(tmp_path):
    stale, fresh = tmp_path / ".x.abc.staging", tmp_path / ".y.def.staging"
    for d in (stale, fresh):
        d.mkdir()
        (d / "f").write_text("")
    old = time.time() - 120
    for p in (stale / "f", stale):
        os.utime(p, (old, old))
    assert clean_stale_staging(tmp_path) == [stale]
    assert fresh.exists() and not stale.exists()


def test_paths_with_nul_or_too_long_are_refused_clearly(runs, tmp_path):
    for text in (str(tmp_path) + "\0x", "a" * 5000):
        with pytest.raises(LatentExplorerError, match="not a usable path"):
            allowed_path(text)
