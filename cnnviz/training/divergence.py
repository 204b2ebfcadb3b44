"""When has a training run blown up? :class:`DivergenceWatch` reads the batch losses and tells.

The yardstick is what an untrained network scores. A network that guesses uniformly over ``K``
classes gives every class probability ``1/K``, so its cross-entropy loss is
``-ln(1/K) = ln K`` (2.30 for 10 classes, 0.69 for 2). A freshly initialized network scores about
that, which is why the first batch's loss is about ``ln K``. The run has *diverged* when:

- a batch loss is not a finite number (``inf`` or ``nan``: the weights are ruined), or
- most of the last :data:`WINDOW` batch losses (at least 6 of 10: their lower median) are more
  than :data:`FACTOR` times the reference ``max(first batch loss, ln K)``. One noisy batch, or
  a burst of fewer than half the window, never counts; and a network that bad is confidently
  wrong (for 10 classes a loss of 6.9 gives the right class about 1/1000 of the probability,
  100 times less than a blind guess).

Healthy runs stay near or below the reference. Over the runs measured for issue 9 (LeNet-5,
TinyVGG, the small ResNet and MobileNet; Adam, AdamW and SGD; constant and one-cycle schedules;
learning rates up to 0.1 and batch sizes 8 to 64; 10, 6 and 2 classes) that lower median never
passed 1.02 times it, though single batches went up to 16 times it. Runs at learning rates 0.1 to 1
whose network died (loss stuck near ``ln K``) reached 1.14: stuck is not blown up, and is not
flagged. Runs whose learning rate was far too high (SGD at 10 and 1000, Adam at 1 and 10) passed
50 times it and were stopped at the 10th batch.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cnnviz.training.events import EpochEvent

WINDOW = 10
"""Batches whose median loss is compared with the reference."""
FACTOR = 3.0
"""How many times the reference loss the median must exceed to count as blown up."""


class DivergenceWatch:
    """Watches the batch losses of one run and tells when it has diverged.

    Args:
        num_classes: ``K``, the number of classes (the uniform guess scores ``ln K``).
        window: Batches in the running median.
        factor: Multiple of the reference loss that counts as blown up.

    Example:
        >>> watch = DivergenceWatch(10)
        >>> watch.update(2.3), watch.update(1e6)  # one spike: not yet
        (False, False)
    """

    def __init__(self, num_classes: int, window: int = WINDOW, factor: float = FACTOR) -> None:
        self.uniform = math.log(max(2, num_classes))
        self.factor = factor
        self.reference: float | None = None
        self.last = 0.0
        self._recent: deque[float] = deque(maxlen=window)

    @property
    def median(self) -> float:
        """Lower median of the last ``window`` batch losses (0 before the first).

        The lower of the two middle values: above a limit only when most losses are.
        """
        return statistics.median_low(self._recent) if self._recent else 0.0

    def update(self, loss: float) -> bool:
        """Add one batch loss; ``True`` if the run has now diverged."""
        self.last = loss
        if not math.isfinite(loss):
            return True
        if self.reference is None:
            self.reference = max(loss, self.uniform)
        self._recent.append(loss)
        full = len(self._recent) == self._recent.maxlen
        return full and self.median > self.factor * self.reference

    def describe(self) -> str:
        """What happened, in words: ``"the loss became nan"``, or how far it blew up."""
        if not math.isfinite(self.last):
            return f"the loss became {self.last}"
        return (
            f"the loss blew up to {self.median:.3g} (median of the last {len(self._recent)} "
            f"batches; it started at {self.reference:.3g})"
        )


def diverged_message(watch: DivergenceWatch, lr: float, where: str, best: EpochEvent | None) -> str:
    """One sentence: what blew up where, the learning rate to try, and which weights are kept.

    Args:
        watch: The watch that saw the run diverge.
        lr: The run's learning rate (peak rate for one-cycle).
        where: Where it happened (``"epoch 2, step 31"``).
        best: The epoch whose weights the model keeps (``None``: the initial weights).
    """
    kept = (
        "its initial weights, as no epoch finished"
        if best is None
        else f"the weights of epoch {best.epoch}, its best ({best.val_accuracy:.1%} validation "
        "accuracy)"
    )
    return (
        f"At {where} {watch.describe()}: learning rate {lr:g} is too high, so try "
        f"{lr / 10:g} (10x smaller); the model keeps {kept}."
    )
