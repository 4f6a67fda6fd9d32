"""Draws the listing icon: ``collectbridge.svg`` and PNGs of 512, 256 and 128 pixels.

One geometry, two renderings: the SVG from the shapes below, the PNGs by sampling the same
shapes on a 2048-pixel grid (standard library only: ``zlib`` and ``struct``) and averaging
blocks down to each size. Run by hand after changing a shape and commit what it writes:

    python assets/icons/render.py

Shapes are in a 512-unit square: a blue rounded tile, and on it a white bridge (an arch over a
deck, three hangers, two piers): the app spans the ledger and the collection account.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
UNITS = 512
TILE = (0x1F, 0x4F, 0xD1)  # the tile's blue
INK = (0xFF, 0xFF, 0xFF)
CORNER = 112
ARCH = (256, 302, 160, 128)  # centre x, centre y, outer and inner radius (upper half only)
RECTS = (  # x, y, width, height
    (96, 270, 320, 32),  # deck
    (184, 180, 16, 90),  # hangers
    (248, 160, 16, 110),
    (312, 180, 16, 90),
    (120, 302, 32, 68),  # piers
    (360, 302, 32, 68),
)
GRID = 2048
SIZES = (512, 256, 128)


def in_tile(x: float, y: float) -> bool:
    cx = min(max(x, CORNER), UNITS - CORNER)
    cy = min(max(y, CORNER), UNITS - CORNER)
    return 0 <= x <= UNITS and 0 <= y <= UNITS and (x - cx) ** 2 + (y - cy) ** 2 <= CORNER**2


def in_ink(x: float, y: float) -> bool:
    ax, ay, outer, inner = ARCH
    if y <= ay and inner**2 <= (x - ax) ** 2 + (y - ay) ** 2 <= outer**2:
        return True
    return any(rx <= x <= rx + w and ry <= y <= ry + h for rx, ry, w, h in RECTS)


def svg() -> str:
    ax, ay, outer, inner = ARCH
    arch = (
        f"M{ax - outer} {ay}A{outer} {outer} 0 0 1 {ax + outer} {ay}"
        f"H{ax + inner}A{inner} {inner} 0 0 0 {ax - inner} {ay}Z"
    )
    rects = "".join(f'<rect x="{x}" y="{y}" width="{w}" height="{h}"/>' for x, y, w, h in RECTS)
    blue = "#{:02X}{:02X}{:02X}".format(*TILE)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {UNITS} {UNITS}" '
        f'width="{UNITS}" height="{UNITS}" role="img" aria-label="collectbridge">'
        f"<title>collectbridge</title>"
        f'<rect width="{UNITS}" height="{UNITS}" rx="{CORNER}" fill="{blue}"/>'
        f'<g fill="#FFFFFF"><path d="{arch}"/>{rects}</g></svg>\n'
    )


def samples() -> list[list[tuple[int, int]]]:
    """Per grid cell: (tile 0/1, ink 0/1) sampled at the cell's centre."""
    scale = UNITS / GRID
    rows = []
    for j in range(GRID):
        y = (j + 0.5) * scale
        row = []
        for i in range(GRID):
            x = (i + 0.5) * scale
            tile = in_tile(x, y)
            row.append((int(tile), int(tile and in_ink(x, y))))
        rows.append(row)
    return rows


def rgba(grid: list[list[tuple[int, int]]], size: int) -> bytes:
    block = GRID // size
    n = block * block
    out = bytearray()
    for j in range(size):
        out.append(0)  # PNG filter type: none
        for i in range(size):
            tile = ink = 0
            for row in grid[j * block : (j + 1) * block]:
                for t, k in row[i * block : (i + 1) * block]:
                    tile += t
                    ink += k
            if tile == 0:
                out += b"\0\0\0\0"
                continue
            share = ink / tile  # colour among the covered samples; coverage becomes alpha
            out += bytes(round(b * (1 - share) + w * share) for b, w in zip(TILE, INK, strict=True))
            out.append(round(255 * tile / n))
    return bytes(out)


def png(size: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def main() -> None:
    (HERE / "collectbridge.svg").write_text(svg(), encoding="utf-8")
    grid = samples()
    for size in SIZES:
        (HERE / f"collectbridge-{size}.png").write_bytes(png(size, rgba(grid, size)))


if __name__ == "__main__":
    main()
