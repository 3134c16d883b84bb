"""Reading a user's files within the budgets of training.limits, before any pixel is decoded.

    images    PNG or JPEG by content only (never EPS/PostScript, nothing spawns a process),
              sides and pixels read from the header before decoding, a decode-time budget
    .npz      array headers read from the zip before any array is loaded; never unpickled

The folder and .npz datasets (datasets.py) and uploads (uploads.py) read through these. Not in
uploads.py: uploads writes through store, which imports datasets, so datasets importing uploads
would close a circle.
"""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path
from typing import IO

import numpy as np

from . import limits
from .errors import DatasetError
from .limits import MAX_IMAGES, MAX_SIDE, named

IMAGE_FORMATS = ["PNG", "JPEG"]  # what Pillow may decode; never EPS (Ghostscript), never a plugin zoo


# --- images --------------------------------------------------------------------------------------


def unreadable(exc: BaseException) -> str:
    """Why user bytes could not be read, in a few words: the class and the first line of its message
    (e.g. "BadZipFile: Bad CRC-32 for file 'a.png'"); never a traceback."""
    text = str(exc).splitlines()[0][:120] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def decode_image(source: str | Path | IO[bytes], name: str, *, max_side: int | None = MAX_SIDE, mode: str = "RGB"):
    """One PNG/JPEG file -> a PIL image in `mode`, loaded. DatasetError names what is wrong.

    The format is judged by content (a .png holding PostScript is refused); the size comes from
    the header and is checked before any pixel is decoded; a decode over limits.DECODE_SECONDS is refused.
    """
    from PIL import Image, UnidentifiedImageError

    start = time.monotonic()
    try:
        im = Image.open(source, formats=IMAGE_FORMATS)
    except UnidentifiedImageError:
        raise DatasetError(f"{named(name)}not a readable image (not PNG or JPEG by its content)") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise DatasetError(f"{named(name)}not a readable image ({type(exc).__name__})") from None
    with im:
        w, h = im.size
        limits.check_image_size(w, h, name, limits.MAX_FILE_PIXELS, max_side)
        try:
            im.draft(mode, (w, h))  # JPEG: decode straight to the mode; a no-op for PNG
            out = im.convert(mode)
        except Exception as exc:  # Pillow raises many types for broken files
            raise DatasetError(f"{named(name)}not a readable image ({type(exc).__name__})") from None
    if time.monotonic() - start > limits.DECODE_SECONDS:
        raise DatasetError(f"{named(name)}took over {limits.DECODE_SECONDS:g} s to decode; refused")
    return out


def image_header(raw: bytes, name: str) -> tuple[int, int, str]:
    """(width, height, mode) from a PNG/JPEG header, without decoding pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(raw), formats=IMAGE_FORMATS) as im:
            return im.size[0], im.size[1], im.mode
    except UnidentifiedImageError:
        raise DatasetError(f"{named(name)}not a readable image (not PNG or JPEG by its content)") from None
    except Exception as exc:
        raise DatasetError(f"{named(name)}not a readable image ({type(exc).__name__})") from None


# --- .npz ----------------------------------------------------------------------------------------


def npz_headers(source: str | Path | IO[bytes], name: str) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Array name -> (shape, dtype) from each member's .npy header; no array is loaded."""
    from numpy.lib import format as npy

    headers = {}
    try:
        with zipfile.ZipFile(source) as archive:
            members = archive.infolist()
            if len(members) > 16:
                raise DatasetError(f"{named(name)}{len(members)} arrays; an .npz here holds at most 16")
            for info in members:
                if not info.filename.endswith(".npy"):
                    raise DatasetError(f"{named(name)}{info.filename!r} is not an .npy array")
                with archive.open(info) as f:
                    version = npy.read_magic(f)
                    read = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}.get(version)
                    if read is None:
                        raise DatasetError(f"{named(name)}unsupported .npy version {version}")
                    shape, _, dtype = read(f)
                if dtype.hasobject:
                    what = info.filename[:-4]
                    raise DatasetError(f"{named(name)}{what!r} holds Python objects; refused (no pickles)")
                headers[info.filename[:-4]] = (tuple(int(s) for s in shape), dtype)
    except DatasetError:
        raise
    except Exception as exc:  # zipfile raises many classes: bad CRC, encrypted, unknown method, bad bzip2
        raise DatasetError(f"{named(name)}not a readable .npz file ({unreadable(exc)})") from None
    return headers


def check_npz(headers: dict[str, tuple[tuple[int, ...], np.dtype]], name: str, max_images: int | None) -> None:
    """The .npz's arrays within the budgets, judged from their headers alone."""
    if "x" not in headers:
        raise DatasetError(f"{named(name)}an .npz needs an array 'x' of images; found {sorted(headers) or 'nothing'}")
    unpacked = sum(int(np.prod(s, dtype=np.int64)) * d.itemsize for s, d in headers.values())
    if unpacked > limits.MAX_UNPACKED_BYTES:
        raise DatasetError(
            f"{named(name)}its arrays unpack to {unpacked / 2**20:,.0f} MiB; "
            f"the limit is {limits.MAX_UNPACKED_BYTES // 2**20} MiB"
        )
    shape, _ = headers["x"]
    if not 3 <= len(shape) <= 4:
        raise DatasetError(f"{named(name)}'x' must have shape (N, H, W), (N, H, W, C) or (N, C, H, W); got {shape}")
    if max_images is not None and shape[0] > max_images:
        raise DatasetError(f"{named(name)}'x' holds {shape[0]:,} images; the limit is {max_images:,}")
    limits.check_pixel_values(shape[0], shape[1:], name)


def read_npz(source: str | Path | IO[bytes], name: str, max_images: int | None = MAX_IMAGES) -> dict[str, np.ndarray]:
    """The arrays of an .npz, loaded only after their headers passed the budgets."""
    headers = npz_headers(source, name)
    check_npz(headers, name, max_images)
    if hasattr(source, "seek"):
        source.seek(0)
    try:
        with np.load(source, allow_pickle=False) as archive:  # never unpickle user data
            return {key: archive[key] for key in headers}
    except Exception as exc:
        raise DatasetError(f"{named(name)}not a readable .npz file ({unreadable(exc)})") from None
