"""How big the main window is, and where, on the screen it opens on. Qt-free.

A window sized for a 1920 x 1080 monitor (or restored from one) puts the Segment button
below the edge of a 1366 x 768 laptop, and 150 % scaling leaves a 1280 x 720 logical
screen. So the first size comes from the screen's available area, and a restored
geometry is clamped into it.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFERRED_SIZE = (1500, 950)
"""The size on a large screen (logical pixels)."""
SCREEN_SHARE = 0.92
"""At most this share of the available area, so the desktop's edges stay visible."""
MINIMUM_SIZE = (900, 560)
"""The smallest usable window: the views and a narrow dock still fit (1280 x 720 at 150 % is above it)."""


@dataclass(frozen=True)
class Rect:
    """x, y, width, height in logical pixels (as Qt's QRect)."""

    x: int
    y: int
    width: int
    height: int

    def contains(self, other: Rect) -> bool:
        return (
            other.x >= self.x
            and other.y >= self.y
            and other.x + other.width <= self.x + self.width
            and other.y + other.height <= self.y + self.height
        )


def minimum_size(available: Rect) -> tuple[int, int]:
    """The window's minimum size: never more than the screen offers."""
    return min(MINIMUM_SIZE[0], available.width), min(MINIMUM_SIZE[1], available.height)


def initial_geometry(available: Rect) -> Rect:
    """The first window: the preferred size or a share of the screen, centred in the available area."""
    width = min(PREFERRED_SIZE[0], int(available.width * SCREEN_SHARE))
    height = min(PREFERRED_SIZE[1], int(available.height * SCREEN_SHARE))
    width, height = max(width, minimum_size(available)[0]), max(height, minimum_size(available)[1])
    return Rect(
        available.x + (available.width - width) // 2, available.y + (available.height - height) // 2, width, height
    )


def clamp_geometry(frame: Rect, available: Rect) -> Rect:
    """``frame`` (a restored window, frame included) shrunk and moved to lie inside ``available``."""
    width = min(frame.width, available.width)
    height = min(frame.height, available.height)
    x = min(max(frame.x, available.x), available.x + available.width - width)
    y = min(max(frame.y, available.y), available.y + available.height - height)
    return Rect(x, y, width, height)


DOCK_SHARE = 0.3
DOCK_WIDTH_RANGE = (300, 460)


def dock_width(window_width: int) -> int:
    """The tools dock's first width: a share of the window within a range, the rest for the views."""
    low, high = DOCK_WIDTH_RANGE
    return int(min(max(window_width * DOCK_SHARE, low), high))
