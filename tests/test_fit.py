import dataclasses

import pytest
import torch

from training.config import TrainConfig
from training.datasets import Dataset, Split
from training.errors import TrainingError
from training.fit import TrainingCancelled, fit
from training.metrics import active_units, evaluate_model
from training.runs import train_and_save
from training.store import load_set


def test_short_fit_lowers_the_loss(tiny_config, tiny_moons):
    for kind in ("ae", "vae"):
        config = dataclasses.replace(
            tiny_config,
            model=dataclasses.replace(tiny_config.model, kind=kind),
            train=dataclasses.replace(tiny_config.train, epochs=6),
        )
        history = fit(config, tiny_moons, progress_bar=False).history
        assert len(history) == 6
        assert history[-1]["train_total"] < 0.8 * history[0]["train_total"]
        assert history[-1]["test_total"] < history[0]["test_total"]
        assert (history[-1]["train_kl"] > 0) == (kind == "vae")


def test_fit_is_reproducible_for_a_seed(tiny_config, tiny_moons):
    a = fit(tiny_config, tiny_moons, progress_bar=False)
    b = fit(tiny_config, tiny_moons, progress_bar=False)
    assert a.history[-1]["train_total"] == b.history[-1]["train_total"]
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)


def test_progress_is_reported_every_epoch(tiny_config, tiny_moons):
    seen = []
    fit(tiny_config, tiny_moons, on_progress=lambda p: seen.append((p.kind, p.epoch, p.epochs)), progress_bar=False)
    assert seen == [("vae", e, 3) for e in (1, 2, 3)]


def nan_dataset(ds: Dataset) -> Dataset:
    x = ds.train.x.clone()
    x[3, 0, 2, 2] = float("nan")
    return dataclasses.replace(ds, train=Split(x, None, {}))


def test_nan_loss_stops_with_a_message_and_keeps_the_earlier_checkpoint(
    tiny_config, tiny_moons, tiny_pair_dir, tmp_path
):
    import shutil

    out = tmp_path / "pair"
    shutil.copytree(tiny_pair_dir, out)
    before = (out / "ae.safetensors").read_bytes()
    with pytest.raises(TrainingError, match="loss became nan at epoch 1.*lower learning rate"):
        train_and_save(tiny_config, out, dataset=nan_dataset(tiny_moons), progress_bar=False)
    assert (out / "ae.safetensors").read_bytes() == before
    load_set(out)  # still loads


def test_failed_new_run_leaves_nothing_behind(tiny_config, tiny_moons, tmp_path):
    with pytest.raises(TrainingError):
        train_and_save(tiny_config, tmp_path / "new", dataset=nan_dataset(tiny_moons), progress_bar=False)
    assert list(tmp_path.iterdir()) == []


def test_cancel_stops_the_run_and_leaves_nothing(tiny_config, tiny_moons, tmp_path):
    calls = []

    def stop_on_third_batch():
        calls.append(1)
        return len(calls) >= 3

    with pytest.raises(TrainingCancelled):
        train_and_save(
            tiny_config, tmp_path / "run", dataset=tiny_moons, should_stop=stop_on_third_batch, progress_bar=False
        )
    assert list(tmp_path.iterdir()) == []


def test_absurd_learning_rate_is_refused(tiny_config, tiny_moons):
    config = dataclasses.replace(tiny_config, train=TrainConfig(lr=1e6))
    with pytest.raises(Exception, match="learning rate"):
        fit(config, tiny_moons, progress_bar=False)


def test_metrics_on_a_trained_pair(tiny_pair_dir, tiny_moons):
    pair = load_set(tiny_pair_dir)
    x = tiny_moons.test.x[::4]  # 16 images: the exact log p(x) by quadrature costs ~0.06 s an image
    ae = evaluate_model(pair["ae"].model, x, iwae_k=20)
    vae = evaluate_model(pair["vae"].model, x, iwae_k=20)
    assert "elbo" not in ae and ae["recon_bce"] > 0 and 0 < ae["recon_mse"] < 1
    assert vae["kl"] == pytest.approx(sum(vae["kl_per_dim"]), rel=1e-5)
    assert all(k >= 0 for k in vae["kl_per_dim"])
    # The k-sample bound is at least as tight as the ELBO (small slack for sampling noise).
    assert vae["iwae_nll"] <= -vae["elbo"] + 1.0


def test_active_units_counts_dimensions_that_vary():
    torch.manual_seed(0)
    means = torch.cat([torch.randn(500, 2), 0.01 * torch.randn(500, 3)], dim=1)
    count, variances = active_units(means)
    assert count == 2 and len(variances) == 5
