"""The sidecar schema: what checkpoint.read_sidecar accepts, checked once, before anything uses it.

A sidecar is JSON written by save_checkpoint, or by anyone who uploads one. Every field is
checked for its type, range, length and nesting depth, so a page, the listing or `training eval`
never meets a float latent size, a list as a dataset name or a metric that is a string.

    configs      types from the dataclass annotations (int is not bool, floats finite, lists of
                 ints of bounded length), ranges and names from their validate(), the budgets from
                 limits.check_run; unknown keys refused
    data_stats   the known keys typed; everything else a JSON scalar
    metrics      numbers (or null), lists of numbers, nested dicts of the same, two known strings
    history      a list of per-epoch dicts of numbers
    anything     at most MAX_DEPTH levels deep, MAX_ITEMS items in a list or dict, strings MAX_TEXT
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

from .config import DataConfig, ModelConfig, RunConfig, TrainConfig
from .errors import LatentExplorerError
from .limits import check_run

MAX_DEPTH = 6  # levels of nesting below the top object
MAX_ITEMS = 10_000  # entries in any one list or dict (history: one per epoch, at most 10,000)
MAX_TEXT = 4096  # characters in any string
MAX_TUPLE = 64  # entries of a config tuple (hidden sizes, shapes)
TEXT_METRICS = {"prior_source", "prior_bank", "likelihood", "precision", "device"}
CONFIGS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


class SchemaError(LatentExplorerError):
    """A sidecar field of the wrong type, range, length or depth; the message names the field."""


def _fail(where: str, why: str, *, key: str, **values) -> None:
    """why: the English words after the field's name; key's catalogue text is "{where}: " and their words."""
    raise SchemaError(f"{where}: {why}", key=key, where=where, **values)


def _one_of(record: dict, where: str, field: str, choices, default) -> None:
    """record[field] (default when absent) must be one of choices."""
    if record.get(field, default) not in choices:
        _fail(
            f"{where}.{field}",
            f"must be one of {list(choices)}, got {json_repr(record.get(field))}",
            key="err_schema_one_of",
            choices=list(choices),
            got=json_repr(record.get(field)),
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_json(value: Any, where: str, depth: int = 0) -> None:
    """Bounded JSON: depth, item counts, string lengths, finite numbers."""
    if depth > MAX_DEPTH:
        _fail(
            where, f"nested deeper than {MAX_DEPTH} levels", key="err_schema_nested_deeper_levels", max_depth=MAX_DEPTH
        )
    if isinstance(value, str):
        if len(value) > MAX_TEXT or "\x00" in value:
            _fail(
                where,
                f"text longer than {MAX_TEXT} characters or holding a NUL byte",
                key="err_schema_text_longer_characters",
                max_text=MAX_TEXT,
            )
    elif isinstance(value, float) and not math.isfinite(value):
        _fail(where, "not a finite number", key="err_schema_finite_number")
    elif isinstance(value, (list, dict)):
        if len(value) > MAX_ITEMS:
            _fail(
                where,
                f"{len(value):,} entries; at most {MAX_ITEMS:,}",
                key="err_schema_entries_most",
                n=len(value),
                max_items=MAX_ITEMS,
            )
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            check_json(item, f"{where}.{key}", depth + 1)
    elif value is not None and not isinstance(value, (bool, int, float)):
        _fail(where, f"unexpected {type(value).__name__}", key="err_schema_unexpected", type=type(value).__name__)


# --- configs: types from the dataclass annotations -------------------------------------------------


SCALARS = {  # an annotation -> what a JSON value of it looks like (an int is not a bool)
    type(None): lambda v: v is None,
    bool: lambda v: isinstance(v, bool),
    int: lambda v: isinstance(v, int) and not isinstance(v, bool),
    float: _is_number,
    str: lambda v: isinstance(v, str),
}


def _matches(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if hint in SCALARS:
        return SCALARS[hint](value)
    if origin is typing.Literal:
        return value in args
    if origin is tuple:
        if not isinstance(value, list) or len(value) > MAX_TUPLE:
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return len(value) == len(args) and all(_matches(v, a) for v, a in zip(value, args))
    return False


def _describe(hint: Any) -> str:
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")


def check_config(data: Any, cls: type, where: str) -> Any:
    """A config dict: known keys only, each of its annotated type; then the config's validate()."""
    if not isinstance(data, dict):
        _fail(where, f"must be an object, got {type(data).__name__}", key="err_schema_object", type=type(data).__name__)
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        _fail(where, f"unknown field(s) {unknown[:5]}", key="err_schema_unknown_field", unknown=unknown[:5])
    for key, value in data.items():
        if not _matches(value, hints[key]):
            _fail(
                f"{where}.{key}",
                f"must be {_describe(hints[key])}, got {json_repr(value)}",
                key="err_schema_wrong_type",
                wanted=_describe(hints[key]),
                got=json_repr(value),
            )
    config = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
    try:
        config.validate()
    except LatentExplorerError as exc:
        _fail(where, str(exc), key="err_schema_config", error=exc)
    return config


