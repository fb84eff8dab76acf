"""check's comparison rules on small arrays: ties may flip, anything else is a difference."""
from __future__ import annotations

import numpy as np
import pytest

from patcher.check import Row, measure

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


@pytest.mark.parametrize(("row", "ok"), [
    (Row("wasm", (2, 2), 0.5, 0.0, 1, 1, 0.0, 1e-5, exact=True, unexplained=0.0), True),
    (Row("wasm", (2, 2), 1.0, 0.0, 1, 1, 0.0, 1e-5, exact=True, unexplained=0.25), False),
    (Row("wasm", (2, 2), 1.0, 2e-5, 1, 1, 0.0, 1e-5, exact=True), False),
    (Row("wasm", (2, 2), 0.995, 3e-4, 1, 1, 0.99, None), True),
    (Row("wasm", (2, 2), 0.985, 3e-4, 1, 1, 0.99, None), False),
    (Row("wasm", (2, 2), 0.9995, 5e-5, 1, 1), True),
    (Row("wasm", (2, 2), 0.9995, 2e-4, 1, 1), False),
])
def test_row_bounds(row, ok):
    assert row.ok is ok
