"""Hostile ONNX models are data too: each is refused at import with its reason (CLI: one line, exit 2),
nothing is left under runs/, and nothing outside the model's folder is read.

The graphs are written by hand with onnx.helper: a decoder z (B, 2) -> logits (B, 1, 16, 16) unless a
case changes one thing about it."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.helpers import run_cli
from training import limits

D, SIDE = 2, 16
DATA = ["--data", "moons", "--image-size", str(SIDE), "--regime", "sparse"]


def decoder(
    *,
    out_name="logits",
    in_name="z",
    out_dims=(1, SIDE, SIDE),
    elem=TensorProto.FLOAT,
    scale=0.01,
    extra_nodes=(),
    domain="",
    opset=17,
    batch="B",
):
    """z -> Reshape(MatMul(z, W) * scale): a linear decoder whose parts a test can spoil."""
    w = numpy_helper.from_array(np.ones((D, SIDE * SIDE), np.float32), "W")
    s = numpy_helper.from_array(np.array([scale], np.float32), "S")
    shape = numpy_helper.from_array(np.array([-1, 1, SIDE, SIDE], np.int64), "shape")
    nodes = [
        helper.make_node("MatMul", [in_name, "W"], ["h"]),
        helper.make_node("Mul", ["h", "S"], ["hs"], domain=domain),
        helper.make_node("Reshape", ["hs", "shape"], [out_name]),
        *extra_nodes,
    ]
    graph = helper.make_graph(
        nodes,
        "decoder",
        [helper.make_tensor_value_info(in_name, elem, [batch, D])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [batch, *out_dims])],
        [w, s, shape],
    )
    imports = [helper.make_opsetid("", opset)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    return helper.make_model(graph, opset_imports=imports, ir_version=8)


def imported(tmp_path, monkeypatch, model_or_path, *flags):
    runs = tmp_path / "runs"
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(runs))
    path = model_or_path
    if not isinstance(model_or_path, type(tmp_path)):
        path = tmp_path / "model.onnx"
        path.write_bytes(model_or_path.SerializeToString())
    result = run_cli("import-onnx", "--decoder", str(path), *DATA, "--name", "hostile", *flags)
    left = sorted(p.name for p in runs.iterdir()) if runs.is_dir() else []
    return result, left


def refused(tmp_path, monkeypatch, model, reason):
    result, left = imported(tmp_path, monkeypatch, model)
    assert result.returncode == 2, result.stdout
    assert reason in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert left == []  # not even a hidden staging folder


def test_a_well_formed_decoder_is_imported(tmp_path, monkeypatch):
    result, left = imported(tmp_path, monkeypatch, decoder())
    assert result.returncode == 0, result.stderr
    assert left == ["hostile"]


def test_external_data_is_refused_and_the_file_it_names_is_never_read(tmp_path, monkeypatch):
    model = decoder()
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.ones(D * SIDE * SIDE, np.float32).tobytes())
    w = model.graph.initializer[0]
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", str(secret)), ("offset", "0"), ("length", str(secret.stat().st_size))):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    before = secret.stat().st_atime_ns
    refused(tmp_path, monkeypatch, model, "points at an external data file")
    assert secret.stat().st_atime_ns == before


def test_a_custom_operator_domain_is_refused(tmp_path, monkeypatch):
    refused(tmp_path, monkeypatch, decoder(domain="com.example.evil"), "custom operator domain 'com.example.evil'")


def test_microsofts_contrib_domain_is_refused_too(tmp_path, monkeypatch):
    refused(tmp_path, monkeypatch, decoder(domain="com.microsoft"), "custom operator domain 'com.microsoft'")


@pytest.mark.parametrize("opset", [7, 99])
def test_an_opset_outside_the_range_is_refused(tmp_path, monkeypatch, opset):
    refused(tmp_path, monkeypatch, decoder(opset=opset), f"opset {opset}; this server runs opsets")


def test_a_file_over_the_size_cap_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ONNX_BYTES", 1024)
    refused(tmp_path, monkeypatch, decoder(), "this server takes ONNX files of at most")


def test_a_file_that_is_not_onnx_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\x08\x07junk that protobuf cannot read \xff\xff\xff")
    result, left = imported(tmp_path, monkeypatch, path)
    assert result.returncode == 2 and "not an ONNX model" in result.stderr and left == []


def test_an_output_of_another_name_is_refused_until_the_user_says_what_it_is(tmp_path, monkeypatch):
    refused(tmp_path, monkeypatch, decoder(out_name="image"), "its output 'image' is not named logits")
    result, left = imported(
        tmp_path, monkeypatch, decoder(in_name="code", out_name="image"), "--decoder-output", "mean"
    )
    assert result.returncode == 0, result.stderr
    assert left == ["hostile"]


def test_graphs_of_other_names_are_mapped_by_the_manifest_and_checked_against_it(tmp_path, monkeypatch):
    """Imported under other names, the manifest records them; a graph swapped for one whose names differ
    from what the manifest records is refused at load (names are checked before the first run)."""
    import json

    from training.onnxset import OnnxError, load_onnx_members

    result, _ = imported(
        tmp_path, monkeypatch, decoder(in_name="onnx::MatMul_0", out_name="17"), "--decoder-output", "logits"
    )
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "runs" / "hostile"
    manifest = json.loads((folder / "onnx.json").read_text())
    assert manifest["models"]["vae"]["names"] == {"decoder": {"z": "onnx::MatMul_0", "logits": "17"}}
    manifest["models"]["vae"].pop("sha256")  # the digest would catch the swap first
    (folder / "onnx.json").write_text(json.dumps(manifest))
    (folder / "vae.decoder.onnx").write_bytes(decoder(in_name="z", out_name="17").SerializeToString())
    with pytest.raises(OnnxError, match=r"inputs are \['z'\]; the manifest needs \['onnx::MatMul_0'\]"):
        load_onnx_members(folder)


def test_a_graph_with_two_inputs_is_refused(tmp_path, monkeypatch):
    model = decoder()
    model.graph.input.append(helper.make_tensor_value_info("extra", TensorProto.FLOAT, ["B", D]))
    refused(tmp_path, monkeypatch, model, "2 inputs; a decoder takes one")


def test_a_float64_input_is_refused(tmp_path, monkeypatch):
    refused(tmp_path, monkeypatch, decoder(elem=TensorProto.DOUBLE), "must be a float32 tensor")


def test_a_declared_shape_that_does_not_match_the_data_is_refused(tmp_path, monkeypatch):
    refused(tmp_path, monkeypatch, decoder(out_dims=(1, 8, 32)), "has shape ['B', 1, 8, 32]")


@pytest.mark.parametrize("batch", [1, 4])
def test_a_fixed_batch_graph_runs_in_chunks_of_its_batch_and_decodes_as_a_dynamic_one(tmp_path, monkeypatch, batch):
    """torch.onnx without dynamic_axes fixes the batch: such a graph runs its batch of rows at a time (the
    last chunk padded, its extra rows dropped), every call of any size giving what the dynamic graph gives."""
    import torch

    from training.onnxset import load_onnx_members

    result, left = imported(tmp_path, monkeypatch, decoder(batch=batch))
    assert result.returncode == 0, result.stderr
    fixed = load_onnx_members(tmp_path / "runs" / "hostile")["vae"].model
    assert fixed.onnx_decoder.fixed_batch == batch
    (tmp_path / "runs" / "hostile").rename(tmp_path / "fixed")
    assert imported(tmp_path, monkeypatch, decoder())[0].returncode == 0
    dynamic = load_onnx_members(tmp_path / "runs" / "hostile")["vae"].model
    assert dynamic.onnx_decoder.fixed_batch is None
    z = torch.randn(11, D, generator=torch.Generator().manual_seed(0))
    for n in (1, 3, 11):
        assert torch.equal(fixed.decode(z[:n]), dynamic.decode(z[:n]))


def test_a_fixed_batch_over_the_rows_a_run_takes_is_refused(tmp_path, monkeypatch):
    refused(tmp_path, monkeypatch, decoder(batch=limits.ONNX_BATCH + 1), f"fixed batch of {limits.ONNX_BATCH + 1}")


def test_nan_outputs_are_refused_at_import(tmp_path, monkeypatch):
    refused(tmp_path, monkeypatch, decoder(scale=float("nan")), "holds NaN or infinite values")


def test_gigantic_outputs_are_refused_at_import(tmp_path, monkeypatch):
    refused(tmp_path, monkeypatch, decoder(scale=1e30), "reaches")


def test_a_graph_that_lies_about_its_output_shape_is_caught_on_the_first_run(tmp_path, monkeypatch):
    model = decoder()
    model.graph.initializer[2].CopyFrom(
        numpy_helper.from_array(np.array([-1, 1, SIDE // 2, SIDE * 2], np.int64), "shape")
    )
    refused(tmp_path, monkeypatch, model, "output 'logits' has shape")


def test_a_call_over_its_time_budget_is_stopped(tmp_path, monkeypatch):
    """A Loop of 10^9 additions inside the graph: onnxruntime is told to stop once the budget is spent."""
    monkeypatch.setattr(limits, "ONNX_CALL_SECONDS", 0.5)
    body = helper.make_graph(
        [
            helper.make_node("Add", ["acc_in", "one"], ["acc_out"]),
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [1]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [1]),
        ],
        [numpy_helper.from_array(np.ones(1, np.float32), "one")],
    )
    trip = numpy_helper.from_array(np.array(10**9, np.int64), "trip")
    cond = numpy_helper.from_array(np.array(True), "cond")
    zero = numpy_helper.from_array(np.zeros(1, np.float32), "zero")
    loop = helper.make_node("Loop", ["trip", "cond", "zero"], ["spin"], body=body)
    model = decoder(scale=0.01)
    model.graph.node.insert(0, loop)
    model.graph.initializer.extend([trip, cond, zero])
    # the spin's result feeds the output (times zero), so the loop cannot be optimised away
    model.graph.node[2].input[1] = "S2"
    model.graph.node.insert(2, helper.make_node("Mul", ["spin", "zero"], ["spin0"]))
    model.graph.node.insert(3, helper.make_node("Add", ["spin0", "S"], ["S2"]))
    refused(tmp_path, monkeypatch, model, "took longer than 0.5 s")


def memory_bomb(model, nbytes: int, *, folded: bool):
    """The decoder's scale S plus a sum over nbytes of floats (times zero): made at run time from z
    (Expand), or from constants alone (ConstantOfShape, which constant folding would make at load)."""
    count = numpy_helper.from_array(np.array([nbytes // 4], np.int64), "count")
    zero = numpy_helper.from_array(np.zeros(1, np.float32), "nil")
    one = numpy_helper.from_array(np.ones(1, np.float32), "unit")
    if folded:
        make = [helper.make_node("ConstantOfShape", ["count"], ["big"], value=one)]
    else:
        make = [
            helper.make_node("ReduceSum", ["z"], ["z_sum"], keepdims=0),
            helper.make_node("Expand", ["z_sum", "count"], ["big"]),
        ]
    nodes = [
        *make,
        helper.make_node("ReduceSum", ["big"], ["big_sum"], keepdims=1),
        helper.make_node("Mul", ["big_sum", "nil"], ["big0"]),
        helper.make_node("Add", ["big0", "S"], ["S2"]),
    ]
    for offset, node in enumerate(nodes):
        model.graph.node.insert(offset, node)
    model.graph.node[len(nodes) + 1].input[1] = "S2"  # the Mul by the scale now uses S + 0 * sum
    model.graph.initializer.extend([count, zero, one])
    return model


@pytest.mark.parametrize("folded", [False, True], ids=["at-run-time", "by-constant-folding"])
def test_a_graph_asking_for_gigabytes_is_stopped_before_it_gets_them(tmp_path, monkeypatch, folded):
    """3 GiB asked for inside the graph: the run fails at that allocation (the shared arena's cap,
    limits.ONNX_MEMORY_BYTES), with the size in the reason; this process never grew by it."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    refused(tmp_path, monkeypatch, memory_bomb(decoder(), 3 * 2**30, folded=folded), "asked for 3,072 MiB")
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before  # KiB
    assert grown < limits.ONNX_MEMORY_BYTES // 1024, grown


