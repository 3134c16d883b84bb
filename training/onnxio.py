"""Import and export of ONNX sets (the CLI's import-onnx and export-onnx; the app's upload), and of
embeddings (import-embeddings and the same upload; training/embeddings.py validates them).

import_onnx: graphs given by kind, their outputs read from the graphs, a manifest written beside
copies of them in a hidden staging folder under runs/, every check of training/onnxset.py run on
those copies and a probe on a few test images, then renamed into place. export_set: a pair of this
package's own as such a folder (torch.onnx, opset OPSET, dynamic batch).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import embeddings
from .checkpoint import atomic_write_bytes
from .config import DataConfig, ModelConfig, RunConfig, TrainConfig, to_dict
from .errors import LatentExplorerError
from .kinds import PAIR_KINDS
from .models import LOGVAR_RANGE
from .onnxset import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    PROBE_IMAGES,
    OnnxError,
    declared_shapes,
    dims_of,
    graph_file,
    load_onnx_members,
    parse_model,
    probe,
    read_capped,
)
from .posteriors import POSTERIORS
from .schema import ONNX_DECODER_OUTPUTS, ONNX_ENCODER_ORDERS, ONNX_ENCODER_OUTPUTS, check_manifest
from .store import (
    RUN_PREFIX,
    check_out_dir,
    dataset_for,
    held_free_folder,
    hold,
    load_set,
    runs_dir,
    safe_name,
    staged_dir,
)

OPSET = 17  # what export_set writes


def _io(path: Path) -> tuple[list, list[str]]:
    """A graph's inputs (weights left out: old exporters list them too) and its output names."""
    graph = parse_model(read_capped(path), path.name).graph
    weights = {t.name for t in graph.initializer}
    return [v for v in graph.input if v.name not in weights], [o.name for o in graph.output]


def part_of(path: Path) -> str:
    """'encoder' or 'decoder', by its one input: images (B, C, H, W) or codes (B, latent size)."""
    inputs, _ = _io(path)
    rank = len(dims_of(inputs[0])) if len(inputs) == 1 else 0
    if rank not in (2, 4):
        raise OnnxError(
            f"{path.name}: {len(inputs)} input(s) of rank {rank}; an encoder takes images (B, C, H, W), "
            "a decoder codes (B, latent size)",
            key="err_onnx_input_rank_encoder",
            path=path.name,
            n=len(inputs),
            rank=rank,
        )
    return "decoder" if rank == 2 else "encoder"


def _detect_encoder(path: Path) -> tuple[str, dict[str, str]]:
    """'mu_logvar' or 'z', and the graph's name for each of x and its outputs (before anything runs):
    by name when they are called z, or mu and logvar; else by count, in the graph's order (torch.onnx
    writes them in the order forward returns them: mu, then logvar)."""
    inputs, names = _io(path)
    if len(inputs) != 1:
        raise OnnxError(
            f"{path.name}: {len(inputs)} inputs; an encoder takes one, the images x",
            key="err_onnx_inputs_encoder_takes",
            path=path.name,
            n=len(inputs),
        )
    kind = next((k for k, wanted in ONNX_ENCODER_OUTPUTS.items() if set(names) == set(wanted)), None)
    if kind is None and len(names) in (1, 2):
        kind = "z" if len(names) == 1 else "mu_logvar"
        return kind, {"x": inputs[0].name, **dict(zip(ONNX_ENCODER_OUTPUTS[kind], names))}
    if kind is None:
        raise OnnxError(
            f"{path.name}: outputs {names[:4]}; an encoder outputs z, or mu and logvar (in that order)",
            key="err_onnx_outputs_encoder_outputs",
            path=path.name,
            names=names[:4],
        )
    return kind, {"x": inputs[0].name, **{n: n for n in names}}


