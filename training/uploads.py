"""A user's upload (a zip of images or an .npz) checked and turned into a dataset folder.

    <uploads>/<id>/data.npz    x: (N, C, H, W) uint8 or float32 in [0, 1], y: optional labels
    <uploads>/<id>/meta.json   the original file name, counts, image shape, class names

The folder is written under a hidden name and renamed when complete: a failed import leaves
nothing behind. Zip entries are read in memory; nothing from the zip is written as a file.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from . import limits, readers
from .datasets import IMAGE_SUFFIXES, check_images
from .errors import DatasetError, LatentExplorerError, Phrase
from .store import held_free_folder, safe_name, staged_dir


@dataclass
class Imported:
    path: Path  # the dataset folder
    data_file: Path  # its data.npz
    n_images: int
    image_shape: tuple[int, int, int]
    class_names: list[str] | None


def _check_member(info: zipfile.ZipInfo) -> None:
    name = info.filename
    path = PurePosixPath(name)
    if name.startswith("/") or "\\" in name or any(part == ".." for part in path.parts) or ":" in path.parts[0]:
        raise DatasetError(
            f"zip entry {name!r} points outside the archive; refused", key="err_zip_outside", entry=repr(name)
        )
    mode = (info.external_attr >> 16) & 0o170000
    if mode == 0o120000:
        raise DatasetError(f"zip entry {name!r} is a symbolic link; refused", key="err_zip_link", entry=repr(name))


def _image_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The archive's image entries, sorted, after every entry is checked and the limits applied."""
    members = [m for m in archive.infolist() if not m.is_dir()]
    for m in members:
        _check_member(m)
    members = [
        m
        for m in members
        if not PurePosixPath(m.filename).name.startswith(".") and not m.filename.startswith("__MACOSX/")
    ]
    if not members:
        raise DatasetError("the zip holds no files", key="err_zip_empty")
    if len(members) > limits.MAX_IMAGES:
        raise DatasetError(
            f"the zip holds {len(members):,} files; the limit is {limits.MAX_IMAGES:,}",
            key="err_upload_zip_holds_files",
            n=len(members),
            max_images=limits.MAX_IMAGES,
        )
    total = sum(m.file_size for m in members)
    if total > limits.MAX_UNPACKED_BYTES:
        raise DatasetError(
            f"the zip unpacks to {total / 2**20:.0f} MiB; the limit is {limits.MAX_UNPACKED_BYTES // 2**20} MiB",
            key="err_upload_zip_unpacks_mib",
            mib=total / 2**20,
            limit_mib=limits.MAX_UNPACKED_BYTES // 2**20,
        )
    others = [m.filename for m in members if PurePosixPath(m.filename).suffix.lower() not in IMAGE_SUFFIXES]
    if others:
        raise DatasetError(
            f"only PNG and JPEG images are accepted; found {others[0]!r} ({len(others)} such files in all)",
            key="err_upload_not_images",
            found=repr(others[0]),
            n=len(others),
        )
    return sorted(members, key=lambda m: m.filename)


def _header_size(name: str, raw: bytes) -> tuple[int, int]:
    """(H, W) from a PNG/JPEG header, within the per-image limits; no pixel is decoded."""
    w, h, _ = readers.image_header(raw, name)
    limits.check_image_size(w, h, name, limits.MAX_UPLOAD_PIXELS)
    return h, w


def _check_same_size(shapes: dict[tuple[int, int], str]) -> None:
    if len(shapes) > 1:
        (a, first), (b, second) = list(shapes.items())[:2]
        raise DatasetError(
            f"images must all be the same size: {first} is {a[1]}x{a[0]}, {second} is {b[1]}x{b[0]}",
            key="err_upload_images_same_size",
            first=first,
            w1=a[1],
            h1=a[0],
            second=second,
            w2=b[1],
            h2=b[0],
        )


def _decode_members(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo]) -> np.ndarray:
    """(N, H, W, C) uint8 with C = 1 (grey) or 3. Every header is read and the whole set sized
    before the first pixel is decoded; images decode into one buffer, grey unless one is not."""
    shapes: dict[tuple[int, int], str] = {}
    for m in members:
        shapes.setdefault(_header_size(m.filename, archive.read(m)), m.filename)
        _check_same_size(shapes)
    (h, w) = next(iter(shapes))
    limits.check_pixel_values(len(members), (1, h, w), "the zip")
    deadline = limits.Deadline(limits.IMPORT_SECONDS, Phrase("decoding the zip's images", "word_decoding_zip"))
    x = np.empty((len(members), h, w, 1), dtype=np.uint8)
    for i, m in enumerate(members):
        rgb = np.asarray(readers.decode_image(io.BytesIO(archive.read(m)), m.filename))  # (H, W, 3)
        if x.shape[-1] == 1 and not (rgb == rgb[..., :1]).all():
            limits.check_pixel_values(len(members), (3, h, w), "the zip (colour images)")
            x = np.repeat(x, 3, axis=-1)  # the first colour image: grey so far becomes RGB
        x[i] = rgb[..., : x.shape[-1]]
        deadline.check()
    return x


