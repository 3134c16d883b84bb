"""Checkpoints that describe themselves: safetensors weights + a JSON sidecar.

    <dir>/<kind>.safetensors   the weights (no pickle anywhere)
    <dir>/<kind>.json          format version, configs, data stats, metrics, history,
                               library versions, and the weights' SHA-256

Folders of checkpoints (pairs, conditional sets) are store.py's business. Writes go to a temporary file that is then
renamed. Replacing a checkpoint keeps the old weights under a hidden name (.<kind>.<sha>.safetensors)
until the new sidecar is in place, so a process killed between the two renames leaves the old
sidecar with its own weights still findable: the previous checkpoint loads.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .config import DataConfig, ModelConfig, RunConfig, TrainConfig, from_dict, to_dict
from .errors import CheckpointError, LatentExplorerError, Phrase, not_written
from .models import Autoencoder, build_model
from .schema import check_sidecar

FORMAT = "latent-explorer-checkpoint"
FORMAT_VERSION = 1
MAX_SIDECAR_BYTES = 16 * 1024 * 1024
MAX_WEIGHTS_BYTES = 512 * 1024 * 1024


@dataclass
class Checkpoint:
    model: Autoencoder  # in eval mode
    config: RunConfig
    path: Path  # the .safetensors file
    data_stats: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    created: str = ""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same directory, fsync, then rename over path. A failed write
    (disk full, read-only) leaves the old file as it was and raises CheckpointError."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise not_written(path, exc, CheckpointError) from None
        raise


def library_versions() -> dict[str, str]:
    import numpy

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__}


DECODER_OUTPUTS = Phrase("decoder outputs", "word_decoder_outputs")  # what check_outputs names


def save_checkpoint(
    directory: str | Path,
    model: Autoencoder,
    config: RunConfig,
    *,
    data_stats: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    history: list[dict[str, float]] | None = None,
    created: str | None = None,
    same_weights_as: str | None = None,
) -> Path:
    """Save one model as <directory>/<kind>.safetensors + .json; returns the weights' path.

    Re-measuring a checkpoint trains nothing: created keeps its creation time, and same_weights_as
    (the SHA-256 in its sidecar) refuses to write unless the weights serialise to those very bytes."""
    from safetensors.torch import save

    directory = Path(directory)
    kind = config.model.kind
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    weights = save(state)
    sha256 = hashlib.sha256(weights).hexdigest()
    if same_weights_as is not None and sha256 != same_weights_as:
        raise CheckpointError(
            f"{directory / kind}: the weights would not re-save byte for byte; nothing written",
            key="err_ckpt_weights_would_save",
            path=directory / kind,
        )
    sidecar = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "model": to_dict(config.model),
        "data": to_dict(config.data),
        "train": to_dict(config.train),
        "data_stats": data_stats or {},
        "metrics": metrics or {},
        "history": history or [],
        "versions": library_versions(),
        "weights_sha256": sha256,
        "created": created or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    sidecar = _json_safe(sidecar)
    check_sidecar(sidecar)  # never write what read_sidecar would refuse
    text = json.dumps(sidecar, indent=1, allow_nan=False)
    weights_path = directory / f"{kind}.safetensors"
    sidecar_path = directory / f"{kind}.json"
    backup = None
    if weights_path.is_file() and sidecar_path.is_file():
        try:
            old_sha = read_sidecar(sidecar_path).get("weights_sha256", "")
        except (OSError, CheckpointError):
            old_sha = ""
        if isinstance(old_sha, str) and len(old_sha) == 64:
            backup = backup_path(weights_path, old_sha)
            backup.unlink(missing_ok=True)
            os.link(weights_path, backup)  # the old weights stay findable by the old sidecar
    atomic_write_bytes(weights_path, weights)
    atomic_write_bytes(sidecar_path, text.encode())  # the commit point
    if backup is not None:
        backup.unlink(missing_ok=True)
    return weights_path


def backup_path(weights_path: Path, sha256: str) -> Path:
    return weights_path.with_name(f".{weights_path.stem}.{sha256[:16]}.safetensors")


def _json_safe(value: Any) -> Any:
    """NaN/inf are not JSON: store them as null rather than writing an unreadable file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _paths(path: str | Path) -> tuple[Path, Path]:
    path = Path(path)
    if path.suffix in (".safetensors", ".json"):
        path = path.with_suffix("")
    return path.with_suffix(".safetensors"), path.with_suffix(".json")


def read_sidecar(path: str | Path) -> dict[str, Any]:
    """The sidecar as JSON, after the schema passed. Memoised per file version (path, mtime, size):
    listing the sets on every rerun reads each sidecar once."""
    _, sidecar_path = _paths(path)
    try:
        st = sidecar_path.stat()
        version = (str(sidecar_path.resolve()), st.st_mtime_ns, st.st_size)
    except OSError:
        version = None
    if version is not None and version in _SIDECARS:
        # Kept as JSON text: a fresh copy for the caller is json.loads in C, ten times copy.deepcopy's speed
        # (an index build reads each sidecar three times)
        return json.loads(_SIDECARS[version])
    sidecar = _read_sidecar(sidecar_path)
    if version is not None:
        if len(_SIDECARS) >= 256:
            del _SIDECARS[next(iter(_SIDECARS))]  # the oldest: a long listing keeps its recent sidecars
        _SIDECARS[version] = json.dumps(sidecar)
    return sidecar