def _detect_decoder(path: Path, output: str | None = None) -> tuple[str, int, dict[str, str]]:
    """What the decoder outputs (logits, probabilities or mean: its output's name, or `output` when the
    user says), its latent size, and the graph's name for each of z and its output."""
    inputs, names = _io(path)
    if len(names) != 1:
        raise OnnxError(
            f"{path.name}: outputs {names[:4]}; a decoder outputs one tensor, the images",
            key="err_onnx_outputs_decoder_outputs",
            path=path.name,
            names=names[:4],
        )
    kind = output or (names[0] if names[0] in ONNX_DECODER_OUTPUTS else None)
    if kind not in ONNX_DECODER_OUTPUTS:
        raise OnnxError(
            f"{path.name}: its output {names[0][:80]!r} is not named {', '.join(ONNX_DECODER_OUTPUTS)}; "
            "say which it gives (--decoder-output; in the app, 'the decoder outputs')",
            key="err_onnx_output_named_say",
            path=path.name,
            names=repr(names[0][:80]),
            choices=", ".join(ONNX_DECODER_OUTPUTS),
        )
    if len(inputs) != 1:
        raise OnnxError(
            f"{path.name}: {len(inputs)} inputs; a decoder takes one, the codes z",
            key="err_onnx_inputs_decoder_takes",
            path=path.name,
            n=len(inputs),
        )
    dims = dims_of(inputs[0])
    if len(dims) != 2 or dims[1] is None:
        raise OnnxError(
            f"{path.name}: its input must be z of shape [B, latent size] with a fixed latent size",
            key="err_onnx_input_shape_latent",
            path=path.name,
        )
    return kind, dims[1], {"z": inputs[0].name, kind: names[0]}


def build_manifest(
    encoders: dict[str, Path],
    decoders: dict[str, Path],
    data: DataConfig,
    image_shape: tuple[int, int, int],
    *,
    likelihood: str = "bernoulli",
    value_range: tuple[float, float] = (0.0, 1.0),
    latent_dim: int | None = None,
    source: str = "",
    decoder_output: str | None = None,
) -> dict[str, Any]:
    """A manifest for graphs given by kind, their outputs read from the graphs themselves (what the
    decoders output from decoder_output when given)."""
    models: dict[str, dict] = {}
    for kind in sorted(set(encoders) | set(decoders)):
        member: dict[str, Any] = {"encoder": None, "decoder": None, "likelihood": likelihood}
        names = {}
        if kind in encoders:
            member["encoder"], names["encoder"] = _detect_encoder(encoders[kind])
        if kind in decoders:
            member["decoder"], dim, names["decoder"] = _detect_decoder(decoders[kind], decoder_output)
            latent_dim = latent_dim or dim
        names = {part: m for part, m in names.items() if any(k != v for k, v in m.items())}
        if names:  # graphs exported under other names: the manifest says which is which
            member["names"] = names
        models[kind] = member
    if latent_dim is None:
        raise OnnxError(
            "no decoder to read the latent size from; give --latent-dim", key="err_onnx_decoder_read_latent"
        )
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "latent_dim": latent_dim,
        "image_shape": list(image_shape),
        "value_range": list(value_range),
        "data": to_dict(data),
        "models": models,
        "source": source,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def guess_kind(path: Path) -> str:
    """An encoder with mu and logvar is a VAE's; one with z an AE's."""
    return "vae" if _detect_encoder(path)[0] == "mu_logvar" else "ae"


def write_set(staging: Path, manifest: dict[str, Any], files: dict[str, Path]) -> None:
    """Copy the graphs (file name -> source) into a staging folder, then write the manifest with the
    digest of every graph it declares."""
    for name, source in files.items():
        shutil.copyfile(source, staging / name)
    for kind in manifest["models"]:
        for part in declared_shapes(manifest, kind):
            digest = hashlib.sha256((staging / graph_file(kind, part)).read_bytes()).hexdigest()
            manifest["models"][kind].setdefault("sha256", {})[part] = digest
    check_manifest(manifest)
    atomic_write_bytes(staging / MANIFEST, json.dumps(manifest, indent=1, allow_nan=False).encode())


@dataclass
class Imported:
    set_id: str
    path: Path
    manifest: dict[str, Any]