def test_a_graph_within_the_memory_cap_runs_and_hands_its_memory_back(tmp_path, monkeypatch):
    """100 MiB asked for on every call: well-behaved models that need working memory still run, and the
    arena shrinks after each run, so ten calls do not add up to the cap."""
    import torch

    from training.onnxset import load_onnx_members

    result, _ = imported(tmp_path, monkeypatch, memory_bomb(decoder(), 100 * 2**20, folded=False))
    assert result.returncode == 0, result.stderr
    model = load_onnx_members(tmp_path / "runs" / "hostile")["vae"].model
    for _ in range(10):
        assert model.decode(torch.zeros(1, D)).shape == (1, 1, SIDE, SIDE)


def test_a_manifest_that_fails_the_schema_makes_the_set_unlisted_not_a_crash(tmp_path, monkeypatch):
    import json

    from training.store import find_sets

    result, _ = imported(tmp_path, monkeypatch, decoder())
    assert result.returncode == 0, result.stderr
    manifest = tmp_path / "runs" / "hostile" / "onnx.json"
    for spoil in ({"latent_dim": 10**9}, {"image_shape": [1, 16]}, {"value_range": [1, 0]}, {"models": {"gan": {}}}):
        data = {**json.loads(manifest.read_text()), **spoil}
        manifest.write_text(json.dumps(data))
        assert "runs/hostile" not in find_sets()
    assert run_cli("eval", str(manifest.parent)).returncode == 2