def json_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- the free-form parts --------------------------------------------------------------------------------


def _check_numbers(value: Any, where: str) -> None:
    """A metric: a number or null, a list of numbers, or an object of metrics."""
    if value is None or _is_number(value):
        return
    if isinstance(value, list) and all(v is None or _is_number(v) for v in value):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if key in TEXT_METRICS:
                _check_text(item, f"{where}.{key}")
            else:
                _check_numbers(item, f"{where}.{key}")
        return
    _fail(
        where,
        f"must be a number, a list of numbers or an object of them; got {json_repr(value)}",
        key="err_schema_number_list_numbers",
        got=json_repr(value),
    )


def _check_text(value: Any, where: str) -> None:
    if not isinstance(value, str) or len(value) > 200:
        _fail(
            where,
            f"must be text of at most 200 characters, got {json_repr(value)}",
            key="err_schema_text_most_characters",
            got=json_repr(value),
        )


DATA_STATS = {  # known data_stats keys -> check
    "name": lambda v: isinstance(v, str) and len(v) <= 200,
    "image_shape": lambda v: _matches(v, tuple[int, int, int]),
    "n_train": lambda v: _matches(v, int) and v >= 0,
    "n_test": lambda v: _matches(v, int) and v >= 0,
    "pixel_mean": _is_number,
    "class_names": lambda v: (
        v is None or (isinstance(v, list) and all(isinstance(c, str) and len(c) <= 200 for c in v))
    ),
}


def check_data_stats(stats: Any, where: str = "data_stats") -> None:
    if not isinstance(stats, dict):
        _fail(
            where, f"must be an object, got {type(stats).__name__}", key="err_schema_object", type=type(stats).__name__
        )
    for key, value in stats.items():
        ok = DATA_STATS[key](value) if key in DATA_STATS else (value is None or isinstance(value, (str, int, float)))
        if not ok:
            _fail(
                f"{where}.{key}",
                f"unexpected value {json_repr(value)}",
                key="err_schema_unexpected_value",
                got=json_repr(value),
            )


def check_history(history: Any, where: str = "history") -> None:
    if not isinstance(history, list):
        _fail(
            where, f"must be a list, got {type(history).__name__}", key="err_schema_list", type=type(history).__name__
        )
    for i, row in enumerate(history):
        if not isinstance(row, dict) or not all(v is None or _is_number(v) for v in row.values()):
            _fail(f"{where}[{i}]", "must be an object of numbers", key="err_schema_object_numbers")


def _check_run(sidecar: dict[str, Any]) -> None:
    """The three configs: each typed and valid, the model's kind and shape given, within the budgets."""
    configs = {}
    for key, cls in CONFIGS.items():
        if key not in sidecar:
            _fail(key, "missing", key="err_schema_missing")
        configs[key] = check_config(sidecar[key], cls, key)
    if sidecar["model"].get("kind", sidecar["kind"]) != sidecar["kind"]:
        _fail(
            "kind",
            f"{sidecar['kind']!r} but the model config says {sidecar['model'].get('kind')!r}",
            key="err_schema_model_config_says",
            kind=repr(sidecar["kind"]),
            model_kind=repr(sidecar["model"].get("kind")),
        )
    if sidecar["model"].get("in_shape") is None:
        _fail("model.in_shape", "missing: a saved model knows its image shape", key="err_schema_missing_saved_model")
    try:
        check_run(RunConfig(**configs))  # the data and the model within the budgets, before either is built
    except LatentExplorerError as exc:
        _fail("config", str(exc), key="err_schema_config", error=exc)


def check_sidecar(sidecar: dict[str, Any]) -> None:
    """The whole sidecar; SchemaError names the first field that is wrong."""
    check_json(sidecar, "sidecar")
    for key in ("kind", "weights_sha256"):
        if not isinstance(sidecar.get(key), str):
            _fail(
                key,
                f"must be text, got {json_repr(sidecar.get(key))}",
                key="err_schema_text2",
                got=json_repr(sidecar.get(key)),
            )
    _check_run(sidecar)
    check_data_stats(sidecar.get("data_stats", {}))
    metrics = sidecar.get("metrics", {})
    if not isinstance(metrics, dict):
        _fail(
            "metrics",
            f"must be an object, got {type(metrics).__name__}",
            key="err_schema_object",
            type=type(metrics).__name__,
        )
    _check_numbers(metrics, "metrics")
    check_history(sidecar.get("history", []))
    versions = sidecar.get("versions", {})
    if not isinstance(versions, dict) or not all(isinstance(v, str) for v in versions.values()):
        _fail("versions", "must be an object of text", key="err_schema_object_text")
    if not isinstance(sidecar.get("created", ""), str):
        _fail("created", "must be text", key="err_schema_text")


