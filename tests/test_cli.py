import json

import pytest

from tests.helpers import run_cli


def test_train_then_eval_end_to_end(tmp_path):
    out = tmp_path / "run"
    done = run_cli(
        "train",
        "--dataset",
        "moons",
        "--regime",
        "sparse",
        "--n-train",
        "200",
        "--n-test",
        "8",  # the save measures IWAE-5000 and exact log p(x) on each test image
        "--image-size",
        "16",
        "--hidden",
        "32,16",
        "--epochs",
        "2",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert "saved to" in done.stdout and "ELBO" in done.stdout
    assert {p.name for p in out.iterdir()} == {"ae.json", "ae.safetensors", "vae.json", "vae.safetensors"}
    assert "epoch" in done.stderr  # the progress bar

    ev = run_cli("eval", str(out), "--json", "--iwae-k", "5")
    assert ev.returncode == 0, ev.stderr
    rows = [json.loads(line) for line in ev.stdout.splitlines()]
    assert [r["kind"] for r in rows] == ["ae", "vae"]
    assert rows[1]["iwae_k"] == 5 and rows[1]["n_images"] == 8
    assert rows[1]["iwae_groups"] >= 2 and rows[1]["iwae_se"] > 0  # IWAE-k with its standard error
    saved = json.loads((out / "vae.json").read_text())["metrics"]
    assert abs(rows[1]["recon_bce"] - saved["recon_bce"]) < 1e-4  # eval re-measures what train saved


@pytest.mark.parametrize("process", [False, pytest.param(True, marks=pytest.mark.slow)])  # True: `python -m`
def test_unknown_dataset_is_one_clear_line(tmp_path, process):
    done = run_cli("train", "--dataset", "imagenet", "--out", str(tmp_path / "x"), process=process)
    assert done.returncode == 2
    assert "error: unknown dataset 'imagenet'; choose one of: moons, digits" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "x").exists()


def test_eval_of_a_corrupt_checkpoint_is_one_clear_line(tmp_path):
    (tmp_path / "ae.json").write_text("{}")
    done = run_cli("eval", str(tmp_path))
    assert done.returncode == 2
    assert "error:" in done.stderr and "Traceback" not in done.stderr


def test_latent_size_out_of_range_is_refused(tmp_path):
    done = run_cli("train", "--latent-dim", "0", "--out", str(tmp_path / "x"))
    assert done.returncode == 2 and "latent size must be 1 to 128" in done.stderr