_SIDECARS: dict[tuple[str, int, int], str] = {}


def _read_sidecar(sidecar_path: Path) -> dict[str, Any]:
    if not sidecar_path.is_file():
        raise CheckpointError(
            f"{sidecar_path}: no checkpoint sidecar here (expected <name>.json beside <name>.safetensors)",
            key="err_ckpt_checkpoint_sidecar_expected",
            sidecar_path=sidecar_path,
        )
    if sidecar_path.stat().st_size > MAX_SIDECAR_BYTES:
        raise CheckpointError(
            f"{sidecar_path.name}: sidecar larger than {MAX_SIDECAR_BYTES // 2**20} MiB",
            key="err_ckpt_sidecar_larger_mib",
            sidecar=sidecar_path.name,
            mib=MAX_SIDECAR_BYTES // 2**20,
        )
    try:
        sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"{sidecar_path.name}: not valid JSON ({exc})",
            key="err_sidecar_json",
            name=sidecar_path.name,
            detail=str(exc),
        ) from None
    except RecursionError:  # JSON nested thousands of levels deep
        raise CheckpointError(
            f"{sidecar_path.name}: nested too deeply to read",
            key="err_ckpt_nested_too_deeply",
            sidecar=sidecar_path.name,
        ) from None
    if not isinstance(sidecar, dict) or sidecar.get("format") != FORMAT:
        raise CheckpointError(
            f"{sidecar_path.name}: not a {FORMAT} sidecar",
            key="err_sidecar_format",
            name=sidecar_path.name,
            format=FORMAT,
        )
    version = sidecar.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(
            f"{sidecar_path.name}: missing or invalid format_version",
            key="err_ckpt_missing_invalid_format",
            sidecar=sidecar_path.name,
        )
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{sidecar_path.name}: format version {version} is newer than this program reads ({FORMAT_VERSION}); "
            "update Latent Explorer",
            key="err_ckpt_format_version_newer",
            sidecar=sidecar_path.name,
            version=version,
            format_version=FORMAT_VERSION,
        )
    try:
        check_sidecar(sidecar)  # types, ranges, lengths, depth: before anything uses a field
    except LatentExplorerError as exc:
        raise CheckpointError(
            f"{sidecar_path.name}: {exc}", key="err_ckpt_sidecar_bad", sidecar=sidecar_path.name, error=exc
        ) from None
    metrics = sidecar.get("metrics")
    if isinstance(metrics, dict) and "elbo_kl" in metrics:  # a sidecar from before the β plane: the ELBO's
        metrics.setdefault("rate", metrics.pop("elbo_kl"))  # KL was saved as elbo_kl; it is the rate, one name
    return sidecar


def _config_of(sidecar: dict[str, Any], name: str) -> RunConfig:
    try:
        config = RunConfig(
            data=from_dict(DataConfig, sidecar["data"]),
            model=from_dict(ModelConfig, sidecar["model"]),
            train=from_dict(TrainConfig, sidecar["train"]),
        )
        config.validate()
        if config.model.in_shape is None:
            raise LatentExplorerError("model config has no in_shape", key="err_ckpt_model_config_shape")
    except (KeyError, TypeError, ValueError, LatentExplorerError) as exc:
        raise CheckpointError(
            f"{name}: bad config in sidecar ({exc})", key="err_ckpt_bad_config_sidecar", name=name, error=exc
        ) from None
    return config


def _weights_bytes(weights_path: Path, expected_sha: Any) -> bytes:
    """The weights whose SHA-256 the sidecar records: the file, or the backup an interrupted save left."""
    if not weights_path.is_file():
        raise CheckpointError(
            f"{weights_path}: weights file missing", key="err_weights_missing", name=str(weights_path)
        )
    if weights_path.stat().st_size > MAX_WEIGHTS_BYTES:
        raise CheckpointError(
            f"{weights_path.name}: larger than {MAX_WEIGHTS_BYTES // 2**20} MiB",
            key="err_ckpt_larger_mib",
            weights=weights_path.name,
            mib=MAX_WEIGHTS_BYTES // 2**20,
        )
    raw = weights_path.read_bytes()
    if hashlib.sha256(raw).hexdigest() == expected_sha:
        return raw
    # A save interrupted between its two renames: the sidecar's own weights are kept aside.
    if isinstance(expected_sha, str) and len(expected_sha) == 64:
        backup = backup_path(weights_path, expected_sha)
        if backup.is_file() and backup.stat().st_size <= MAX_WEIGHTS_BYTES:
            raw = backup.read_bytes()
    if hashlib.sha256(raw).hexdigest() != expected_sha:
        raise CheckpointError(
            f"{weights_path.name}: weights do not match their sidecar (SHA-256 differs)",
            key="err_weights_sha",
            name=weights_path.name,
        )
    return raw


