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


def not_an_image(name: str, exc: BaseException | None = None) -> DatasetError:
    """A file that does not decode as an image: by its content (exc None) or by the decoder's error."""
    if exc is None:
        return DatasetError(
            f"{named(name)}not a readable image (not PNG or JPEG by its content)",
            key="err_read_readable_image_png",
            prefix=named(name),
        )
    return DatasetError(
        f"{named(name)}not a readable image ({type(exc).__name__})",
        key="err_read_readable_image",
        prefix=named(name),
        type=type(exc).__name__,
    )


def not_an_npz(name: str, exc: BaseException) -> DatasetError:
    return DatasetError(
        f"{named(name)}not a readable .npz file ({unreadable(exc)})",
        key="err_read_readable_npz_file",
        prefix=named(name),
        detail=unreadable(exc),
    )


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
        raise not_an_image(name) from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise not_an_image(name, exc) from None
    with im:
        w, h = im.size
        limits.check_image_size(w, h, name, limits.MAX_FILE_PIXELS, max_side)
        try:
            im.draft(mode, (w, h))  # JPEG: decode straight to the mode; a no-op for PNG
            out = im.convert(mode)
        except Exception as exc:  # Pillow raises many types for broken files
            raise not_an_image(name, exc) from None
    if time.monotonic() - start > limits.DECODE_SECONDS:
        raise DatasetError(
            f"{named(name)}took over {limits.DECODE_SECONDS:g} s to decode; refused",
            key="err_read_took_over_decode",
            prefix=named(name),
            decode_seconds=limits.DECODE_SECONDS,
        )
    return out


def image_header(raw: bytes, name: str) -> tuple[int, int, str]:
    """(width, height, mode) from a PNG/JPEG header, without decoding pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(raw), formats=IMAGE_FORMATS) as im:
            return im.size[0], im.size[1], im.mode
    except UnidentifiedImageError:
        raise not_an_image(name) from None
    except Exception as exc:
        raise not_an_image(name, exc) from None


# --- .npz ----------------------------------------------------------------------------------------


def npz_headers(source: str | Path | IO[bytes], name: str) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Array name -> (shape, dtype) from each member's .npy header; no array is loaded."""
    from numpy.lib import format as npy

    headers = {}
    try:
        with zipfile.ZipFile(source) as archive:
            members = archive.infolist()
            if len(members) > 16:
                raise DatasetError(
                    f"{named(name)}{len(members)} arrays; an .npz here holds at most 16",
                    key="err_read_arrays_npz_holds",
                    prefix=named(name),
                    n=len(members),
                )
            for info in members:
                if not info.filename.endswith(".npy"):
                    raise DatasetError(
                        f"{named(name)}{info.filename!r} is not an .npy array",
                        key="err_read_npy_array",
                        prefix=named(name),
                        filename=repr(info.filename),
                    )
                with archive.open(info) as f:
                    version = npy.read_magic(f)
                    read = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}.get(version)
                    if read is None:
                        raise DatasetError(
                            f"{named(name)}unsupported .npy version {version}",
                            key="err_read_unsupported_npy_version",
                            prefix=named(name),
                            version=version,
                        )
                    shape, _, dtype = read(f)
                if dtype.hasobject:
                    what = info.filename[:-4]
                    raise DatasetError(
                        f"{named(name)}{what!r} holds Python objects; refused (no pickles)",
                        key="err_read_holds_python_objects",
                        prefix=named(name),
                        what=repr(what),
                    )
                headers[info.filename[:-4]] = (tuple(int(s) for s in shape), dtype)
    except DatasetError:
        raise
    except Exception as exc:  # zipfile raises many classes: bad CRC, encrypted, unknown method, bad bzip2
        raise not_an_npz(name, exc) from None
    return headers


def check_npz(headers: dict[str, tuple[tuple[int, ...], np.dtype]], name: str, max_images: int | None) -> None:
    """The .npz's arrays within the budgets, judged from their headers alone."""
    if "x" not in headers:
        raise DatasetError(
            f"{named(name)}an .npz needs an array 'x' of images; found {sorted(headers) or 'nothing'}",
            key="err_read_npz_needs_array",
            prefix=named(name),
            detail=sorted(headers) or "nothing",
        )
    unpacked = sum(int(np.prod(s, dtype=np.int64)) * d.itemsize for s, d in headers.values())
    if unpacked > limits.MAX_UNPACKED_BYTES:
        raise DatasetError(
            f"{named(name)}its arrays unpack to {unpacked / 2**20:,.0f} MiB; "
            f"the limit is {limits.MAX_UNPACKED_BYTES // 2**20} MiB",
            key="err_read_arrays_unpack_mib",
            prefix=named(name),
            mib=unpacked / 2**20,
            limit_mib=limits.MAX_UNPACKED_BYTES // 2**20,
        )
    shape, _ = headers["x"]
    if not 3 <= len(shape) <= 4:
        raise DatasetError(
            f"{named(name)}'x' must have shape (N, H, W), (N, H, W, C) or (N, C, H, W); got {shape}",
            key="err_read_shape",
            prefix=named(name),
            shape=shape,
        )
    if max_images is not None and shape[0] > max_images:
        raise DatasetError(
            f"{named(name)}'x' holds {shape[0]:,} images; the limit is {max_images:,}",
            key="err_read_holds_images_limit",
            prefix=named(name),
            shape=shape[0],
            max_images=max_images,
        )
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
        raise not_an_npz(name, exc) from None
