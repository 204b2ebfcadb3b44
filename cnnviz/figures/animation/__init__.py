"""Step animations of a convolution or a pooling: plotly frames for the browser, GIFs for slides.

The figures are "light" (see DESIGN.md): the input, kernel and whole output are drawn once; each
frame only moves the window and output-cell rectangles, the cover that hides the output cells not
computed yet, the small products grid and the equation line. Play, pause and the slider run in
the browser with no server work. Inputs with more output positions than ``max_frames`` are
animated on every ``r``-th row and column of positions (the figure says so).
"""

from cnnviz.figures.animation.conv import conv_animation, conv_equation
from cnnviz.figures.animation.frames import (
    CELL,
    MAX_FRAMES,
    WINDOW,
    AnimatedFigure,
    cell_text,
    frame_positions,
    number,
)
from cnnviz.figures.animation.pictures import conv_gif, map_image, pool_gif
from cnnviz.figures.animation.pool import pool_animation, pool_equation

__all__ = [
    "CELL",
    "MAX_FRAMES",
    "WINDOW",
    "AnimatedFigure",
    "cell_text",
    "conv_animation",
    "conv_equation",
    "conv_gif",
    "frame_positions",
    "map_image",
    "number",
    "pool_animation",
    "pool_equation",
    "pool_gif",
]
