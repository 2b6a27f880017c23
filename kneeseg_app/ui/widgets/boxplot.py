"""Box plots in pyqtgraph (it has none): boxes, medians, whiskers and the cases."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg

from kneeseg_app.ui.controllers.batch_logic import box_stats


def draw_boxplots(
    plot: pg.PlotWidget,
    groups: Sequence[tuple[str, Sequence[float], tuple[int, int, int]]],
    title: str = "",
) -> int:
    """Draw one box per (label, values, colour); returns how many boxes had data."""
    plot.clear()
    plot.setTitle(title, size="9pt")
    drawn = 0
    ticks = []
    for x, (label, values, color) in enumerate(groups):
        ticks.append((x, label))
        stats = box_stats(values)
        if stats is None:
            continue
        drawn += 1
        low, q1, median, q3, high = stats
        plot.addItem(
            pg.BarGraphItem(
                x=[x],
                y0=[q1],
                height=[max(q3 - q1, 1e-9)],
                width=0.6,
                brush=(*color, 120),
                pen=pg.mkPen(color, width=1.5),
            )
        )
        pen = pg.mkPen(color, width=1.5)
        plot.plot([x - 0.3, x + 0.3], [median, median], pen=pg.mkPen("w", width=2))
        plot.plot([x, x], [high, q3], pen=pen)
        plot.plot([x, x], [q1, low], pen=pen)
        plot.plot([x - 0.15, x + 0.15], [high, high], pen=pen)
        plot.plot([x - 0.15, x + 0.15], [low, low], pen=pen)
        finite = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
        jitter = (np.random.default_rng(x).random(finite.size) - 0.5) * 0.3
        plot.plot(x + jitter, finite, pen=None, symbol="o", symbolSize=5, symbolBrush=(*color, 200), symbolPen=None)
    plot.getAxis("bottom").setTicks([ticks])
    plot.setXRange(-0.7, max(len(groups) - 0.3, 0.7), padding=0)
    return drawn
