"""The engine's running argmax also gives the top-class softmax probability, without changing the labels."""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.inference.predict import TopClass, argmax_into


def _logits(seed: int, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 4, (channels, 7, 9)).astype(np.float32)
    logits[:, 0, 0] = 2.5  # a tie: the first channel wins, as np.argmax
    return logits


def test_labels_are_argmax_and_bytes_are_the_top_softmax_probability() -> None:
    logits = _logits(0)
    labels = np.full((7, 9), 99, np.uint8)
    top = np.zeros((7, 9), np.uint8)
    running = TopClass(labels, top)
    for c, channel in enumerate(logits):
        running.add(channel, c)
    running.finish()
    np.testing.assert_array_equal(labels, np.argmax(logits, axis=0))
    softmax = np.exp(logits - logits.max(axis=0)) / np.exp(logits - logits.max(axis=0)).sum(axis=0)
    np.testing.assert_array_equal(top, np.rint(softmax.max(axis=0) * 255).astype(np.uint8))
    assert top[0, 0] == 85  # three equal logits: one third


def test_without_a_probability_map_it_is_the_plain_running_argmax() -> None:
    logits = _logits(1, channels=4)
    labels = np.zeros((7, 9), np.uint8)
    running = TopClass(labels)
    for c, channel in enumerate(logits):
        running.add(channel.copy(), c)
    running.finish()
    expected = np.zeros((7, 9), np.uint8)
    best = None
    for c, channel in enumerate(logits):
        best = argmax_into(best, expected, channel.copy(), c)
    np.testing.assert_array_equal(labels, expected)


def test_very_confident_logits_do_not_overflow() -> None:
    logits = np.array([[[-500.0]], [[800.0]], [[-900.0]]], np.float32)
    labels = np.zeros((1, 1), np.uint8)
    top = np.zeros((1, 1), np.uint8)
    running = TopClass(labels, top)
    for c, channel in enumerate(logits):
        running.add(channel, c)
    running.finish()
    assert labels[0, 0] == 1 and top[0, 0] == 255
