"""Embeddings only: codes (N x d) with labels and optionally images, imported by the CLI (and sorted as the
app's upload sorts them); the latent map, projections and nearest neighbours work, every other page says
in one line that it needs more. Hostile files are in tests/test_onnx_hostile.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

from explorer.i18n import CATALOGUES
from tests.helpers import open_app, run_cli
from training.embeddings import read_embeddings, sort_files
from training.store import dataset_for, find_sets, load_set

N = 30
PAGE_NEEDS = ["decoder", "drag", "manifold", "inference", "compare", "half_moon", "tour"]


def clustered(d: int, seed: int = 0) -> np.ndarray:
    """Three clusters of N // 3 codes, 4 apart: each code's nearest neighbours share its label."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(size=(N // 3, d)) * 0.5 + 4 * i for i in range(3)]).astype(np.float32)


@pytest.fixture(scope="module")
def emb_runs(tmp_path_factory):
    """runs/ with two sets imported by the CLI: 5-D codes from a .tsv with a header, string labels from a
    .tsv with a header, images; 2-D codes from an .npy, integer labels from an .npy, no images."""
    files, runs = tmp_path_factory.mktemp("emb-files"), tmp_path_factory.mktemp("emb-runs")
    five = clustered(5)
    header = "\t".join(f"c{i}" for i in range(5))
    np.savetxt(files / "vectors.tsv", five, delimiter="\t", fmt="%.6f", header=header, comments="")
    names = ["cat", "dog", "bird"]
    (files / "metadata.tsv").write_text("label\n" + "\n".join(names[i // 10] for i in range(N)) + "\n")
    images = (np.random.default_rng(1).random((N, 8, 8)) * 255).astype(np.uint8)
    np.save(files / "images.npy", images)
    np.save(files / "codes.npy", clustered(2, seed=2))
    np.save(files / "labels.npy", np.arange(N) // 10 * 7)  # 0, 7, 14: integers, not class indices
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LATENT_EXPLORER_RUNS", str(runs))
        for name, args in {
            "five": ["vectors.tsv", "--labels", "metadata.tsv", "--images", "images.npy"],
            "two": ["codes.npy", "--labels", "labels.npy"],
        }.items():
            args = [str(files / a) if "." in a else a for a in args]
            result = run_cli("import-embeddings", *args, "--name", name)
            assert result.returncode == 0, result.stderr
    return runs, files


def test_the_cli_imports_codes_labels_and_images_as_a_listed_set(emb_runs, monkeypatch):
    runs, files = emb_runs
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(runs))
    sets = find_sets()
    assert {sets[s].source for s in ("runs/five", "runs/two")} == {"embeddings"}
    loaded = load_set(runs / "five")
    data = dataset_for(loaded.lead.config)
    np.testing.assert_allclose(loaded.lead.model.table, clustered(5), atol=1e-6)
    assert data.class_names == ["cat", "dog", "bird"] and data.test.y.tolist() == [i // 10 for i in range(N)]
    np.testing.assert_allclose(data.test.x[:, 0].numpy(), np.load(files / "images.npy") / 255, atol=1e-6)
    two = dataset_for(load_set(runs / "two").lead.config)
    assert two.class_names == ["0", "7", "14"] and two.test.x.shape == (N, 1, 1, 1)  # no images: blanks


def test_the_upload_sorter_finds_each_file_by_name_or_content(emb_runs):
    _, files = emb_runs
    raw = {p.name: p.read_bytes() for p in files.iterdir()}
    roles = sort_files({"a.npy": raw["codes.npy"], "b.npy": raw["labels.npy"], "c.npy": raw["images.npy"]})
    assert {role: name for role, (name, _) in roles.items()} == {"codes": "a.npy", "labels": "b.npy", "images": "c.npy"}
    roles = sort_files({"vectors.tsv": raw["vectors.tsv"], "metadata.tsv": raw["metadata.tsv"]})
    emb = read_embeddings(roles["codes"], roles.get("labels"))
    assert emb.codes.shape == (N, 5) and emb.class_names == ["cat", "dog", "bird"] and emb.images is None


@pytest.mark.parametrize("name", ["five", "two"])
def test_the_latent_map_draws_the_codes_and_a_pick_lists_its_nearest_neighbours(emb_runs, monkeypatch, name):
    runs, _ = emb_runs
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(runs))
    at = open_app("explorer/ui/pages/latent_map.py", dataset="embeddings", pair=f"runs/{name}", pick="12")
    assert at.get("plotly_chart") and not [i for i in at.info if "embeddings only" in i.value]
    codes = load_set(runs / name).lead.model.table
    dist = np.sqrt(((codes.astype(np.float64) - codes[12]) ** 2).sum(1))
    dist[12] = np.inf
    nearest = np.argsort(dist)[:8]
    if name == "five":  # images: a strip captioned by item, label and distance
        captions = next(im.captions for im in at.image if len(im.captions) == 8)
        assert [int(c.split(" ")[0][1:]) for c in captions] == nearest.tolist()
        assert all(" · label dog · " in c for c in captions)  # item 12's cluster: its neighbours' label
        assert any(im.captions == ["original"] for im in at.image)
    else:  # no images: a numbered list, and the map says none came
        listed = next(m.value for m in at.markdown if m.value.startswith("1. #"))
        assert [int(line.split("#")[1].split(" ")[0]) for line in listed.splitlines()] == nearest.tolist()
        assert CATALOGUES["en"]["emb_no_images"] in [c.value for c in at.caption]


@pytest.mark.parametrize("page", PAGE_NEEDS)
def test_every_other_page_says_in_one_line_that_it_needs_more(emb_runs, monkeypatch, page):
    runs, _ = emb_runs
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(runs))
    at = open_app(f"explorer/ui/pages/{page}.py", dataset="embeddings", pair="runs/five")
    told = [i.value for i in at.info if i.icon != ":material/lightbulb:"]  # not the first visit's hint
    assert len(told) == 1 and told[0].startswith("runs/five holds embeddings only"), told
    need = {"compare": "pair", "half_moon": "pair", "tour": "pair", "inference": "density"}.get(page, "decoder")
    assert CATALOGUES["en"][f"emb_need_{need}"] in told[0]
    assert not at.get("plotly_chart") and not at.slider


def test_the_map_and_a_decoding_page_speak_chinese(emb_runs, monkeypatch):
    runs, _ = emb_runs
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(runs))
    zh = CATALOGUES["zh"]
    at = open_app("explorer/ui/pages/latent_map.py", dataset="embeddings", pair="runs/five", lang="zh")
    assert any(m.value.startswith("**最近邻**（嵌入）") for m in at.markdown)
    # the sidebar names an embeddings set as such, and the map offers no Gaussians it does not have
    assert at.sidebar.selectbox(key="pair").label == zh["side_emb_set"]
    assert not at.toggle and "ellipses" not in at.query_params
    title = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["annotations"][0]["text"]
    assert zh["emb_map_panel"] in title and "嵌入 " not in title
    at = open_app("explorer/ui/pages/decoder.py", dataset="embeddings", pair="runs/five", lang="zh")
    assert [i.value for i in at.info if i.icon != ":material/lightbulb:"] == [
        zh["emb_needs"].format(pair="runs/five", what=zh["emb_need_decoder"])
    ]


def test_a_slow_projection_is_asked_for_the_sets_own_codes_only(emb_runs, monkeypatch):
    """UMAP and t-SNE fit in a worker (explorer/long_tasks.py), one request per model with codes: a set of
    one (embeddings, a lone model) asks once, for its own member (it asked for ae and vae: 'vae' failed)."""
    from explorer import long_tasks
    from explorer.ui.cache import codes as cached_codes
    from explorer.ui.context import View

    runs, _ = emb_runs
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(runs))
    info = find_sets()["runs/five"]
    loaded = load_set(info.path)
    data = dataset_for(loaded.lead.config)
    view = View(
        "runs/five", str(info.path), info.stamp, loaded, data, {"ae": cached_codes(str(info.path), info.stamp, "ae")}
    )
    requests = view.projection_requests("tsne", (("perplexity", 5.0),))
    assert [args[2] for _, args in requests] == ["ae"]
    fitted = [long_tasks.projection(*args) for _, args in requests]
    assert fitted[0].embedding_.shape == (N, 2)