def _check_tensors(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], name: str, kind: str) -> None:
    missing, extra = set(expected) - set(state), set(state) - set(expected)
    if missing or extra:
        raise CheckpointError(
            f"{name}: tensors do not match a {kind} of this config "
            f"(missing {sorted(missing)[:3]}, unexpected {sorted(extra)[:3]})",
            key="err_ckpt_tensors_match_config",
            name=name,
            kind=kind,
            missing=sorted(missing)[:3],
            extra=sorted(extra)[:3],
        )
    for key, tensor in state.items():
        if tensor.shape != expected[key].shape:
            raise CheckpointError(
                f"{name}: {key} has shape {tuple(tensor.shape)}, the config needs {tuple(expected[key].shape)}",
                key="err_ckpt_shape_config_needs",
                name=name,
                field=key,
                shape=tuple(tensor.shape),
                wanted=tuple(expected[key].shape),
            )
        if tensor.dtype != torch.float32:
            raise CheckpointError(
                f"{name}: {key} is {tensor.dtype}, expected float32",
                key="err_ckpt_expected_float",
                name=name,
                field=key,
                dtype=tensor.dtype,
            )
        if not torch.isfinite(tensor).all():
            raise CheckpointError(
                f"{name}: {key} holds NaN or infinite values", key="err_ckpt_holds_nan_infinite", name=name, field=key
            )


def load_checkpoint(path: str | Path, device: str = "cpu") -> Checkpoint:
    """Rebuild a model from the registry and check every tensor against its config."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    weights_path, sidecar_path = _paths(path)
    sidecar = read_sidecar(path)
    config = _config_of(sidecar, sidecar_path.name)
    raw = _weights_bytes(weights_path, sidecar.get("weights_sha256"))
    try:
        state = load(raw)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{weights_path.name}: not a readable safetensors file ({exc})",
            key="err_ckpt_readable_safetensors_file",
            weights=weights_path.name,
            error=exc,
        ) from None
    with torch.device("meta"):  # no random init of weights about to be replaced (half a load's time)
        model = build_model(config.model)
    _check_tensors(state, model.state_dict(), weights_path.name, config.model.kind)
    model.load_state_dict(state, assign=True)  # every tensor is in state: _check_tensors matched the keys
    model.eval()
    check_outputs(model, weights_path.name)  # on the CPU, before any page or metric sees the model
    model.to(device)
    return Checkpoint(
        model,
        config,
        weights_path,
        data_stats=sidecar.get("data_stats") or {},
        metrics=sidecar.get("metrics") or {},
        history=sidecar.get("history") or [],
        created=str(sidecar.get("created", "")),
    )


@torch.no_grad()
def check_outputs(model, name: str) -> None:
    """Encode and decode a small fixed batch; refuse a model whose codes or outputs are not finite
    or beyond limits.MAX_ABS_CODE / MAX_ABS_LOGIT. Finite weights can still compute nonsense
    (all 3e38, an encoder scaled by 1e19), and every page and metric downstream assumes they do not."""
    from .conditions import condition_for
    from .limits import CHECK_BATCH, MAX_ABS_CODE, MAX_ABS_LOGIT

    config = model.config
    g = torch.Generator().manual_seed(0)
    x = torch.rand((CHECK_BATCH, *config.in_shape), generator=g)  # (B, C, H, W) in [0, 1]
    x[0], x[1] = 0.0, 1.0
    c = condition_for(config, x, torch.arange(CHECK_BATCH) % (config.n_classes or 1), g)
    prior = torch.randn((CHECK_BATCH, model.latent_dim), generator=g)  # (B, D) from N(0, I)
    if config.kind == "regression":
        outputs = {DECODER_OUTPUTS: model.decoder(c)}
    else:
        posterior = model.encode(x) if c is None else model.encode(x, c)
        codes = torch.cat([posterior.mean, prior])  # the test codes' stand-in, and prior samples
        logits = model.decode_logits(codes) if c is None else model.decode_logits(codes, c.repeat(2, 1))
        outputs = {Phrase("codes", "word_codes"): posterior.mean, DECODER_OUTPUTS: logits}
        if posterior.std is not None:
            outputs[Phrase("posterior standard deviations", "word_posterior_stds")] = posterior.std
    for what, values in outputs.items():
        limit = MAX_ABS_CODE if what != DECODER_OUTPUTS else MAX_ABS_LOGIT
        finite = torch.isfinite(values)
        if not finite.all():
            share = float(finite.float().mean())
            raise CheckpointError(
                f"{name}: the model computes values that are not finite ({what}: {share:.0%} finite on "
                f"{CHECK_BATCH} test inputs); refused",
                key="err_ckpt_model_computes_values",
                name=name,
                what=what,
                share=share,
                check_batch=CHECK_BATCH,
            )
        largest = float(values.abs().max())
        if largest > limit:
            raise CheckpointError(
                f"{name}: the model's {what} reach {largest:.3g} on {CHECK_BATCH} test inputs; at most {limit:g} "
                "are accepted; refused",
                key="err_ckpt_model_reach_test",
                name=name,
                what=what,
                largest=largest,
                check_batch=CHECK_BATCH,
                limit=limit,
            )