def import_onnx(
    encoders: dict[str, Path],
    decoders: dict[str, Path],
    data: DataConfig,
    name: str,
    *,
    likelihood: str = "bernoulli",
    value_range: tuple[float, float] = (0.0, 1.0),
    latent_dim: int | None = None,
    metrics: dict[str, dict] | None = None,
    source: str = "",
    decoder_output: str | None = None,
) -> Imported:
    """Check the graphs, write the set into a hidden staging folder under runs/, load it from there
    (every static check), run it on a few test images (outputs checked), then rename it into place."""
    dataset = None
    for part, given in (("encoder", encoders), ("decoder", decoders)):
        for kind, path in given.items():
            if kind not in PAIR_KINDS:
                raise OnnxError(
                    f"{kind}: a model of an ONNX set is an ae or a vae", key="err_onnx_model_onnx_set", kind=kind
                )
            if not Path(path).is_file():
                raise OnnxError(f"{path}: no such {part} file", key="err_onnx_such_file", path=path, part=part)
    if not encoders and not decoders:
        raise OnnxError("give an encoder, a decoder or both", key="err_onnx_encoder_decoder_both")
    probe_config = RunConfig(data=data, model=ModelConfig(in_shape=None), train=TrainConfig())
    dataset = dataset_for(probe_config)
    shape = tuple(dataset.image_shape)
    manifest = build_manifest(
        encoders,
        decoders,
        data,
        shape,
        likelihood=likelihood,
        value_range=value_range,
        latent_dim=latent_dim,
        source=source,
        decoder_output=decoder_output,
    )
    manifest["data_stats"] = {
        "name": data.name,
        "image_shape": list(shape),
        "n_train": len(dataset.train),
        "n_test": len(dataset.test),
    }
    for kind, values in (metrics or {}).items():
        if kind in manifest["models"]:
            manifest["models"][kind]["metrics"] = values
    files = {graph_file(k, "encoder"): Path(p) for k, p in encoders.items()}
    files |= {graph_file(k, "decoder"): Path(p) for k, p in decoders.items()}
    # the next free name that no other writer holds (store.held_free_folder), as for any import
    with held_free_folder(runs_dir(), safe_name(name)) as target, staged_dir(target) as staging:
        write_set(staging, manifest, files)
        members = load_onnx_members(staging)  # the static checks, on the copies that will be kept
        probe(members, dataset.test.x[:PROBE_IMAGES])
        swapped = [k for k in members if _positional(encoders.get(k)) and _reads_swapped(members[k].model, dataset)]
        for kind in swapped:  # the graph gives logvar first: the manifest maps its names the other way round
            names = manifest["models"][kind]["names"]["encoder"]
            names["mu"], names["logvar"] = names["logvar"], names["mu"]
            manifest["models"][kind]["encoder_order"] = ONNX_ENCODER_ORDERS[0]
        if swapped:
            write_set(staging, manifest, {})
            probe(load_onnx_members(staging), dataset.test.x[:PROBE_IMAGES])
    return Imported(RUN_PREFIX + target.name, target, manifest)


ORDER_IMAGES = 64  # test images on which an encoder's two unnamed outputs are told apart
ORDER_MARGIN = 0.5  # the other order is taken when its reconstruction error is below half this order's


def _positional(path: Path | None) -> bool:
    """An encoder whose two outputs are not called mu and logvar: read by position (mu first) until
    _reads_swapped has looked."""
    if path is None:
        return False
    names = _io(path)[1]
    return len(names) == 2 and set(names) != set(ONNX_ENCODER_OUTPUTS["mu_logvar"])


def _reads_swapped(model, dataset) -> bool:
    """With both halves: does the decoder reconstruct the test images far better from the second output
    than from the first? Then the graph gives (logvar, mu), not the (mu, logvar) its position says."""
    if not (model.can_encode and model.can_decode):
        return False
    x = dataset.test.x[:ORDER_IMAGES]
    lo, hi = model.value_range
    out = model.onnx_encoder(x.numpy() * (hi - lo) + lo, {n: (model.latent_dim,) for n in ("mu", "logvar")})
    error = {n: float(((model.decode(torch.from_numpy(out[n])) - x) ** 2).mean()) for n in ("mu", "logvar")}
    return error["logvar"] < ORDER_MARGIN * error["mu"]


