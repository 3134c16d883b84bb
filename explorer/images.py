"""Image arrays <-> PNG/GIF bytes, and grids of images."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image, ImageDraw


def to_uint8(image: np.ndarray) -> np.ndarray:
    """(C, H, W) or (H, W) floats in [0, 1] -> (H, W) or (H, W, 3) uint8."""
    image = np.asarray(image)
    if image.ndim == 3:
        image = image[0] if image.shape[0] == 1 else np.moveaxis(image, 0, -1)
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement, so small images stay crisp in the browser."""
    return image.repeat(factor, axis=0).repeat(factor, axis=1)


def grid(images: np.ndarray, ncols: int, pad: int = 1, pad_value: float = 0.35) -> np.ndarray:
    """(N, C, H, W) -> one uint8 image of rows of ncols, separated by pad pixels."""
    n, c, h, w = images.shape
    nrows = -(-n // ncols)
    canvas = np.full((c, nrows * (h + pad) + pad, ncols * (w + pad) + pad), pad_value, dtype=np.float32)
    for i, image in enumerate(images):
        r, col = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        canvas[:, y : y + h, x : x + w] = image
    return to_uint8(canvas)


def display_scale(side: int, target: int = 112) -> int:
    return max(1, target // side)


def png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def png_uri(image: np.ndarray) -> str:
    """A uint8 image as a PNG data URI: it travels inside its element, the browser fetches nothing."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")


GREYS = [v for level in range(256) for v in (level, level, level)]  # palette index i = grey level i


def _gif_frame(frame: np.ndarray) -> Image.Image:
    """A palette frame without dithering. Grey (H, W): palette index = grey level, so every one of the 256
    levels is kept exactly (PIL's default web palette has few greys and dithers the rest into speckles);
    colour (H, W, 3): grey when its channels agree (an annotated grey frame), else its own 256 colours,
    nearest, no dithering."""
    if frame.ndim == 3 and (frame == frame[..., :1]).all():
        frame = frame[..., 0]
    if frame.ndim == 2:
        image = Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8)).convert("L")
        indexed = Image.frombytes("P", image.size, image.tobytes())
        indexed.putpalette(GREYS)
        return indexed
    return Image.fromarray(frame).quantize(256, dither=Image.Dither.NONE)


def gif_bytes(frames: list[np.ndarray], ms_per_frame: int = 120, bounce: bool = True) -> bytes:
    """Animated GIF of uint8 frames; bounce plays forwards then backwards."""
    sequence = frames + frames[-2:0:-1] if bounce and len(frames) > 2 else frames
    pil = [_gif_frame(f) for f in sequence]
    buf = io.BytesIO()
    pil[0].save(buf, format="GIF", save_all=True, append_images=pil[1:], duration=ms_per_frame, loop=0)
    return buf.getvalue()


def annotate(image: np.ndarray, rows: list[str], columns: list[str], left: int = 36, top: int = 14) -> np.ndarray:
    """A white margin with a label per row (left) and per column (top), for exported grids.
    image: (H, W) or (H, W, 3) uint8 with rows and columns evenly spaced."""
    rgb = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image
    h, w = rgb.shape[:2]
    canvas = Image.new("RGB", (w + left, h + top), "white")
    canvas.paste(Image.fromarray(rgb), (left, top))
    draw = ImageDraw.Draw(canvas)
    for i, text in enumerate(rows):
        draw.text((2, top + (i + 0.5) * h / len(rows) - 5), text, fill="black")
    for j, text in enumerate(columns):
        draw.text((left + j * w / len(columns) + 2, 1), text, fill="black")
    return np.asarray(canvas)
