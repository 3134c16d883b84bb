"""Image arrays <-> PNG/GIF bytes, and grids of images."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


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


def gif_bytes(frames: list[np.ndarray], ms_per_frame: int = 120, bounce: bool = True) -> bytes:
    """Animated GIF of uint8 frames; bounce plays forwards then backwards."""
    sequence = frames + frames[-2:0:-1] if bounce and len(frames) > 2 else frames
    pil = [Image.fromarray(f).convert("P") for f in sequence]
    buf = io.BytesIO()
    pil[0].save(buf, format="GIF", save_all=True, append_images=pil[1:], duration=ms_per_frame, loop=0)
    return buf.getvalue()
