"""One check of a configuration (RunConfig.validate) and one budget check (limits.check_run), the same
for the CLI, the server's runs and the checkpoint schema."""

from __future__ import annotations

import dataclasses
import json

import pytest

from training import jobs, limits
from training.config import DataConfig, LabConfig, ModelConfig, RunConfig, TrainConfig, to_dict
from training.errors import LatentExplorerError
from training.schema import check_sidecar

BAD = {  # a field of one config -> what the refusal says
    ("data", "name", "mnist-9"): "unknown dataset 'mnist-9'",
    ("data", "regime", "eclipse"): "regime must be one of full, gap, sparse",
    ("model", "kind", "gan"): "unknown model 'gan'",
    ("model", "likelihood", "poisson"): "unknown likelihood 'poisson'",
    ("model", "condition", "label"): "the vae takes no condition",
    ("model", "latent_dim", 0): "latent size must be 1 to 128",
}


def run_with(part: str, field: str, value) -> RunConfig:
    config = RunConfig(DataConfig(n_train=64, n_test=32), ModelConfig(hidden=(8,)), TrainConfig(epochs=1))
    return dataclasses.replace(config, **{part: dataclasses.replace(getattr(config, part), **{field: value})})


def sidecar_of(config: RunConfig) -> dict:
    model = dataclasses.replace(config.model, in_shape=(1, 28, 28))
    sidecar = {
        "kind": model.kind,
        "weights_sha256": "0" * 64,
        "data": to_dict(config.data),
        "train": to_dict(config.train),
    }
    return json.loads(json.dumps({**sidecar, "model": to_dict(model)}))


@pytest.mark.parametrize("case", list(BAD))
def test_every_entry_point_refuses_a_bad_config_with_the_one_message(case, tmp_path):
    config = run_with(*case)
    message = BAD[case]
    with pytest.raises(LatentExplorerError, match=message):
        config.validate()
    with pytest.raises(LatentExplorerError, match=message):  # the app's runs
        jobs.start_job(config, tmp_path)
    with pytest.raises(LatentExplorerError, match=message):  # a saved model's sidecar
        check_sidecar(sidecar_of(config))
    assert list(tmp_path.iterdir()) == []


def test_the_cli_refuses_a_condition_without_a_cvae_and_a_cvae_without_one(capsys):
    from training.__main__ import main

    assert main(["train", "--model", "vae", "--condition", "label", "--out", "unused"]) == 2
    assert "the vae takes no condition" in capsys.readouterr().err
    assert main(["train", "--model", "cvae", "--out", "unused"]) == 2
    assert "a cvae needs a condition" in capsys.readouterr().err


def test_the_budget_check_holds_server_limits_for_server_runs_only():
    config = run_with("train", "epochs", limits.MAX_EPOCHS + 1)
    config.validate()
    limits.check_run(config)  # the CLI trains as long as its user asks
    with pytest.raises(limits.BudgetError, match=f"at most {limits.MAX_EPOCHS} epochs"):
        limits.check_run(config, server=True)
    huge = run_with("data", "n_train", 1_000_000)
    with pytest.raises(limits.BudgetError, match="pixel values"):
        limits.check_run(huge)


def test_the_lab_validates_every_cell_and_fills_in_the_moons_shape():
    lab = LabConfig(regimes=("sparse",), latent_dims=(1, 2), seeds=1, image_size=16)
    lab.validate()
    assert lab.pair_config("sparse", 2, 0).model.in_shape == (1, 16, 16)
    for bad, message in [
        (dict(regimes=("eclipse",)), "regimes must be among"),
        (dict(seeds=0), "seeds must be 1 to 20"),
        (dict(latent_dims=(0,)), "latent size"),
    ]:
        with pytest.raises(LatentExplorerError, match=message):
            dataclasses.replace(lab, **bad).validate()


def test_url_ranges_live_in_the_specs_and_projection_ranges_come_from_the_methods():
    from explorer.projection import PROJECTIONS
    from explorer.ui import urlstate

    assert urlstate.bounds("steps") == (3, 21) and urlstate.bounds("cz7") == (-3.0, 3.0)
    for name, h in PROJECTIONS["umap"].params.items():
        assert (urlstate.SPECS[f"proj_{name}"].lo, urlstate.SPECS[f"proj_{name}"].hi) == (h.low, h.high)
    with pytest.raises(KeyError):
        urlstate.bounds("dataset")  # text: no range
    # a page passes no range of its own for a key the specs bound (it would drift from the URL's)
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "explorer" / "ui"
    literal = re.compile(r"urlstate\.seed\(\"(\w+)\", [^,()]+, -?[\d.]+, -?[\d._]+\)")
    pages = [p for p in root.rglob("*.py")]
    assert [m.group(0) for p in pages for m in literal.finditer(p.read_text())] == []
