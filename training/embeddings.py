"""Embeddings only: codes a user brings (N x d, what the TensorFlow Embedding Projector takes), with
labels and optionally the N images, as a set the app's latent map, projections and nearest neighbours read.

Every file is hostile until read here, the one place that validates it (read_embeddings): its size
capped before it is read, an .npy's header checked before its array is allocated (never unpickled), a
.csv / .tsv parsed line by line within the row and column bounds, codes finite and bounded, N the
same in every file, labels integers or short printable strings. A set folder under runs/ holds

    embeddings.json   the manifest: N, d, class names, image shape, SHA-256 of each array
    codes.npy         (N, d) float32
    labels.npy        (N,) int64 indices into the manifest's class names (when labels were given)
    images.npy        (N, C, H, W) float32 in [0, 1] (when images were given)

and is read back through the same checks (anyone can write into runs/).
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import limits
from .checkpoint import Checkpoint, atomic_write_bytes
from .config import DataConfig, ModelConfig, RunConfig, TrainConfig
from .errors import CheckpointError, DatasetError, LatentExplorerError
from .models import Posterior

MANIFEST = "embeddings.json"
FORMAT = "latent-explorer-embeddings"
FORMAT_VERSION = 1
DATA_NAME = "embeddings"  # DataConfig.name of such a set: its data are the set's own files
FILES = {"codes": "codes.npy", "labels": "labels.npy", "images": "images.npy"}
MEMBER = "ae"  # one model slot: a point code per item, no spread (pages label it as embeddings)
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")


class EmbeddingsError(DatasetError):
    """A file of codes, labels or images that is refused; the message says why."""


@dataclass
class Embeddings:
    codes: np.ndarray  # (N, d) float32
    y: np.ndarray | None  # (N,) int64 indices into class_names
    class_names: list[str] | None
    images: np.ndarray | None  # (N, C, H, W) float32 in [0, 1]


# --- reading what a user gives ---------------------------------------------------------------------


def _capped(raw: bytes, name: str) -> bytes:
    if len(raw) > limits.MAX_EMBEDDING_BYTES:
        raise _too_big(name, len(raw))
    return raw


def read_file(path: str | Path) -> tuple[str, bytes]:
    """(file name, bytes) of a file given on the command line, its size checked before it is read."""
    path = Path(limits.check_path_text(str(path)))
    try:
        size = path.stat().st_size
        if size > limits.MAX_EMBEDDING_BYTES:
            raise _too_big(path.name, size)
        return path.name, path.read_bytes()
    except OSError as exc:
        raise EmbeddingsError(
            f"{path.name}: cannot read it ({exc.strerror or exc})",
            key="err_emb_cannot_read",
            name=path.name,
            detail=exc.strerror or exc,
        ) from None


def _too_big(name: str, size: int) -> EmbeddingsError:
    cap = limits.MAX_EMBEDDING_BYTES // 2**20
    return EmbeddingsError(
        f"{name}: {size / 2**20:,.0f} MiB; a file of embeddings is at most {cap} MiB",
        key="err_emb_file_too_big",
        name=name,
        mib=size / 2**20,
        cap=cap,
    )


def _npy_header(raw: bytes, name: str) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran order, dtype, where the data begin) from an .npy's header; nothing allocated."""
    from numpy.lib import format as npy

    f = io.BytesIO(raw)
    try:
        version = npy.read_magic(f)
        read = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}.get(version)
        if read is None:
            raise ValueError(f"version {version}")
        shape, fortran, dtype = read(f)
    except Exception as exc:  # numpy raises ValueError, or others on a truncated header
        raise EmbeddingsError(
            f"{name}: not a readable .npy file ({type(exc).__name__})",
            key="err_emb_not_npy",
            name=name,
            type=type(exc).__name__,
        ) from None
    return tuple(int(s) for s in shape), fortran, dtype, f.tell()


def _npy(raw: bytes, name: str, max_values: int) -> np.ndarray:
    """An .npy's array once its header passed: no objects (no pickle), at most max_values values, and
    exactly as many bytes as the header says (a header claiming more is refused before any allocation)."""
    shape, fortran, dtype, offset = _npy_header(raw, name)
    if dtype.hasobject:
        raise EmbeddingsError(
            f"{name}: holds Python objects; refused (no pickles): save numbers or strings",
            key="err_emb_pickle",
            name=name,
        )
    count = int(np.prod(shape, dtype=np.int64))
    if count > max_values or count * dtype.itemsize != len(raw) - offset:
        raise EmbeddingsError(
            f"{name}: its header says {shape} of {dtype} ({count:,} values); the file does not hold that, "
            f"or it is more than {max_values:,} values",
            key="err_emb_npy_header",
            name=name,
            shape=shape,
            dtype=str(dtype),
            count=count,
            cap=max_values,
        )
    array = np.frombuffer(raw, dtype=dtype, count=count, offset=offset)
    return array.reshape(shape, order="F" if fortran else "C")


