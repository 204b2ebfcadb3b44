"""Step animations of a convolution or a pooling: the browser's step player, GIFs for slides.

:func:`conv_player` and :func:`pool_player` return a :class:`StepPlayer`: plain data (panels of
numbers, the window of every step, the step's arithmetic) that ``cnnviz.ui.step_player`` draws
on canvases in the browser, where Play, the slider and the arrow keys run with no server work.
Inputs with more output positions than ``max_frames`` are animated on every ``r``-th row and
column of positions (the player says so).
"""

from cnnviz.figures.animation.conv import conv_equation, conv_player
from cnnviz.figures.animation.frames import (
    CELL,
    MAX_FRAMES,
    WINDOW,
    cell_text,
    frame_positions,
    number,
)
from cnnviz.figures.animation.pictures import conv_gif, map_image, pool_gif
from cnnviz.figures.animation.player import PlayerPanel, StepPlayer
from cnnviz.figures.animation.pool import pool_equation, pool_player

__all__ = [
    "CELL",
    "MAX_FRAMES",
    "WINDOW",
    "PlayerPanel",
    "StepPlayer",
    "cell_text",
    "conv_equation",
    "conv_gif",
    "conv_player",
    "frame_positions",
    "map_image",
    "number",
    "pool_equation",
    "pool_gif",
    "pool_player",
]