def test_a_graph_swapped_after_import_is_refused_by_its_digest(tmp_path, monkeypatch):
    from training.errors import CheckpointError
    from training.store import load_set

    result, _ = imported(tmp_path, monkeypatch, decoder())
    assert result.returncode == 0, result.stderr
    (tmp_path / "runs" / "hostile" / "vae.decoder.onnx").write_bytes(decoder(scale=0.02).SerializeToString())
    with pytest.raises(CheckpointError, match="SHA-256 differs"):
        load_set(tmp_path / "runs" / "hostile")


def test_onnx_checker_failures_are_refused(tmp_path, monkeypatch):
    model = decoder()
    model.graph.node[0].input[1] = "missing_weight"  # an input nothing produces
    refused(tmp_path, monkeypatch, model, "fails the ONNX checker")


def test_every_call_checks_its_outputs_not_only_the_import_probe(tmp_path, monkeypatch):
    """A graph that passed import but gives NaN for some input: the call raises OnnxError (a page shows it
    with st.error; app.py catches it around the page) instead of handing NaN images on."""
    import torch

    from training.onnxset import OnnxError, load_onnx_members

    result, _ = imported(tmp_path, monkeypatch, decoder())
    assert result.returncode == 0, result.stderr
    model = load_onnx_members(tmp_path / "runs" / "hostile")["vae"].model
    assert model.decode(torch.zeros(2, D)).shape == (2, 1, SIDE, SIDE)
    with pytest.raises(OnnxError, match="holds NaN"):
        model.decode(torch.tensor([[float("nan"), 0.0]]))
    with pytest.raises(OnnxError, match="has no encoder"):
        model.encode(torch.zeros(1, 1, SIDE, SIDE))