def _text_lines(raw: bytes, name: str, max_rows: int) -> tuple[list[str], str]:
    """Non-empty lines of a .csv / .tsv / .txt and their separator (a tab if the first line has one, else a
    comma); refused past max_rows."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise EmbeddingsError(f"{name}: not UTF-8 text", key="err_emb_not_utf8", name=name) from None
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > max_rows:
        raise EmbeddingsError(
            f"{name}: {len(lines):,} rows; at most {max_rows - 1:,} here",
            key="err_emb_too_many_rows",
            name=name,
            n=len(lines),
            cap=max_rows - 1,
        )
    return lines, "\t" if lines and "\t" in lines[0] else ","


def _text_rows(raw: bytes, name: str, max_rows: int) -> list[list[str]]:
    lines, sep = _text_lines(raw, name, max_rows)
    return [[field.strip() for field in line.split(sep)] for line in lines]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _dims_refused(name: str, d: int) -> EmbeddingsError:
    low, high = limits.EMBEDDING_DIMS
    return EmbeddingsError(
        f"{name}: {d:,} columns; codes of {low} to {high} numbers here",
        key="err_emb_dims",
        name=name,
        d=d,
        low=low,
        high=high,
    )


def _text_codes(raw: bytes, name: str) -> np.ndarray:
    """A .csv / .tsv of numbers, one code a row (an optional header line of names), within the bounds
    before a field is converted, and converted a row at a time into the array (no table of strings: a
    50 MiB file of them held several times its size)."""
    lines, sep = _text_lines(raw, name, limits.EMBEDDING_ROWS[1] + 1)
    if lines and not all(_is_number(v) for v in lines[0].split(sep)):
        lines = lines[1:]  # a header of column names
    widths = {line.count(sep) + 1 for line in lines}
    if len(widths) > 1:
        raise EmbeddingsError(
            f"{name}: rows have {sorted(widths)[:4]} fields; every row holds one code of d numbers",
            key="err_emb_ragged",
            name=name,
            widths=sorted(widths)[:4],
        )
    if widths and max(widths) > limits.EMBEDDING_DIMS[1]:
        raise _dims_refused(name, max(widths))
    codes = np.empty((len(lines), max(widths, default=0)))
    try:
        for i, line in enumerate(lines):
            codes[i] = [float(v) for v in line.split(sep)]
    except ValueError as exc:
        raise EmbeddingsError(
            f"{name}: not a table of numbers ({str(exc)[:80]})",
            key="err_emb_not_numbers",
            name=name,
            detail=str(exc)[:80],
        ) from None
    return codes


def read_codes(name: str, raw: bytes) -> np.ndarray:
    """(N, d) float32 codes from an .npy or a .csv / .tsv (an optional header line of names)."""
    low, high = limits.EMBEDDING_ROWS
    raw = _capped(raw, name)
    if name.lower().endswith(".npy"):
        codes = _npy(raw, name, high * limits.EMBEDDING_DIMS[1])
        if codes.dtype.kind not in "iuf":
            raise EmbeddingsError(
                f"{name}: codes must be numbers, got dtype {codes.dtype}",
                key="err_emb_codes_numbers",
                name=name,
                dtype=str(codes.dtype),
            )
    elif name.lower().endswith(TEXT_SUFFIXES):
        codes = _text_codes(raw, name)
    else:
        raise EmbeddingsError(f"{name}: codes come as .npy, .csv or .tsv", key="err_emb_codes_format", name=name)
    if codes.ndim != 2:
        raise EmbeddingsError(
            f"{name}: codes must be a table N x d, got shape {codes.shape}",
            key="err_emb_codes_shape",
            name=name,
            shape=codes.shape,
        )
    n, d = codes.shape
    if not low <= n <= high:
        raise EmbeddingsError(
            f"{name}: {n:,} codes; {low} to {high:,} here", key="err_emb_rows", name=name, n=n, low=low, high=high
        )
    if not limits.EMBEDDING_DIMS[0] <= d <= limits.EMBEDDING_DIMS[1]:
        raise _dims_refused(name, d)
    codes = codes.astype(np.float64)
    if not np.isfinite(codes).all():
        raise EmbeddingsError(f"{name}: codes hold NaN or infinite values", key="err_emb_not_finite", name=name)
    largest = float(np.abs(codes).max())
    if largest > limits.MAX_ABS_CODE:
        raise EmbeddingsError(
            f"{name}: codes reach {largest:.3g} (at most {limits.MAX_ABS_CODE:g})",
            key="err_emb_too_large",
            name=name,
            largest=largest,
            cap=limits.MAX_ABS_CODE,
        )
    return np.ascontiguousarray(codes, dtype=np.float32)


def _check_label(text: str, name: str) -> str:
    if len(text) > limits.MAX_LABEL_CHARS or not text.isprintable() or "<" in text or ">" in text:
        raise EmbeddingsError(
            f"{name}: label {text[:20]!r} is not a short printable string (at most "
            f"{limits.MAX_LABEL_CHARS} characters, no < or >)",
            key="err_emb_label_text",
            name=name,
            label=repr(text[:20]),
            cap=limits.MAX_LABEL_CHARS,
        )
    return text


def read_labels(name: str, raw: bytes, n: int) -> tuple[np.ndarray, list[str]]:
    """(N,) int64 class indices and the class names (the labels' distinct values, integers in numeric
    order, strings in order of first appearance) from an .npy of integers or strings, or a text file of
    one label a line (a header line allowed)."""
    raw = _capped(raw, name)
    if name.lower().endswith(".npy"):
        array = _npy(raw, name, limits.EMBEDDING_ROWS[1])
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1 or array.dtype.kind not in "iuU":
            raise EmbeddingsError(
                f"{name}: labels must be one integer or string per code, got {array.dtype} of shape {array.shape}",
                key="err_emb_labels_kind",
                name=name,
                dtype=str(array.dtype),
                shape=array.shape,
            )
        values = array.tolist()
    elif name.lower().endswith(TEXT_SUFFIXES):
        rows = _text_rows(raw, name, limits.EMBEDDING_ROWS[1] + 1)
        if len(rows) == n + 1:
            rows = rows[1:]  # a header line
        values = [row[0] for row in rows]
        if all(v.lstrip("-").isdigit() and len(v) < 19 for v in values):
            values = [int(v) for v in values]
    else:
        raise EmbeddingsError(
            f"{name}: labels come as .npy, .csv, .tsv or .txt (one a line)", key="err_emb_labels_format", name=name
        )
    if len(values) != n:
        raise EmbeddingsError(
            f"{name}: {len(values):,} labels for {n:,} codes; give one a code",
            key="err_emb_label_count",
            name=name,
            n=len(values),
            codes=n,
        )
    distinct = sorted(set(values)) if all(isinstance(v, int) for v in values) else list(dict.fromkeys(values))
    if len(distinct) > limits.MAX_CLASSES:
        raise EmbeddingsError(
            f"{name}: {len(distinct):,} distinct labels; at most {limits.MAX_CLASSES} here",
            key="err_emb_classes",
            name=name,
            n=len(distinct),
            cap=limits.MAX_CLASSES,
        )
    names = [_check_label(str(v), name) for v in distinct]
    index = {v: i for i, v in enumerate(distinct)}
    return np.array([index[v] for v in values], dtype=np.int64), names


def read_images(name: str, raw: bytes, n: int) -> np.ndarray:
    """(N, C, H, W) float32 in [0, 1] from an .npy of uint8 or [0, 1] values, N the codes' count."""
    from .datasets import images_to_array

    raw = _capped(raw, name)
    if not name.lower().endswith(".npy"):
        raise EmbeddingsError(f"{name}: images come as an .npy array", key="err_emb_images_format", name=name)
    array = _npy(raw, name, limits.MAX_PIXEL_VALUES)
    if array.ndim and array.shape[0] != n:
        raise EmbeddingsError(
            f"{name}: {array.shape[0]:,} images for {n:,} codes; give one a code",
            key="err_emb_image_count",
            name=name,
            n=array.shape[0],
            codes=n,
        )
    return np.array(images_to_array(array, name), dtype=np.float32)  # a writable copy, for torch


