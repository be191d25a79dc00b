"""The report's charts as PNG images, drawn with Pillow. Pure: no Flask, no database.

Word and PowerPoint take charts as pictures. reportlab's own bitmap renderer needs Cairo, which
has no wheels, so the few shapes `charts.py` draws (rectangles, lines, polygons, circles and text)
are painted here from the same drawing the PDF embeds: both formats always show the same chart.
"""

from __future__ import annotations

from functools import cache
from io import BytesIO

from PIL import Image, ImageDraw, ImageFont
from reportlab.graphics.shapes import Circle, Drawing, Group, Line, Polygon, Rect, String

from usabtest.reports import fonts

SCALE = 3.0  # pixels per point: sharp when Word or PowerPoint shows the chart full width
ANCHORS = {"start": "ls", "middle": "ms", "end": "rs"}


@cache
def _font(name: str, size_px: int) -> ImageFont.FreeTypeFont:
    source = fonts.find_source()
    regular, bold, italic, bold_italic = source.files
    file = {fonts.BOLD: bold, fonts.ITALIC: italic, fonts.BOLD_ITALIC: bold_italic}.get(name, regular)
    return ImageFont.truetype(str(source.directory / file), size_px)


def _rgb(colour) -> tuple[int, int, int] | None:
    if colour is None:
        return None
    red, green, blue = colour.rgb()
    return round(red * 255), round(green * 255), round(blue * 255)


class _Painter:
    """Paints reportlab shapes on a Pillow image: y grows upwards in the drawing, downwards here."""

    def __init__(self, drawing: Drawing, scale: float) -> None:
        self.scale = scale
        self.height = drawing.height
        size = (max(1, round(drawing.width * scale)), max(1, round(drawing.height * scale)))
        self.image = Image.new("RGB", size, "white")
        self.draw = ImageDraw.Draw(self.image)

    def point(self, x: float, y: float) -> tuple[float, float]:
        return x * self.scale, (self.height - y) * self.scale

    def width(self, shape) -> int:
        return max(1, round((shape.strokeWidth or 1) * self.scale))

    def paint(self, shape) -> None:
        if isinstance(shape, Group):
            if tuple(shape.transform) != (1, 0, 0, 1, 0, 0):
                raise TypeError("charts are drawn without transformed groups")
            for child in shape.contents:
                self.paint(child)
        elif isinstance(shape, Rect):
            corners = [self.point(shape.x, shape.y + shape.height),
                       self.point(shape.x + shape.width, shape.y)]
            self.draw.rectangle(corners, fill=_rgb(shape.fillColor), outline=_rgb(shape.strokeColor),
                                width=self.width(shape) if shape.strokeColor is not None else 0)
        elif isinstance(shape, Line):
            self._line(shape)
        elif isinstance(shape, Polygon):
            points = [self.point(x, y) for x, y in zip(shape.points[::2], shape.points[1::2], strict=True)]
            self.draw.polygon(points, fill=_rgb(shape.fillColor), outline=_rgb(shape.strokeColor))
        elif isinstance(shape, Circle):
            cx, cy = self.point(shape.cx, shape.cy)
            r = shape.r * self.scale
            self.draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=_rgb(shape.fillColor),
                              outline=_rgb(shape.strokeColor))
        elif isinstance(shape, String):
            font = _font(shape.fontName, max(1, round(shape.fontSize * self.scale)))
            self.draw.text(self.point(shape.x, shape.y), shape.text, font=font, fill=_rgb(shape.fillColor),
                           anchor=ANCHORS.get(shape.textAnchor, "ls"))
        else:
            raise TypeError(f"no PNG painting for {type(shape).__name__}")

    def _line(self, line: Line) -> None:
        start, end = self.point(line.x1, line.y1), self.point(line.x2, line.y2)
        colour, width = _rgb(line.strokeColor), self.width(line)
        dashes = line.strokeDashArray
        if not dashes:
            self.draw.line([start, end], fill=colour, width=width)
            return
        # Pillow draws no dashed lines: lay the dashes along the line one by one.
        on, off = (dashes[0], dashes[1] if len(dashes) > 1 else dashes[0])
        length = ((end[0] - start[0]) ** 2 + (end[1] - start[1]) ** 2) ** 0.5
        step_on, step_off = on * self.scale, off * self.scale
        travelled = 0.0
        while travelled < length:
            stop = min(travelled + step_on, length)
            a, b = travelled / length, stop / length
            self.draw.line([(start[0] + (end[0] - start[0]) * a, start[1] + (end[1] - start[1]) * a),
                            (start[0] + (end[0] - start[0]) * b, start[1] + (end[1] - start[1]) * b)],
                           fill=colour, width=width)
            travelled = stop + step_off


def png(drawing: Drawing, scale: float = SCALE) -> bytes:
    """`drawing` as PNG bytes, `scale` pixels per point."""
    painter = _Painter(drawing, scale)
    for shape in drawing.contents:
        painter.paint(shape)
    buffer = BytesIO()
    # PIL's `optimize` halves the speed of an export with several charts for about 3 % fewer bytes.
    painter.image.save(buffer, "PNG")
    return buffer.getvalue()
