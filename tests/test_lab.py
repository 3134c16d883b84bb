"""The half-moon lab's judgements, each checked on a case whose answer is known."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from training import moons
from training.bank import moon_bank, real_moons
from training.config import ModelConfig
from training.geometry import closest_half_moon
from training.lab import (
    half_moon_tolerance,
    paired_ratio,
    phase_finding,
    phase_sentence,
    ratio_class,
    ratio_verdict,
    results_markdown,
    sign_flip_p,
)
from training.metrics import path_scores, prior_coverage
from training.models import Autoencoder
from training.paths import lerp

ROOT = Path(__file__).resolve().parent.parent
TABLE = np.arange(1000) / 1000  # phases of the synthetic decoders' lookup table


@pytest.fixture(scope="module")
def bank():
    return moon_bank(28)


class PhaseDecoder(Autoencoder):
    """Decodes z[:, 0] in [0, 1] to the true render of phase(z), blending neighbouring table
    renders so the decode is differentiable in z. Every other dimension is ignored."""

    def __init__(self, phase_of, latent_dim: int = 1):
        super().__init__(ModelConfig(kind="ae", latent_dim=latent_dim, hidden=(4,), in_shape=(1, 28, 28)))
        self.phase_of = phase_of
        self.table = torch.from_numpy(moons.render(TABLE))  # (1000, 28, 28)

    def decode(self, z):
        position = (self.phase_of(z[:, 0].clamp(0, 1)) % 1.0) * len(TABLE)
        low = position.floor().long()
        w = (position - low)[:, None, None]
        out = (1 - w) * self.table[low % len(TABLE)] + w * self.table[(low + 1) % len(TABLE)]
        return out[:, None]


def test_real_moon_in_phase_units_rejects_black_and_blends_and_accepts_true_renders(bank):
    phases = np.array([0.02, 0.1, 0.25, 0.4, 0.5, 0.75, 0.97])
    valid, recovered, _ = real_moons(moons.render(phases), bank)
    assert valid.all() and moons.circular_distance(recovered, phases).max() <= 0.001
    black = np.zeros((1, 28, 28), np.float32)
    blend = (moons.render(0.1) + moons.render(0.5))[None] / 2
    valid, recovered, dist = real_moons(np.concatenate([black, blend]), bank)
    assert not valid.any()
    # the all-black image is close in pixels to the new moon (the old 0.005 threshold passed it) ...
    assert dist[0] < 0.005 and moons.circular_distance(recovered[0], 0.0) < 0.02
    # ... but further than a render one phase step away is
    assert dist[0] > bank.radius[np.argmin(moons.circular_distance(bank.phases, recovered[0]))]


def test_dense_path_finds_the_sharp_transition_that_eleven_steps_skip(bank):
    # crescent -> full, but codes in (0.52, 0.58) decode to a cross-fade: a hole 11 steps step over
    def phase_of(z):
        return 0.1 + 0.4 * z

    model = PhaseDecoder(phase_of)
    real = model.decode
    a, b = np.zeros(1), np.ones(1)

    def decode(codes):
        z = torch.from_numpy(codes.astype(np.float32))
        images = real(z).numpy()
        hole = (codes[:, 0] > 0.52) & (codes[:, 0] < 0.58)
        images[hole] = (moons.render(0.1) + moons.render(0.5))[None] / 2
        return images

    sparse, dense = (path_scores(decode(lerp(a, b, n)), bank) for n in (11, 101))
    assert sparse["max_distance"] < 1e-3
    assert dense["max_distance"] > 20 * sparse["max_distance"]
    assert 0.52 < dense["worst_index"] / 100 < 0.58
    assert sparse["passes_half_moon"] and dense["passes_half_moon"]  # the path does sweep through 0.25


@pytest.mark.parametrize("latent_dim", [1, 2, pytest.param(16, marks=pytest.mark.slow)])
def test_the_decoder_wide_search_finds_an_invented_half_moon_and_not_a_missing_one(bank, latent_dim):
    lo, hi = np.zeros(latent_dim), np.ones(latent_dim)
    sweeping = closest_half_moon(PhaseDecoder(lambda z: 0.1 + 0.4 * z, latent_dim), bank, lo, hi, n=2000)
    assert sweeping["is_half_moon"] and sweeping["distance"] < 1e-4
    assert moons.circular_distance(sweeping["phase"], 0.25) <= moons.HALF_MOON_BAND
    # crescent below 0.5, full moon above: no code decodes anywhere near a half moon
    jumping = closest_half_moon(PhaseDecoder(lambda z: 0.1 + 0.4 * (z > 0.5), latent_dim), bank, lo, hi, n=2000)
    assert not jumping["is_half_moon"] and jumping["distance"] > 0.02


def test_coverage_counts_blank_samples_as_no_moon(bank):
    data = np.linspace(0, 1, 200, endpoint=False)
    true = moons.render(data)
    full = prior_coverage(true, bank, data)
    assert full["valid_fraction"] == 1.0 and full["coverage_gap"] < 0.05
    assert full["half_fraction"] == pytest.approx(full["data_half_fraction"], abs=0.02)
    half_blank = np.concatenate([true[:100], np.zeros_like(true[:100])])
    blank = prior_coverage(half_blank, bank, data)
    assert blank["valid_fraction"] == 0.5 and blank["coverage_gap"] >= 0.5


def test_sign_flip_p_is_exact_and_cannot_decide_five_seeds():
    # all 2^n patterns: with every difference the same sign only the identity and its mirror reach it
    assert sign_flip_p(np.ones(5)) == 2 / 32 and sign_flip_p(np.ones(10)) == 2 / 1024
    assert sign_flip_p(np.zeros(6)) == 1.0
    # against brute force over the patterns for an uneven sample
    d = np.array([0.3, -0.1, 0.5, 0.2, -0.05, 0.4])
    signs = np.array([[1 - 2 * (k >> i & 1) for i in range(6)] for k in range(64)])
    assert sign_flip_p(d) == pytest.approx(np.mean(np.abs(signs @ d) >= abs(d.sum()) - 1e-12))


def test_paired_ratio_verdicts_need_5_percent_and_respect_the_resolution():
    rng = np.random.default_rng(0)
    apart_ae, apart_vae = rng.normal(2.0, 0.1, 10), rng.normal(1.0, 0.1, 10)
    apart = paired_ratio(apart_ae, apart_vae)
    assert apart["p"] < 0.01 and apart["low"] > 1.5 and ratio_class(apart) == "vae"
    assert "**the VAE's is lower**" in ratio_verdict("path", apart)
    reverse = paired_ratio(apart_vae, apart_ae)
    assert ratio_class(reverse) == "ae" and reverse["high"] < 1
    # the same separation with 5 seeds: p cannot go below 0.0625, so nothing is decided (and nothing bold)
    five = paired_ratio(apart_ae[:5], apart_vae[:5])
    assert five["p"] == 0.0625 and ratio_class(five) == "few" and "**" not in ratio_verdict("path", five)
    noisy = paired_ratio(rng.normal(1.0, 0.3, 10), rng.normal(1.0, 0.3, 10))
    assert noisy["low"] < 1 < noisy["high"] and ratio_class(noisy) == "unclear"
    # the case: box distances of 1-3e-5 against a real-moon tolerance of 0.0056 are not a verdict
    floor = half_moon_tolerance(28)
    assert 0.004 < floor < 0.007
    box = paired_ratio([1e-5, 2e-5, 1e-5, 3e-5, 2e-5], [3e-5, 2e-5, 3e-5, 2e-5, 3e-5], floor)
    assert ratio_class(box) == "resolution" and "both reach a real half moon" in ratio_verdict("box", box)


def test_phase_finding_reads_a_dip_at_the_half_moons():
    from training.lab import PHASES

    dip = -20 * moons.near_half_moon(PHASES)  # 20 nats less at every half-moon phase
    curves = np.stack([-40.0 + dip + 0.5 * np.sin(7 * PHASES + s) for s in range(10)])
    found = phase_finding("gap", curves)
    assert found["difference"] == pytest.approx(-20, abs=1) and found["high"] < 0 and found["p"] < 0.01
    assert "**less**" in phase_sentence("gap", found) and "never seen" in phase_sentence("gap", found)
    flat = phase_finding("full", np.stack([-40.0 + np.sin(7 * PHASES + s) for s in range(10)]))
    assert "no clearly different" in phase_sentence("full", flat)


def test_committed_results_md_is_generated_from_results_json():
    results = json.loads((ROOT / "lab" / "results.json").read_text())
    assert results_markdown(results) == (ROOT / "lab" / "results.md").read_text()


@pytest.mark.slow
def test_family_curves_measure_each_bundled_family_once_and_skip_a_model_of_another_size(
    tiny_pair_dir, tmp_path, monkeypatch
):
    import shutil

    from training import inference
    from training.config import LabConfig
    from training.lab import FAMILY_SETS, PHASES, family_curves, family_sentence

    root, out = tmp_path / "bundled", tmp_path / "lab"
    shutil.copytree(tiny_pair_dir, root / FAMILY_SETS["flow"])  # the other families absent: left out
    lab = LabConfig(regimes=("sparse",), latent_dims=(2,), image_size=16)
    found = family_curves(lab, out, root)
    assert list(found) == ["flow"] and found["flow"]["set"] == FAMILY_SETS["flow"]
    log_px = np.asarray(found["flow"]["log_px"])
    assert log_px.shape == (1, len(PHASES)) and np.isfinite(log_px).all()
    assert found["flow"]["difference"] == pytest.approx(found["flow"]["half_minus_seen"][0])
    assert f"{found['flow']['difference']:+.1f} nats" in family_sentence("flow", found["flow"], None)
    assert (out / "runs" / f"family-{FAMILY_SETS['flow']}.json").is_file()  # kept beside the lab, not in root
    assert sorted(p.name for p in (root / FAMILY_SETS["flow"]).iterdir()) == sorted(
        p.name for p in tiny_pair_dir.iterdir()
    )

    def fail(*args, **kwargs):
        raise AssertionError("measured again")

    monkeypatch.setattr(inference, "exact_log_px", fail)
    assert family_curves(lab, out, root)["flow"]["log_px"] == found["flow"]["log_px"]  # read from the cache
    assert family_curves(LabConfig(regimes=("sparse",), latent_dims=(2,), image_size=28), out, root) == {}


def test_the_density_charts_shade_every_panels_training_phases():
    """Each regime's panel carries its own shading (plotly dropped shapes added to a panel before its
    traces: the chart showed none), and the families' chart the sparse regime's."""
    from explorer import figures
    from training.lab import PHASES

    labels = dict(mean="mean", band="band", training="training", phase="phase", log_px="log p(x)")
    curves = {r: {"phases": PHASES.tolist(), "log_px": np.zeros((2, len(PHASES))).tolist()} for r in ("gap", "sparse")}
    seen = {r: moons.in_training_regime(PHASES, r) for r in curves}
    shapes = figures.phase_density(curves, seen, labels).layout.shapes
    assert [s.xref for s in shapes] == ["x"] * 3 + ["x2"] * 3  # gap: 3 runs of training phases, sparse: 3
    names = {"diag": "diagonal"}
    family = figures.family_density({"diag": curves["sparse"]}, seen["sparse"], labels, names)
    assert len(family.layout.shapes) == 3 and family.data[0].name == "diagonal"
