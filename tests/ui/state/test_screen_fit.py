"""The window's first size and a restored size fit the screen it opens on."""

from __future__ import annotations

from kneeseg_app.ui.state.screen_fit import (
    MINIMUM_SIZE,
    Rect,
    clamp_geometry,
    dock_width,
    initial_geometry,
    minimum_size,
)

LAPTOP = Rect(0, 0, 1366, 740)  # 1366 x 768 less a task bar
SCALED_FULL_HD = Rect(0, 0, 1280, 690)  # 1920 x 1080 at 150 %, less a task bar
BIG = Rect(0, 0, 2560, 1400)


def test_the_first_window_fits_a_laptop_and_a_scaled_screen() -> None:
    for screen in (LAPTOP, SCALED_FULL_HD):
        first = initial_geometry(screen)
        assert screen.contains(first)
        assert first.width >= MINIMUM_SIZE[0] and first.height >= MINIMUM_SIZE[1]


def test_a_big_screen_gets_the_preferred_size_centred() -> None:
    first = initial_geometry(BIG)
    assert (first.width, first.height) == (1500, 950)
    assert first.x == (2560 - 1500) // 2


def test_a_window_restored_from_a_big_screen_is_clamped_to_the_laptop() -> None:
    restored = clamp_geometry(Rect(300, 200, 1900, 1050), LAPTOP)
    assert LAPTOP.contains(restored)
    assert (restored.width, restored.height) == (1366, 740)
    moved = clamp_geometry(Rect(1200, 600, 800, 600), LAPTOP)
    assert LAPTOP.contains(moved) and (moved.width, moved.height) == (800, 600)


def test_the_minimum_never_exceeds_a_tiny_screen() -> None:
    assert minimum_size(Rect(0, 0, 800, 500)) == (800, 500)


def test_the_dock_leaves_most_of_a_laptop_window_to_the_views() -> None:
    assert dock_width(1256) == 376
    assert dock_width(900) == 300 and dock_width(2400) == 460