# --- ONNX manifests (training/onnxset.py): the same checks, for a set of models from elsewhere -------

ONNX_ENCODER_OUTPUTS = {"z": ("z",), "mu_logvar": ("mu", "logvar")}  # manifest value -> graph output names
ONNX_DECODER_OUTPUTS = ("logits", "probabilities", "mean")  # a graph output of that name, (B, C, H, W)
ONNX_MEMBERS = ("ae", "vae")
MANIFEST_KEYS = {"format", "format_version", "latent_dim", "image_shape", "value_range", "data", "models"}
MANIFEST_OPTIONAL = {"data_stats", "source", "created"}
MEMBER_KEYS = {"encoder", "decoder", "likelihood", "gaussian_sigma", "sha256", "metrics", "names", "encoder_order"}
ONNX_ENCODER_ORDERS = ("logvar, mu (by reconstruction error)",)  # what an import found out (onnxio._reads_swapped)
ONNX_INPUTS = {"encoder": "x", "decoder": "z"}  # each part's one input, by the name the manifest gives it


def onnx_roles(member: dict, part: str) -> tuple[str, ...]:
    """What a member's part reads and gives, by the manifest's names: ("x", "mu", "logvar"), ("z", "logits")."""
    outputs = ONNX_ENCODER_OUTPUTS[member["encoder"]] if part == "encoder" else (member["decoder"],)
    return (ONNX_INPUTS[part], *outputs)


def _check_names(member: dict, where: str) -> None:
    """names: {part: {role: the graph's own name}}, for graphs exported with other input/output names."""
    names = member.get("names", {})
    if not isinstance(names, dict):
        _fail(f"{where}.names", "must be an object", key="err_schema_object_plain")
    for part, mapping in names.items():
        if part not in ONNX_INPUTS or not member.get(part):
            _fail(
                f"{where}.names",
                f"names a part the member does not have: {json_repr(part)}",
                key="err_schema_names_part_member",
                got=json_repr(part),
            )
        roles = onnx_roles(member, part)
        if (
            not isinstance(mapping, dict)
            or set(mapping) != set(roles)
            or not all(isinstance(v, str) and 0 < len(v) <= 200 for v in mapping.values())
            or len(set(mapping.values())) != len(mapping)
        ):
            _fail(
                f"{where}.names.{part}",
                f"must map each of {list(roles)} to a distinct graph name (text)",
                key="err_schema_map_each_distinct",
                choices=list(roles),
            )


def _check_member(member: Any, where: str) -> None:
    from .losses import LIKELIHOODS

    if not isinstance(member, dict):
        _fail(
            where,
            f"must be an object, got {type(member).__name__}",
            key="err_schema_object",
            type=type(member).__name__,
        )
    unknown = sorted(set(member) - MEMBER_KEYS)
    if unknown:
        _fail(where, f"unknown field(s) {unknown[:5]}", key="err_schema_unknown_field", unknown=unknown[:5])
    encoder, decoder = member.get("encoder"), member.get("decoder")
    if encoder is not None and encoder not in ONNX_ENCODER_OUTPUTS:
        _fail(
            f"{where}.encoder",
            f"must be one of {list(ONNX_ENCODER_OUTPUTS)} or null, got {json_repr(encoder)}",
            key="err_schema_null",
            choices=list(ONNX_ENCODER_OUTPUTS),
            got=json_repr(encoder),
        )
    if decoder is not None and decoder not in ONNX_DECODER_OUTPUTS:
        _fail(
            f"{where}.decoder",
            f"must be one of {list(ONNX_DECODER_OUTPUTS)} or null, got {json_repr(decoder)}",
            key="err_schema_null",
            choices=list(ONNX_DECODER_OUTPUTS),
            got=json_repr(decoder),
        )
    if encoder is None and decoder is None:
        _fail(where, "has neither an encoder nor a decoder", key="err_schema_neither_encoder_nor")
    _one_of(member, where, "encoder_order", ONNX_ENCODER_ORDERS, ONNX_ENCODER_ORDERS[0])
    _one_of(member, where, "likelihood", LIKELIHOODS, "bernoulli")
    sigma = member.get("gaussian_sigma", 0.1)
    if not _is_number(sigma) or not 0 < sigma <= 100:
        _fail(
            f"{where}.gaussian_sigma",
            f"must be a number in (0, 100], got {json_repr(sigma)}",
            key="err_schema_number",
            got=json_repr(sigma),
        )
    sha = member.get("sha256", {})
    if not isinstance(sha, dict) or not all(
        k in ("encoder", "decoder") and isinstance(v, str) and len(v) == 64 for k, v in sha.items()
    ):
        _fail(
            f"{where}.sha256",
            "must map encoder/decoder to 64-character hex digests",
            key="err_schema_map_encoder_decoder",
        )
    _check_numbers(member.get("metrics", {}), f"{where}.metrics")
    _check_names(member, where)