def images_from_zip(data: bytes) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """Images (N, H, W, C) uint8 from a zip; sub-folders become class labels."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise DatasetError("not a valid zip file", key="err_zip_invalid") from None
    with archive:
        members = _image_members(archive)
        x = _decode_members(archive, members)
    folders = [str(PurePosixPath(m.filename).parent) for m in members]
    classes = sorted(set(folders))
    if len(classes) > 1:
        y = np.array([classes.index(f) for f in folders])
        return x, y, [PurePosixPath(c).name for c in classes]
    return x, None, None


def arrays_from_npz(data: bytes) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    arrays = readers.read_npz(io.BytesIO(data), "", max_images=limits.MAX_IMAGES)  # headers checked first
    x, y = arrays["x"], arrays.get("y")
    if x.size == 0:
        raise DatasetError("'x' is empty", key="err_upload_empty")
    if y is not None:
        y = np.asarray(y)
        if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer) or (y < 0).any() or y.max() > 999:
            raise DatasetError(
                f"'y' must be {len(x)} integer labels from 0 to 999; got shape {y.shape}, dtype {y.dtype}",
                key="err_upload_integer_labels_shape",
                n=len(x),
                shape=y.shape,
                dtype=y.dtype,
            )
    return x, y, None


def same_upload(data: bytes, uploads_dir: str | Path) -> Imported | None:
    """The dataset already imported from these very bytes (meta.json's sha256), else None: the same
    content is the same dataset, never name-2, name-3."""
    digest = hashlib.sha256(data).hexdigest()
    for name, meta in list_uploads(uploads_dir).items():
        if meta.get("sha256") == digest:
            path = Path(uploads_dir) / name
            shape = tuple(meta["image_shape"])
            return Imported(path, path / "data.npz", int(meta["n_images"]), shape, meta.get("class_names"))
    return None


def import_upload(file_name: str, data: bytes, uploads_dir: str | Path) -> Imported:
    """Check an upload and write it as a dataset folder, or find the one made from the same bytes;
    DatasetError names the problem and limit."""
    found = same_upload(data, uploads_dir)
    if found is not None:
        return found
    if len(data) == 0:
        raise DatasetError(f"{file_name}: the file is empty", key="err_file_empty", name=file_name)
    if len(data) > limits.MAX_UPLOAD_BYTES:
        raise DatasetError(
            f"{file_name}: {len(data) / 2**20:.1f} MiB; the limit is {limits.MAX_UPLOAD_BYTES // 2**20} MiB",
            key="err_upload_mib_limit_mib",
            file_name=file_name,
            mib=len(data) / 2**20,
            limit_mib=limits.MAX_UPLOAD_BYTES // 2**20,
        )
    suffix = Path(file_name).suffix.lower()
    read = {".zip": images_from_zip, ".npz": arrays_from_npz}.get(suffix)
    if read is None:
        raise DatasetError(
            f"{file_name}: upload a .zip of PNG/JPEG images or an .npz with 'x' (and 'y')",
            key="err_file_kind",
            name=file_name,
        )
    try:
        x, y, class_names = read(data)
        x = check_images(x, file_name)  # (N, C, H, W), its dtype kept: no float copy
    except LatentExplorerError as exc:  # a DatasetError or a BudgetError
        if str(exc).startswith(file_name):
            raise DatasetError(str(exc), key=exc.key, **exc.values) from None
        raise DatasetError(f"{file_name}: {exc}", key="err_in_file", name=file_name, error=exc) from None
    except Exception as exc:  # whatever a broken archive raises (zipfile, zlib, bz2, lzma): the one refusal
        raise DatasetError(
            f"{file_name}: not a readable {suffix} file ({readers.unreadable(exc)})",
            key="err_upload_readable_file",
            file_name=file_name,
            suffix=suffix,
            detail=readers.unreadable(exc),
        ) from None
    if y is not None and class_names is None:
        class_names = [str(c) for c in range(int(y.max()) + 1)]

    uploads_dir = Path(uploads_dir)
    uploads_dir.mkdir(parents=True, exist_ok=True)
    name = safe_name(Path(file_name).stem)
    with held_free_folder(uploads_dir, name) as target, staged_dir(target) as staging:
        arrays = {"x": x} if y is None else {"x": x, "y": y.astype(np.int64)}
        if class_names:
            arrays["class_names"] = np.array(class_names, dtype=str)  # a unicode array: no pickle needed
        np.savez_compressed(staging / "data.npz", **arrays)
        meta = {
            "source": file_name,
            "n_images": int(len(x)),
            "image_shape": list(x.shape[1:]),
            "class_names": class_names,
            "sha256": hashlib.sha256(data).hexdigest(),  # the same bytes again: this dataset (same_upload)
        }
        (staging / "meta.json").write_text(json.dumps(meta))
    return Imported(target, target / "data.npz", len(x), tuple(x.shape[1:]), class_names)


def list_uploads(uploads_dir: str | Path) -> dict[str, dict]:
    """Completed uploads: folder name -> meta (hidden staging folders are skipped)."""
    root = Path(uploads_dir)
    found = {}
    if root.is_dir():
        for meta in sorted(root.glob("*/meta.json")):
            if meta.parent.name.startswith("."):
                continue
            try:
                found[meta.parent.name] = json.loads(meta.read_text())
            except (OSError, ValueError):
                continue
    return found