# --- embeddings only: hostile codes, labels and images ---------------------------------------------------------

EMB_N, EMB_D = 12, 3


def npy(array, allow_pickle=False) -> bytes:
    import io

    out = io.BytesIO()
    np.save(out, array, allow_pickle=allow_pickle)
    return out.getvalue()


def good_codes() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(EMB_N, EMB_D)).astype(np.float32)


def csv(rows) -> bytes:
    return "\n".join(",".join(str(v) for v in row) for row in rows).encode()


def huge_header() -> bytes:
    """An .npy whose header claims 10^12 float64 values over a body of 16 bytes: refused before numpy allocates."""
    raw = npy(np.zeros(2))
    return raw.replace(b"(2,)", b"(1000000000000,)").replace(b"'descr'", b"'descr'", 1)


nan_codes, big_codes = good_codes(), good_codes()
nan_codes[3, 1], big_codes[0, 0] = np.nan, 1e30
EMB_HOSTILE = {  # case -> (files by name, the words of its refusal)
    "pickled object array": ({"codes.npy": npy(np.array([{"a": 1}] * EMB_N), allow_pickle=True)}, "no pickles"),
    "header claiming 10^12 values": ({"codes.npy": huge_header()}, "the file does not hold that"),
    "not an npy at all": ({"codes.npy": b"\x93NUMPY garbage"}, "not a readable .npy file"),
    "NaN code": ({"codes.npy": npy(nan_codes)}, "NaN or infinite"),
    "infinite code in a csv": ({"codes.csv": csv([[1, "inf", 2]] * EMB_N)}, "NaN or infinite"),
    "gigantic code": ({"codes.npy": npy(big_codes)}, "codes reach 1e+30"),
    "one column": ({"codes.npy": npy(np.zeros((EMB_N, 1), np.float32))}, "1 columns; codes of 2 to 1024"),
    "2,000 columns": ({"codes.csv": csv([[0] * 2000] * EMB_N)}, "2,000 columns"),
    "too few rows": ({"codes.npy": npy(np.zeros((3, EMB_D), np.float32))}, "3 codes; 8 to 10,000"),
    "too many csv rows": ({"codes.csv": csv([[0, 1]] * 10_002)}, "at most 10,000 here"),
    "ragged csv": ({"codes.csv": csv([[0, 1, 2]] * 5 + [[0, 1]] * 7)}, "rows have [2, 3] fields"),
    "words in a csv": ({"codes.csv": csv([[0, 1]] * 5 + [["x", 2]] * 7)}, "not a table of numbers"),
    "not utf-8": ({"codes.csv": b"\xff\xfe\x00" * 40}, "not UTF-8 text"),
    "codes as json": ({"codes.json": b"[[1, 2]]"}, "codes come as .npy, .csv or .tsv"),
    "strings as codes": ({"codes.npy": npy(np.array([["a", "b"]] * EMB_N))}, "codes must be numbers"),
    "fewer labels": ({"codes.npy": npy(good_codes()), "labels.npy": npy(np.arange(EMB_N - 1))}, "11 labels for 12"),
    "float labels": ({"codes.npy": npy(good_codes()), "labels.npy": npy(np.ones(EMB_N))}, "labels must be one"),
    "a long label": (
        {"codes.npy": npy(good_codes()), "labels.txt": ("x" * 65 + "\n") * EMB_N},
        "not a short printable string",
    ),
    "markup in a label": (
        {"codes.npy": npy(good_codes()), "labels.txt": "<img src=x onerror=alert(1)>\n" * EMB_N},
        "no < or >",
    ),
    "300 classes": ({"codes.npy": npy(np.zeros((300, 2), np.float32)), "labels.npy": npy(np.arange(300))}, "300 dist"),
    "fewer images": (
        {"codes.npy": npy(good_codes()), "images.npy": npy(np.zeros((EMB_N - 2, 8, 8), np.uint8))},
        "10 images for 12 codes",
    ),
    "images out of range": (
        {"codes.npy": npy(good_codes()), "images.npy": npy(np.full((EMB_N, 8, 8), 3.0, np.float32))},
        "pixel values must be in [0, 1]",
    ),
    "two files of codes": ({"a.npy": npy(good_codes()), "b.npy": npy(good_codes())}, "a second file of codes"),
}


