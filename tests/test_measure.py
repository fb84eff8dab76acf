"""check's comparison rules for class maps (the labels kind) on small arrays: ties may flip, anything else is a
difference."""
from __future__ import annotations

import numpy as np
import pytest

from patcher.kinds import Bound
from patcher.kinds.labels import KIND, measure

PROB = np.array([[[0.5, 0.3, 0.2], [0.4, 0.4, 0.2]]], dtype=np.float32)  # 1 x 2 pixels x 3 classes
LABELS = np.array([[0, 0]])


def test_identical_outputs_agree_fully():
    assert measure(LABELS, PROB, LABELS, PROB) == (1.0, 0.0, 0.5, 0.0)


def test_a_tied_pixel_may_flip():
    agreement, diff, could_flip, unexplained = measure(np.array([[0, 1]]), PROB, LABELS, PROB)
    assert (agreement, diff, could_flip, unexplained) == (0.5, 0.0, 0.5, 0.0)


def test_a_clear_pixel_that_flips_is_a_difference():
    agreement, _, _, unexplained = measure(np.array([[1, 0]]), PROB, LABELS, PROB)
    assert agreement == 0.5 and unexplained == 0.5


def test_a_larger_difference_widens_what_may_flip():
    moved = PROB + np.array([[[0.0, 0.11, -0.11], [0.0, 0.0, 0.0]]], dtype=np.float32)
    agreement, diff, could_flip, unexplained = measure(np.array([[1, 0]]), moved, LABELS, PROB)
    assert diff == pytest.approx(0.11) and could_flip == 1.0 and unexplained == 0.0 and agreement == 0.5


MOVED = PROB + np.array([[[0.0, 2e-5, -2e-5], [0.0, 0.0, 0.0]]], dtype=np.float32)


@pytest.mark.parametrize(("labels", "prob", "bound", "ok"), [
    ([[0, 1]], PROB, Bound("agreement", 0.0, 1e-5, exact=True), True),  # a tie flipped
    ([[1, 0]], PROB, Bound("agreement", 0.0, 1e-5, exact=True), False),  # a clear pixel flipped
    ([[0, 0]], MOVED, Bound("agreement", 0.0, 1e-5, exact=True), False),  # probabilities too far apart
    ([[0, 1]], MOVED, Bound("agreement", 0.5), True),
    ([[0, 1]], MOVED, Bound("agreement", 0.99), False),
    ([[0, 0]], PROB, Bound("agreement", 0.999, 1e-4), True),
    ([[0, 0]], PROB + 2e-4, Bound("agreement", 0.999, 1e-4), False),
])
def test_bounds(labels, prob, bound, ok):
    found = KIND.compare([np.array(labels), prob], [LABELS, PROB], bound, {})
    assert found.ok is ok and (found.reason == "") is ok