def read_embeddings(
    codes: tuple[str, bytes], labels: tuple[str, bytes] | None = None, images: tuple[str, bytes] | None = None
) -> Embeddings:
    """The one place a user's embeddings are validated: files as (name, bytes)."""
    z = read_codes(*codes)
    y, names = read_labels(*labels, len(z)) if labels is not None else (None, None)
    x = read_images(*images, len(z)) if images is not None else None
    return Embeddings(z, y, names, x)


def sort_files(files: dict[str, bytes]) -> dict[str, tuple[str, bytes]]:
    """Uploaded files by role (codes, labels, images): a lone file is the codes; else by name first
    (label / metadata, image), then by content: a text table of one column or a 1-D array is labels, a
    3-D or 4-D array images."""
    roles: dict[str, tuple[str, bytes]] = {}
    for file_name, raw in sorted(files.items()):
        stem = file_name.lower()
        if len(files) == 1:  # a lone file is the codes (read_codes says what is wrong with it)
            role = "codes"
        elif "label" in stem or "metadata" in stem:
            role = "labels"
        elif "image" in stem:
            role = "images"
        elif stem.endswith(".npy"):
            try:
                shape = _npy_header(raw[:4096], file_name)[0]
            except EmbeddingsError:
                shape = (0, 0)  # read_codes says why it is not an .npy
            role = {1: "labels", 2: "codes"}.get(len(shape), "images")
        else:
            first = raw[:4096].decode("utf-8", "replace").splitlines()[:1]
            role = "codes" if first and ("," in first[0] or "\t" in first[0]) else "labels"
        if role in roles:
            raise EmbeddingsError(
                f"{file_name}: a second file of {role} ({roles[role][0]} is the first); give one of each",
                key="err_emb_second_file",
                name=file_name,
                role=role,
                first=roles[role][0],
            )
        roles[role] = (file_name, raw)
    if "codes" not in roles:
        raise EmbeddingsError(
            "no file of codes (an N x d table as .npy, .csv or .tsv) among the files", key="err_emb_no_codes"
        )
    return roles