@pytest.mark.parametrize("case", EMB_HOSTILE)
def test_hostile_embeddings_are_refused_with_their_reason_and_nothing_is_written(case, tmp_path, monkeypatch):
    """Through the CLI (one line on stderr, exit 2) with each file where the upload sorter puts it."""
    from training.embeddings import sort_files

    files, reason = EMB_HOSTILE[case]
    files = {name: raw.encode() if isinstance(raw, str) else raw for name, raw in files.items()}
    for name, raw in files.items():
        (tmp_path / name).write_bytes(raw)
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path / "runs"))
    try:
        roles = {role: tmp_path / name for role, (name, _) in sort_files(files).items()}
    except Exception as exc:  # the sorter refused it (the app's upload says the same)
        assert reason in str(exc)
        return
    flags = [f for role in ("labels", "images") if role in roles for f in (f"--{role}", str(roles[role]))]
    result = run_cli("import-embeddings", str(roles["codes"]), *flags, "--name", "hostile")
    assert result.returncode == 2, result.stdout
    assert reason in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    runs = tmp_path / "runs"
    assert not runs.is_dir() or not list(runs.iterdir())  # not even a hidden staging folder


def test_an_embeddings_file_over_the_cap_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_EMBEDDING_BYTES", 1024)
    (tmp_path / "codes.npy").write_bytes(npy(np.zeros((EMB_N, 100), np.float32)))
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path / "runs"))
    result = run_cli("import-embeddings", str(tmp_path / "codes.npy"), "--name", "hostile")
    assert result.returncode == 2 and "a file of embeddings is at most 0 MiB" in result.stderr