def export_set(set_dir: str | Path, out: str | Path) -> Path:
    """Write a pair of this package's own (bundled or trained) as an ONNX set: the folder `out`,
    staged then renamed. Conditional sets are refused: their graphs take a condition c as well, which
    the ONNX set format (unconditional encoders and decoders) does not carry."""
    loaded = load_set(set_dir)
    if loaded.kind != "pair":
        raise LatentExplorerError(
            f"{set_dir}: a {loaded.kind} set; export-onnx writes pairs (ae + vae): a conditional model also "
            "takes a condition c, which an ONNX set's encoder (x) and decoder (z) do not",
            key="err_onnx_set_export_onnx",
            set_dir=set_dir,
            kind=loaded.kind,
        )
    if getattr(loaded.lead.model, "differentiable", True) is False:
        raise LatentExplorerError(
            f"{set_dir}: already an ONNX set; copy its folder instead", key="err_onnx_already_onnx_set", set_dir=set_dir
        )
    posterior = loaded["vae"].config.model.posterior
    if posterior != "diag":
        raise LatentExplorerError(
            f"its VAE's q(z|x) is --posterior {posterior} ({POSTERIORS[posterior]}); an ONNX set's VAE encoder "
            "outputs a diagonal Gaussian (mu, logvar) only, so it cannot be exported",
            key="err_onnx_posterior",
            posterior=posterior,
            name=POSTERIORS[posterior],
        )
    out = check_out_dir(out)
    lead = loaded.lead
    shape = tuple(lead.config.model.in_shape)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "latent_dim": lead.config.model.latent_dim,
        "image_shape": list(shape),
        "value_range": [0, 1],
        "data": to_dict(lead.config.data),
        "models": {},
        "data_stats": lead.data_stats,
        "source": f"exported by latent-explorer from {Path(set_dir).name}",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with hold(out), staged_dir(out, replace=True) as staging:  # one writer per folder (store.hold)
        for kind in PAIR_KINDS:
            checkpoint = loaded[kind]
            model, config = checkpoint.model, checkpoint.config.model
            encoder = "mu_logvar" if model.is_variational else "z"
            export_module(
                EncoderGraph(model),
                torch.zeros(1, *shape),
                staging / graph_file(kind, "encoder"),
                "x",
                ONNX_ENCODER_OUTPUTS[encoder],
            )
            export_module(
                DecoderGraph(model),
                torch.zeros(1, config.latent_dim),
                staging / graph_file(kind, "decoder"),
                "z",
                ("logits",),
            )
            manifest["models"][kind] = {
                "encoder": encoder,
                "decoder": "logits",
                "likelihood": config.likelihood,
                "gaussian_sigma": config.gaussian_sigma,
                "metrics": checkpoint.metrics,  # the same functions, within float rounding (round-trip test)
            }
        write_set(staging, manifest, {})
        load_onnx_members(staging)  # never write what the importer would refuse
    return out


