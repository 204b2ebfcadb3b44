"""Still pictures: the convolution animation as a GIF for slides, and maps as images."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cnnviz.figures.animation.conv import conv_equation
from cnnviz.figures.animation.frames import CELL, WINDOW, frame_positions, number
from cnnviz.figures.animation.pool import pool_equation
from cnnviz.figures.montage import _lut, to_uint8
from cnnviz.steps import ConvSteps, PoolSteps

__all__ = ["conv_gif", "map_image", "pool_gif"]


def _fill(
    values: np.ndarray,
    diverging: bool,
    span: float | None = None,
    limits: tuple[float, float] | None = None,
) -> np.ndarray:
    """RGB colours (..., 3) for cells: light blue ramp (over ``limits``, default the values'
    own range), or light blue-white-red around 0."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if diverging:
        s = span or float(np.abs(v).max()) or 1.0
        t = np.clip(v / s, -1, 1)[..., None]
        white, blue, red = (
            np.array([247, 247, 247]),
            np.array([111, 168, 220]),
            np.array([232, 133, 122]),
        )
        return np.where(t < 0, white + (blue - white) * -t, white + (red - white) * t)
    lo, hi = limits if limits is not None else (float(v.min()), float(v.max()))
    t = np.clip((v - lo) / (hi - lo if hi > lo else 1.0), 0, 1)[..., None]
    return np.array([247, 251, 255]) + (np.array([127, 178, 224]) - np.array([247, 251, 255])) * t


def _draw_grid(
    draw: object,
    values: np.ndarray,
    at: tuple[int, int],
    cell: int,
    *,
    diverging: bool,
    pad: np.ndarray | None = None,
    limits: tuple[float, float] | None = None,
) -> None:
    colours = _fill(values, diverging, limits=limits).astype(int)
    font = ImageFont.load_default(size=max(10, int(cell * 0.42)))
    x0, y0 = at
    for (r, c), value in np.ndenumerate(values):
        box = (x0 + c * cell, y0 + r * cell, x0 + (c + 1) * cell - 2, y0 + (r + 1) * cell - 2)
        padding = pad is not None and pad[r, c]
        draw.rectangle(box, fill=(224, 224, 224) if padding else tuple(colours[r, c]))
        if cell >= 28:
            text = "0" if padding else number(value).replace("−", "-")  # the font lacks −
            draw.text(
                ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2),
                text,
                anchor="mm",
                fill=(138, 138, 138) if padding else (40, 40, 40),
                font=font,
            )