# --- the set on disk ---------------------------------------------------------------------------------


def _npy_bytes(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


def write_embeddings(folder: Path, emb: Embeddings, source: str) -> dict[str, Any]:
    """The set's arrays and manifest into folder (a staging folder: the caller renames it into place)."""
    arrays = {"codes": emb.codes, "labels": emb.y, "images": emb.images}
    digests = {}
    for role, array in arrays.items():
        if array is not None:
            raw = _npy_bytes(array)
            atomic_write_bytes(folder / FILES[role], raw)
            digests[role] = hashlib.sha256(raw).hexdigest()
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "n": int(emb.codes.shape[0]),
        "latent_dim": int(emb.codes.shape[1]),
        "class_names": emb.class_names,
        "image_shape": None if emb.images is None else list(emb.images.shape[1:]),
        "sha256": digests,
        "source": source,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    atomic_write_bytes(folder / MANIFEST, json.dumps(manifest, indent=1).encode())
    return manifest


def _bad_manifest(what: str, manifest: str = MANIFEST) -> CheckpointError:
    return CheckpointError(f"{manifest}: {what}", key="err_emb_manifest", manifest=manifest, what=what)


def _manifest_json(path: Path) -> Any:
    try:
        if path.stat().st_size > 1_000_000:
            raise _bad_manifest("larger than 1 MB")
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _bad_manifest(f"cannot read it ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _bad_manifest(f"not valid JSON ({type(exc).__name__})") from None


def read_manifest(folder: Path) -> dict[str, Any]:
    """An embeddings set's manifest, checked field by field; CheckpointError names what is wrong."""
    bad, manifest = _bad_manifest, _manifest_json(folder / MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise bad(f"not a {FORMAT} manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise bad(f"format version {manifest.get('format_version')!r}; this program reads {FORMAT_VERSION}")
    n, d = manifest.get("n"), manifest.get("latent_dim")
    if not isinstance(n, int) or not limits.EMBEDDING_ROWS[0] <= n <= limits.EMBEDDING_ROWS[1]:
        raise bad(f"n must be {limits.EMBEDDING_ROWS[0]} to {limits.EMBEDDING_ROWS[1]}")
    if not isinstance(d, int) or not limits.EMBEDDING_DIMS[0] <= d <= limits.EMBEDDING_DIMS[1]:
        raise bad(f"latent_dim must be {limits.EMBEDDING_DIMS[0]} to {limits.EMBEDDING_DIMS[1]}")
    names = manifest.get("class_names")
    if names is not None and (
        not isinstance(names, list)
        or len(names) > limits.MAX_CLASSES
        or not all(isinstance(s, str) and s == _check_label(s, MANIFEST) for s in names)
    ):
        raise bad("class_names must be a list of short strings")
    digests = manifest.get("sha256")
    if not isinstance(digests, dict) or "codes" not in digests or set(digests) - set(FILES):
        raise bad("sha256 must name codes and optionally labels and images")
    if ("labels" in digests) != (names is not None):
        raise bad("class_names go with labels")
    for key in ("source", "created"):
        if not isinstance(manifest.get(key, ""), str):
            raise bad(f"{key} must be text")
    return manifest


def load_arrays(folder: Path) -> tuple[dict[str, Any], Embeddings]:
    """The set's manifest and arrays, every file capped, matched to its digest and checked again."""
    manifest = read_manifest(folder)
    raw = {}
    for role, digest in manifest["sha256"].items():
        name, raw[role] = read_file(folder / FILES[role])
        if hashlib.sha256(raw[role]).hexdigest() != digest:
            raise CheckpointError(
                f"{name}: does not match its manifest (SHA-256 differs)",
                key="err_onnx_does_match_manifest",
                path=name,
            )
    codes = read_codes(FILES["codes"], raw["codes"])
    y = images = None
    if "labels" in raw:
        y = _npy(raw["labels"], FILES["labels"], len(codes))
        if y.shape != (len(codes),) or y.dtype != np.int64 or y.min() < 0 or y.max() >= len(manifest["class_names"]):
            raise _bad_manifest(f"not {len(codes)} indices into class_names", FILES["labels"])
    if "images" in raw:
        images = read_images(FILES["images"], raw["images"], len(codes))
    if codes.shape != (manifest["n"], manifest["latent_dim"]):
        raise _bad_manifest(f"says {manifest['n']} x {manifest['latent_dim']} codes; the file holds {codes.shape}")
    return manifest, Embeddings(codes, y, manifest["class_names"], images)


class EmbeddingsModel(nn.Module):
    """Codes that were given, not computed: the latent map and projections read `table`; there is no
    encoder for other images and no decoder (pages that decode say they need one)."""

    differentiable = False
    is_variational = False
    can_encode = True  # it has codes (View.encoding); describe_members says they are embeddings
    can_decode = False
    embeddings = True

    def __init__(self, config: ModelConfig, codes: np.ndarray, has_images: bool, content_id: str):
        super().__init__()
        self.config, self.latent_dim = config, config.latent_dim
        self.table = codes  # (N, d): explorer.latents.split_codes reads it for either split
        self.has_images, self.content_id = has_images, content_id
        self.decoder = nn.Sequential()

    def encode(self, x: torch.Tensor) -> Posterior:
        raise LatentExplorerError(
            "an embeddings set has the codes it was given and no encoder for other images",
            key="err_emb_no_encoder",
        )

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise LatentExplorerError("an embeddings set has no decoder", key="err_emb_no_decoder")


def load_members(folder: str | Path) -> dict[str, Checkpoint]:
    folder = Path(folder)
    manifest, emb = load_arrays(folder)
    shape = tuple(manifest["image_shape"] or (1, 1, 1))
    config = ModelConfig(kind=MEMBER, family=DATA_NAME, latent_dim=manifest["latent_dim"], hidden=(), in_shape=shape)
    data = DataConfig(name=DATA_NAME, path=str(folder))
    run = RunConfig(data=data, model=config, train=TrainConfig())
    model = EmbeddingsModel(config, emb.codes, emb.images is not None, manifest["sha256"]["codes"][:16])
    stats = {"name": DATA_NAME, "image_shape": list(shape), "n_train": len(emb.codes), "n_test": len(emb.codes)}
    return {MEMBER: Checkpoint(model, run, folder / FILES["codes"], data_stats=stats, created=manifest["created"])}


def dataset(folder: Path):
    """The set's items as both splits (there is no training here): images (or 1x1 blanks), labels."""
    from .datasets import Dataset, Split

    manifest, emb = load_arrays(folder)
    n = len(emb.codes)
    x = torch.from_numpy(emb.images) if emb.images is not None else torch.zeros(n, 1, 1, 1)
    split = Split(x, None if emb.y is None else torch.from_numpy(emb.y.copy()))
    return Dataset(DATA_NAME, "embeddings", split, split, emb.class_names)