class EncoderGraph(nn.Module):
    """x -> z (AE) or (mu, logvar) (VAE): what an ONNX encoder outputs."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        h = self.model.encoder(x)
        if not self.model.is_variational:
            return self.model.mean_head(h)
        return self.model.mean_head(h), self.model.logvar_head(h).clamp(*LOGVAR_RANGE)


class DecoderGraph(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, z):
        return self.model.decode_logits(z)


def export_module(
    module: nn.Module, example: torch.Tensor, path: Path, input_name: str, output_names: tuple[str, ...]
) -> None:
    import warnings

    axes = {name: {0: "batch"} for name in (input_name, *output_names)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            module.eval(),
            (example,),
            str(path),
            dynamo=False,
            input_names=[input_name],
            output_names=list(output_names),
            dynamic_axes=axes,
            opset_version=OPSET,
        )


def _sort_graphs(folder: Path, names: list[str]) -> tuple[dict[str, Path], dict[str, Path]]:
    """Uploaded .onnx files by what they are: an encoder or a decoder by its input (images or codes), its kind by
    the file name (ae... / vae...) or, for an encoder, by its outputs; a lone decoder joins a lone encoder."""
    encoders, decoders, unsure = {}, {}, []
    for name in sorted(names):
        path = folder / name
        stem = name.lower()
        named = "vae" if stem.startswith("vae") else "ae" if stem.startswith("ae") else None
        if part_of(path) == "decoder":
            (unsure.append(path) if named is None else decoders.__setitem__(named, path))
        else:
            kind = named or guess_kind(path)
            if kind in encoders:
                raise OnnxError(
                    f"{name}: a second {kind} encoder; name the files ae... and vae...",
                    key="err_onnx_second_encoder_name",
                    name=name,
                    kind=kind,
                )
            encoders[kind] = path
    for path in unsure:
        kind = next(iter(encoders)) if len(encoders) == 1 else "vae"
        if kind in decoders:
            raise OnnxError(
                f"{path.name}: a second {kind} decoder; name the files ae... and vae...",
                key="err_onnx_second_decoder_name",
                path=path.name,
                kind=kind,
            )
        decoders[kind] = path
    return encoders, decoders


def import_uploaded(
    files: dict[str, bytes], data: DataConfig | None, name: str = "uploaded-onnx", decoder_output: str | None = None
) -> Imported:
    """ONNX files uploaded in the app (a folder written by export_set, with its onnx.json, or bare graphs
    and the data they were trained on), imported like import-onnx. File names are never used as paths."""
    import tempfile

    from .limits import MAX_ONNX_BYTES

    graphs = {n: raw for n, raw in files.items() if n.lower().endswith(".onnx")}
    if not graphs or len(graphs) > 4:
        raise OnnxError(
            f"upload one to four .onnx files (an encoder and/or a decoder per model); got {len(graphs)}",
            key="err_onnx_upload_four_onnx",
            n=len(graphs),
        )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for index, (file_name, raw) in enumerate(graphs.items()):
            if len(raw) > MAX_ONNX_BYTES:
                raise OnnxError(
                    f"{file_name[:80]}: over {MAX_ONNX_BYTES // 2**20} MiB",
                    key="err_onnx_over_mib",
                    file_name=file_name[:80],
                    mib=MAX_ONNX_BYTES // 2**20,
                )
            safe = safe_name(Path(file_name).stem).lower()
            (folder / f"{safe}-{index}.onnx").write_bytes(raw)
        if MANIFEST in files:  # an exported set: its manifest says the data, the likelihood and the value range
            (folder / MANIFEST).write_bytes(files[MANIFEST][:1_000_000])
            from .onnxset import read_manifest

            manifest = read_manifest(folder)
            data = DataConfig(**{k: v for k, v in manifest["data"].items()})
            member = next(iter(manifest["models"].values()))
            options = {
                "likelihood": member.get("likelihood", "bernoulli"),
                "value_range": tuple(manifest["value_range"]),
            }
        elif data is None:
            raise OnnxError("say which data the models were trained on", key="err_onnx_say_which_data")
        else:
            options = {}
        names = [p.name for p in folder.glob("*.onnx")]
        encoders, decoders = _sort_graphs(folder, names)
        return import_onnx(encoders, decoders, data, name, source="upload", decoder_output=decoder_output, **options)


def import_embeddings(emb: embeddings.Embeddings, name: str, source: str = "") -> Imported:
    """Write validated embeddings as runs/NAME (the next free name), staged then renamed, held (store.hold)
    like every import; read back through embeddings' checks before the rename."""
    with held_free_folder(runs_dir(), safe_name(name)) as target, staged_dir(target) as staging:
        manifest = embeddings.write_embeddings(staging, emb, source)
        embeddings.load_members(staging)
    return Imported(RUN_PREFIX + target.name, target, manifest)