def test_an_embeddings_set_spoiled_on_disk_is_not_listed_and_not_loaded(tmp_path, monkeypatch):
    """runs/ is anyone's: a codes file swapped after import fails its digest; a manifest pointing its data
    outside the set's folder is never followed (dataset_for reads only the set roots)."""
    import json

    from training.config import DataConfig, RunConfig
    from training.errors import CheckpointError, LatentExplorerError
    from training.store import dataset_for, find_sets, load_set

    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path / "runs"))
    (tmp_path / "codes.npy").write_bytes(npy(good_codes()))
    assert run_cli("import-embeddings", str(tmp_path / "codes.npy"), "--name", "e").returncode == 0
    folder = tmp_path / "runs" / "e"
    assert "runs/e" in find_sets()
    (folder / "codes.npy").write_bytes(npy(good_codes() + 1))
    with pytest.raises(CheckpointError, match="SHA-256 differs"):
        load_set(folder)
    manifest = json.loads((folder / "embeddings.json").read_text())
    (tmp_path / "spoiled.json").write_text(json.dumps({**manifest, "n": 10**9}))
    (tmp_path / "spoiled.json").rename(folder / "embeddings.json")  # a rename, as any writer's: the listing sees it
    assert "runs/e" not in find_sets()
    outside = RunConfig(data=DataConfig(name="embeddings", path=str(tmp_path)))
    with pytest.raises(LatentExplorerError, match="paths are limited to"):
        dataset_for(outside)


def test_live_sessions_are_bounded_by_bytes_and_a_dropped_one_is_made_again_from_its_checked_file(
    tmp_path, monkeypatch
):
    """The app caches up to 16 loaded sets; what their onnxruntime sessions hold is bounded by the graphs'
    bytes (limits.ONNX_WEIGHT_BYTES): past it the least recently run session is dropped, and made again from
    its file (same SHA-256, or refused) when it is next run."""
    import torch

    from training.onnxset import LIVE, OnnxError, load_onnx_members

    models = {}
    for name, scale in (("a", 0.01), ("b", 0.02)):
        assert imported(tmp_path, monkeypatch, decoder(scale=scale))[0].returncode == 0
        (tmp_path / "runs" / "hostile").rename(tmp_path / name)
        models[name] = load_onnx_members(tmp_path / name)["vae"].model
    size = models["a"].onnx_decoder.size
    monkeypatch.setattr(limits, "ONNX_WEIGHT_BYTES", size + size // 2)  # room for one graph, not two
    z = torch.ones(2, D)
    first = models["a"].decode(z)
    models["b"].decode(z)
    assert models["a"].onnx_decoder.session is None and models["b"].onnx_decoder.session is not None
    assert LIVE.held() <= limits.ONNX_WEIGHT_BYTES
    assert torch.equal(models["a"].decode(z), first)  # made again from its file
    assert models["b"].onnx_decoder.session is None
    (tmp_path / "a" / "vae.decoder.onnx").write_bytes(decoder(scale=0.5).SerializeToString())
    models["b"].decode(z)  # drops a's session again; its file has changed meanwhile
    with pytest.raises(OnnxError, match="SHA-256 differs"):
        models["a"].decode(z)