def conv_gif(
    steps: ConvSteps,
    out_channel: int = 0,
    channel: int | None = None,
    max_frames: int = 120,
    frame_ms: int = 700,
) -> bytes:
    """The convolution animation as an animated GIF, for slides (input, kernel, output).

    Args:
        steps: From :func:`cnnviz.steps.conv_steps`.
        out_channel: The output channel animated.
        channel: The input channel drawn (default: the first one ``out_channel`` reads).
        max_frames: At most this many frames (every ``r``-th row and column beyond).
        frame_ms: Milliseconds per frame.

    Returns:
        GIF bytes that loop forever.
    """
    group = steps.group_channels(out_channel)
    c = channel if channel in group else group[0]
    padded, kernel_w = steps.padded[c], steps.weight[out_channel, group.index(c)]
    output = steps.output[out_channel]
    hp, wp = padded.shape
    rows, cols = output.shape
    cell = int(min(64, max(4, 520 // max(hp, wp))))
    k_cell = max(cell, 40)
    gap, top, bottom = 40, 40, 60
    width = gap + wp * cell + gap + steps.kernel * k_cell + gap + cols * cell + gap
    height = top + max(hp * cell, steps.kernel * k_cell) + bottom
    base = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(base)
    title, small = ImageFont.load_default(size=20), ImageFont.load_default(size=18)
    x_in, x_k = gap, gap + wp * cell + gap
    x_out = x_k + steps.kernel * k_cell + gap
    _draw_grid(draw, padded, (x_in, top), cell, diverging=False, pad=steps.is_padding)
    _draw_grid(draw, kernel_w, (x_k, top), k_cell, diverging=True)
    for x, label in ((x_in, "input"), (x_k, "kernel"), (x_out, "output")):
        draw.text((x, 10), label, fill=(60, 60, 60), font=title)
    finished = Image.new("RGB", (cols * cell, rows * cell), (255, 255, 255))
    _draw_grid(ImageDraw.Draw(finished), output, (0, 0), cell, diverging=True)
    positions, _ = frame_positions(rows, cols, max_frames)
    frames = []
    span = steps.span * cell
    for i, j in positions:
        frame = base.copy()
        frame.paste(_reveal(finished, i, j, cell), (x_out, top))
        d = ImageDraw.Draw(frame)
        r0, c0 = steps.window_origin(i, j)
        d.rectangle((x_in + c0 * cell - 2, top + r0 * cell - 2, x_in + c0 * cell + span,
                     top + r0 * cell + span), outline=WINDOW, width=4)  # fmt: skip
        d.rectangle((x_out + j * cell - 2, top + i * cell - 2, x_out + (j + 1) * cell,
                     top + (i + 1) * cell), outline=CELL, width=4)  # fmt: skip
        line = conv_equation(steps.step(i, j, out_channel), channel=c).split("<br>")[-1]
        line = line.replace("<b>", "").replace("</b>", "").replace("−", "-")
        d.text((gap, height - bottom + 20), line,
               fill=(40, 40, 40), font=small)  # fmt: skip
        frames.append(frame)
    return _save_gif(frames, frame_ms)


def _save_gif(frames: list[Image.Image], frame_ms: int) -> bytes:
    """Frames -> looping GIF bytes, all frames on the last frame's palette."""
    # One palette for all frames: an adaptive palette per frame cost ~130 ms each (measured).
    palette = frames[-1].quantize(colors=96, method=Image.Quantize.FASTOCTREE)
    frames = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:],
                   duration=frame_ms, loop=0)  # fmt: skip
    return buffer.getvalue()


def _reveal(finished: Image.Image, i: int, j: int, cell: int) -> Image.Image:
    """The output picture with the cells after (i, j), in reading order, still blank."""
    shown = finished.copy()
    d = ImageDraw.Draw(shown)
    d.rectangle((0, (i + 1) * cell, shown.width, shown.height), fill="white")
    d.rectangle(((j + 1) * cell, i * cell, shown.width, (i + 1) * cell - 1), fill="white")
    return shown


def pool_gif(
    steps: PoolSteps, channel: int = 0, max_frames: int = 120, frame_ms: int = 700
) -> bytes:
    """The pooling animation as an animated GIF, for slides (input, kept cell, output).

    Each frame frames the window on the input, outlines the kept cell (max pooling), fills in
    the output cell and writes the step out (``y[0, 1] = max(7, 2, 4, 5) = 7``).

    Args:
        steps: From :func:`cnnviz.steps.pool_steps`.
        channel: The map animated.
        max_frames: At most this many frames (every ``r``-th row and column beyond).
        frame_ms: Milliseconds per frame.

    Returns:
        GIF bytes that loop forever.
    """
    padded, output = steps.padded[channel], steps.output[channel]
    hp, wp = padded.shape
    rows, cols = output.shape
    cell = int(min(64, max(4, 480 // max(hp, wp))))
    gap, top, bottom = 40, 40, 60
    width = max(gap + wp * cell + gap + cols * cell + gap, 560)
    height = top + hp * cell + bottom
    base = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(base)
    title, small = ImageFont.load_default(size=20), ImageFont.load_default(size=18)
    x_in, x_out = gap, gap + wp * cell + gap
    real = padded[~steps.is_padding]
    limits = (float(real.min()), float(real.max())) if real.size else None  # one scale for both
    _draw_grid(
        draw, padded, (x_in, top), cell, diverging=False, pad=steps.is_padding, limits=limits
    )
    kind = "max" if steps.kind == "max" else "average"
    for x, label in ((x_in, "input"), (x_out, f"{kind} pooling output")):
        draw.text((x, 10), label, fill=(60, 60, 60), font=title)
    finished = Image.new("RGB", (cols * cell, rows * cell), (255, 255, 255))
    _draw_grid(ImageDraw.Draw(finished), output, (0, 0), cell, diverging=False, limits=limits)
    positions, _ = frame_positions(rows, cols, max_frames)
    frames = []
    for i, j in positions:
        frame = base.copy()
        frame.paste(_reveal(finished, i, j, cell), (x_out, top))
        d = ImageDraw.Draw(frame)
        r0, c0, kh, kw = steps.window_box(i, j)
        d.rectangle((x_in + c0 * cell - 2, top + r0 * cell - 2, x_in + (c0 + kw) * cell,
                     top + (r0 + kh) * cell), outline=WINDOW, width=4)  # fmt: skip
        kept = steps.step(i, j, channel).kept
        if kept is not None:
            r, c = kept
            d.ellipse((x_in + c * cell + 3, top + r * cell + 3, x_in + (c + 1) * cell - 5,
                       top + (r + 1) * cell - 5), outline=CELL, width=3)  # fmt: skip
        d.rectangle((x_out + j * cell - 2, top + i * cell - 2, x_out + (j + 1) * cell,
                     top + (i + 1) * cell), outline=CELL, width=4)  # fmt: skip
        line = pool_equation(steps, i, j, channel).replace("<b>", "").replace("</b>", "")
        d.text((gap, height - bottom + 20), line.replace("−", "-"), fill=(40, 40, 40), font=small)
        frames.append(frame)
    return _save_gif(frames, frame_ms)


def map_image(values: np.ndarray, colormap: str = "RdBu", longest: int = 320) -> Image.Image:
    """A map as a picture for the page: colours from ``colormap`` over its own range.

    With ``"RdBu"`` the scale is symmetric around 0 (white = 0, red positive, blue negative),
    so the sign of a filter's response reads at a glance. Small maps are enlarged with nearest
    neighbour so their pixels stay visible.
    """
    v = np.asarray(values, dtype=np.float32)
    if colormap == "RdBu":
        span = float(np.abs(v).max()) or 1.0
        scaled = np.clip((v / span + 1) * 127.5, 0, 255).astype(np.uint8)
    else:
        scaled = to_uint8(v)
    image = Image.fromarray(_lut(colormap)[scaled])
    factor = max(1, longest // max(image.size))
    if factor > 1:
        image = image.resize(
            (image.width * factor, image.height * factor), Image.Resampling.NEAREST
        )
    return image