def _check_geometry(manifest: dict) -> None:
    """latent_dim, image_shape and value_range."""
    from .config import MAX_LATENT_DIM, MAX_SIDE, MIN_SIDE

    dim = manifest["latent_dim"]
    if not _matches(dim, int) or not 1 <= dim <= MAX_LATENT_DIM:
        _fail(
            "latent_dim",
            f"must be an integer 1 to {MAX_LATENT_DIM}, got {json_repr(dim)}",
            key="err_schema_integer",
            max_latent_dim=MAX_LATENT_DIM,
            got=json_repr(dim),
        )
    shape = manifest["image_shape"]
    if not _matches(shape, tuple[int, int, int]) or shape[0] not in (1, 3):
        _fail(
            "image_shape",
            f"must be [C, H, W] with C 1 or 3, got {json_repr(shape)}",
            key="err_schema_shape_chw",
            got=json_repr(shape),
        )
    if not all(MIN_SIDE <= side <= MAX_SIDE for side in shape[1:]):
        _fail(
            "image_shape",
            f"sides must be {MIN_SIDE} to {MAX_SIDE} pixels, got {json_repr(shape)}",
            key="err_schema_sides_pixels",
            min_side=MIN_SIDE,
            max_side=MAX_SIDE,
            got=json_repr(shape),
        )
    lo_hi = manifest["value_range"]
    if not (isinstance(lo_hi, list) and len(lo_hi) == 2 and all(_is_number(v) for v in lo_hi) and lo_hi[0] < lo_hi[1]):
        _fail(
            "value_range",
            f"must be [low, high] with low < high, got {json_repr(lo_hi)}",
            key="err_schema_low_high_low",
            got=json_repr(lo_hi),
        )


def check_manifest(manifest: Any) -> None:
    """An ONNX set's manifest (onnx.json); SchemaError names the first field that is wrong."""
    if not isinstance(manifest, dict):
        _fail(
            "manifest",
            f"must be an object, got {type(manifest).__name__}",
            key="err_schema_object",
            type=type(manifest).__name__,
        )
    check_json(manifest, "manifest")
    missing, unknown = MANIFEST_KEYS - set(manifest), set(manifest) - MANIFEST_KEYS - MANIFEST_OPTIONAL
    if missing or unknown:
        _fail(
            "manifest",
            f"missing {sorted(missing)[:5]}, unknown {sorted(unknown)[:5]}",
            key="err_schema_missing_unknown",
            missing=sorted(missing)[:5],
            unknown=sorted(unknown)[:5],
        )
    _check_geometry(manifest)
    lo_hi = manifest["value_range"]
    check_config(manifest["data"], DataConfig, "data")
    models = manifest["models"]
    if not isinstance(models, dict) or not models or set(models) - set(ONNX_MEMBERS):
        _fail(
            "models",
            f"must map one or both of {list(ONNX_MEMBERS)} to a model, got {json_repr(models)}",
            key="err_schema_map_both_model",
            choices=list(ONNX_MEMBERS),
            got=json_repr(models),
        )
    for kind, member in models.items():
        _check_member(member, f"models.{kind}")
        if member.get("decoder") in ("logits", "probabilities") and lo_hi != [0, 1]:
            _fail(
                f"models.{kind}.decoder",
                f"{member['decoder']} are for images in [0, 1]; value_range is {lo_hi}",
                key="err_schema_images_value_range",
                decoder=member["decoder"],
                lo_hi=lo_hi,
            )
    vae = models.get("vae")
    if vae is not None and vae.get("encoder") == "z":
        _fail(
            "models.vae.encoder",
            "a VAE's encoder gives mu and logvar (a Gaussian); declare the model as ae",
            key="err_schema_vae_encoder_gives",
        )
    check_data_stats(manifest.get("data_stats", {}))
    for key in ("source", "created"):
        if not isinstance(manifest.get(key, ""), str):
            _fail(key, "must be text", key="err_schema_text")
