"""A user's upload (a zip of images or an .npz) checked and turned into a dataset folder.

    <uploads>/<id>/data.npz    x: (N, C, H, W) uint8 or float32 in [0, 1], y: optional labels
    <uploads>/<id>/meta.json   the original file name, counts, image shape, class names

The folder is written under a hidden name and renamed when complete: a failed import leaves
nothing behind. Zip entries are read in memory; nothing from the zip is written as a file.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from .config import MAX_SIDE, MIN_SIDE
from .datasets import IMAGE_SUFFIXES, images_to_array
from .errors import DatasetError
from .store import safe_name, staged_dir

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_FILES = 5_000
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_IMAGE_PIXELS = 1024 * 1024  # per image, before any decoding (decompression bombs)


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
        raise DatasetError(f"zip entry {name!r} points outside the archive; refused")
    mode = (info.external_attr >> 16) & 0o170000
    if mode == 0o120000:
        raise DatasetError(f"zip entry {name!r} is a symbolic link; refused")


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
        raise DatasetError("the zip holds no files")
    if len(members) > MAX_FILES:
        raise DatasetError(f"the zip holds {len(members):,} files; the limit is {MAX_FILES:,}")
    total = sum(m.file_size for m in members)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise DatasetError(
            f"the zip unpacks to {total / 2**20:.0f} MiB; the limit is {MAX_UNCOMPRESSED_BYTES // 2**20} MiB"
        )
    others = [m.filename for m in members if PurePosixPath(m.filename).suffix.lower() not in IMAGE_SUFFIXES]
    if others:
        raise DatasetError(
            f"only PNG and JPEG images are accepted; found {others[0]!r}"
            + (f" and {len(others) - 1} more" if len(others) > 1 else "")
        )
    return sorted(members, key=lambda m: m.filename)


def _decode_image(name: str, raw: bytes) -> np.ndarray:
    """(H, W, 3) uint8, after the size limits are checked on the header alone."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(raw)) as im:
            w, h = im.size
            if w * h > MAX_IMAGE_PIXELS:
                raise DatasetError(f"{name}: {w}x{h} pixels; the limit is {MAX_IMAGE_PIXELS:,} per image")
            if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
                raise DatasetError(f"{name}: {w}x{h}; image sides must be {MIN_SIDE} to {MAX_SIDE} pixels")
            im.load()
            return np.asarray(im.convert("RGB"))
    except DatasetError:
        raise
    except Exception as exc:  # Pillow raises many types for broken files
        raise DatasetError(f"{name}: not a readable image ({type(exc).__name__})") from None


def _check_same_size(shapes: dict[tuple[int, int], str]) -> None:
    if len(shapes) > 1:
        (a, first), (b, second) = list(shapes.items())[:2]
        raise DatasetError(f"images must all be the same size: {first} is {a[1]}x{a[0]}, {second} is {b[1]}x{b[0]}")


def images_from_zip(data: bytes) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """Images (N, H, W, C) uint8 from a zip; sub-folders become class labels."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise DatasetError("not a valid zip file") from None
    images, folders, shapes = [], [], {}
    with archive:
        for m in _image_members(archive):
            array = _decode_image(m.filename, archive.read(m))
            shapes.setdefault(array.shape[:2], m.filename)
            _check_same_size(shapes)
            images.append(array)
            folders.append(str(PurePosixPath(m.filename).parent))
    x = np.stack(images)  # (N, H, W, 3) uint8
    if (x == x[..., :1]).all():
        x = x[..., :1]
    classes = sorted(set(folders))
    if len(classes) > 1:
        y = np.array([classes.index(f) for f in folders])
        return x, y, [PurePosixPath(c).name for c in classes]
    return x, None, None


def arrays_from_npz(data: bytes) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:  # never unpickle user data
            if "x" not in archive.files:
                raise DatasetError(f"an .npz needs an array 'x' of images; found {archive.files or 'nothing'}")
            x = archive["x"]
            y = archive["y"] if "y" in archive.files else None
    except DatasetError:
        raise
    except Exception as exc:
        raise DatasetError(f"not a readable .npz file ({type(exc).__name__}: {str(exc)[:120]})") from None
    if x.size == 0:
        raise DatasetError("'x' is empty")
    if y is not None:
        y = np.asarray(y)
        if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer) or (y < 0).any() or y.max() > 999:
            raise DatasetError(
                f"'y' must be {len(x)} integer labels from 0 to 999; got shape {y.shape}, dtype {y.dtype}"
            )
    return x, y, None


def import_upload(file_name: str, data: bytes, uploads_dir: str | Path) -> Imported:
    """Check an upload and write it as a dataset folder; DatasetError names the problem and limit."""
    if len(data) == 0:
        raise DatasetError(f"{file_name}: the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise DatasetError(f"{file_name}: {len(data) / 2**20:.1f} MiB; the limit is {MAX_UPLOAD_BYTES // 2**20} MiB")
    suffix = Path(file_name).suffix.lower()
    readers = {".zip": images_from_zip, ".npz": arrays_from_npz}
    if suffix not in readers:
        raise DatasetError(f"{file_name}: upload a .zip of PNG/JPEG images or an .npz with 'x' (and 'y')")
    try:
        x, y, class_names = readers[suffix](data)
        x = images_to_array(x, file_name)
    except DatasetError as exc:
        msg = str(exc)
        raise DatasetError(msg if msg.startswith(file_name) else f"{file_name}: {msg}") from None
    if y is not None and class_names is None:
        class_names = [str(c) for c in range(int(y.max()) + 1)]

    uploads_dir = Path(uploads_dir)
    uploads_dir.mkdir(parents=True, exist_ok=True)
    name = safe_name(Path(file_name).stem)
    target = uploads_dir / name
    n = 1
    while target.exists():
        n += 1
        target = uploads_dir / f"{name}-{n}"
    with staged_dir(target) as staging:
        stored = (x * 255 + 0.5).astype(np.uint8) if suffix == ".zip" else x
        arrays = {"x": stored} if y is None else {"x": stored, "y": y.astype(np.int64)}
        if class_names:
            arrays["class_names"] = np.array(class_names, dtype=str)  # a unicode array: no pickle needed
        np.savez_compressed(staging / "data.npz", **arrays)
        meta = {
            "source": file_name,
            "n_images": int(len(x)),
            "image_shape": list(x.shape[1:]),
            "class_names": class_names,
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
