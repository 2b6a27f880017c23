"""The KneeSeg icon: a femur (orange) over a tibia (blue), as the overlay colours them.

Drawn with QPainter so it needs no image tooling; ``resources/icons/kneeseg.png``
(and ``.svg``) are written from the same shapes by ``write_icon_files``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPainterPath, QPen

from kneeseg_app.core import paths

BACKGROUND = "#1b2633"
FEMUR = "#ff6e32"
TIBIA = "#28a0ff"


def _femur_path() -> QPainterPath:
    """Shaft from the top, widening into two rounded condyles (unit: 1/100 of the icon)."""
    p = QPainterPath()
    p.moveTo(41, 8)
    p.lineTo(59, 8)
    p.cubicTo(59, 26, 62, 32, 74, 40)
    p.cubicTo(84, 46, 82, 56, 72, 56)
    p.cubicTo(64, 56, 58, 45, 50, 45)
    p.cubicTo(42, 45, 36, 56, 28, 56)
    p.cubicTo(18, 56, 16, 46, 26, 40)
    p.cubicTo(38, 32, 41, 26, 41, 8)
    p.closeSubpath()
    return p


def _tibia_path() -> QPainterPath:
    """Plateau just below the condyles, narrowing into the shaft."""
    p = QPainterPath()
    p.moveTo(22, 62)
    p.cubicTo(34, 59, 66, 59, 78, 62)
    p.cubicTo(80, 68, 72, 72, 62, 76)
    p.cubicTo(58, 80, 58, 86, 58, 93)
    p.lineTo(43, 93)
    p.cubicTo(43, 86, 42, 80, 38, 76)
    p.cubicTo(28, 72, 20, 68, 22, 62)
    p.closeSubpath()
    return p


def draw_icon(size: int = 256) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.scale(size / 100.0, size / 100.0)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(BACKGROUND))
    painter.drawRoundedRect(QRectF(2, 2, 96, 96), 18, 18)
    outline = QPen(QColor("#0d131a"), 1.6)
    for path, color in ((_femur_path(), FEMUR), (_tibia_path(), TIBIA)):
        painter.setPen(outline)
        painter.setBrush(QColor(color))
        painter.drawPath(path)
    painter.setPen(QPen(QColor(255, 255, 255, 90), 1.2, Qt.PenStyle.DashLine))
    painter.drawLine(QPointF(14, 58.5), QPointF(86, 58.5))  # the joint line
    painter.end()
    return image


def icon_path() -> Path:
    return paths.resources_dir() / "icons" / "kneeseg.png"


def app_icon() -> QIcon:
    """The shipped PNG, or the icon drawn now when the file is missing."""
    from PySide6.QtGui import QPixmap

    file = icon_path()
    if file.is_file():
        return QIcon(str(file))
    return QIcon(QPixmap.fromImage(draw_icon(256)))


def _svg_path(path: QPainterPath) -> str:
    parts = []
    for i in range(path.elementCount()):
        e = path.elementAt(i)
        if e.isMoveTo():
            parts.append(f"M{e.x:g},{e.y:g}")
        elif e.isLineTo():
            parts.append(f"L{e.x:g},{e.y:g}")
        elif e.isCurveTo():
            c2, end = path.elementAt(i + 1), path.elementAt(i + 2)
            parts.append(f"C{e.x:g},{e.y:g} {c2.x:g},{c2.y:g} {end.x:g},{end.y:g}")
    return " ".join(parts) + " Z"


def svg_text() -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100" width="256" height="256">\n'
        f'  <rect x="2" y="2" width="96" height="96" rx="18" fill="{BACKGROUND}"/>\n'
        f'  <path d="{_svg_path(_femur_path())}" fill="{FEMUR}" stroke="#0d131a" stroke-width="1.6"/>\n'
        f'  <path d="{_svg_path(_tibia_path())}" fill="{TIBIA}" stroke="#0d131a" stroke-width="1.6"/>\n'
        '  <line x1="14" y1="58.5" x2="86" y2="58.5" stroke="#ffffff" stroke-opacity="0.35" '
        'stroke-width="1.2" stroke-dasharray="3 2"/>\n'
        "</svg>\n"
    )


def write_icon_files(folder: Path) -> list[Path]:
    """Write kneeseg.png (256 px), kneeseg-64.png and kneeseg.svg into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for size, name in ((256, "kneeseg.png"), (64, "kneeseg-64.png")):
        target = folder / name
        draw_icon(size).save(str(target))
        written.append(target)
    svg = folder / "kneeseg.svg"
    svg.write_text(svg_text(), encoding="utf-8")
    return [*written, svg]
