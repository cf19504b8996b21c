"""The PNG chart of a run, drawn with Pillow (matplotlib is not a dependency): on top the
speedup of every timed case as a horizontal bar on a log axis around 1x (green: cnnops faster,
red: slower), below it a roofline plot: achieved GFLOP/s of every convolution case (cnnops
filled, coloured by pass and shaped by dtype; torch as grey outlines) against its arithmetic
intensity (FLOPs per byte that the pass must at least move), under the compute ceilings (one
line per dtype's matmul) and the bandwidth ceiling (the large copy's GB/s) measured in the same
run."""
import math
from typing import Dict, List, Optional, Tuple

WIDTH = 1200
BAR_ROW = 14
MARGIN = 20
LABEL_W = 420
ROOF_H = 620
PASS_COLOURS = {"fwd": (31, 119, 180), "fwdbwd": (214, 39, 40), "dgrad": (44, 160, 44), "wgrad": (148, 103, 189),
                "train": (255, 127, 14)}
GREEN, RED, GREY, BLACK, LIGHT = (60, 160, 80), (200, 70, 60), (150, 150, 150), (0, 0, 0), (225, 225, 225)
SHAPES = ("circle", "square", "diamond", "triangle")  # one per dtype in the run, in order of appearance


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1 with FreeType: scalable
    except TypeError:  # pragma: no cover - older Pillow: the fixed bitmap font
        return ImageFont.load_default()


def _log_axis(lo: float, hi: float, a: float, b: float):
    """Maps [lo, hi] on a log scale to pixels [a, b]."""
    llo, lhi = math.log10(lo), math.log10(hi)
    return lambda v: a + (math.log10(min(max(v, lo), hi)) - llo) / (lhi - llo) * (b - a)


def _decades(lo: float, hi: float) -> List[float]:
    return [10.0 ** e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
            if lo <= 10.0 ** e <= hi]


def _label(r: Dict[str, object]) -> str:
    text = f"{r['suite']} {r['name']} {r['pass']} {r.get('dtype', '')} {r.get('layout', '')}"
    return text if len(text) <= 62 else text[:61] + "~"


def _draw_speedups(draw, rows: List[Dict[str, object]], top: int, font) -> int:
    draw.text((MARGIN, top), "speedup = torch time / cnnops time (log scale; > 1: cnnops faster)", fill=BLACK,
              font=font)
    top += 22
    lo = min([0.5] + [r["speedup"] / 1.2 for r in rows])
    hi = max([4.0] + [r["speedup"] * 1.2 for r in rows])
    x0, x1 = MARGIN + LABEL_W, WIDTH - MARGIN
    xs = _log_axis(lo, hi, x0, x1)
    bottom = top + BAR_ROW * len(rows)
    for tick in [t for t in (0.125, 0.25, 0.5, 1, 2, 4, 8, 16, 32) if lo <= t <= hi]:
        draw.line([(xs(tick), top), (xs(tick), bottom)], fill=LIGHT if tick != 1 else BLACK)
        draw.text((xs(tick) - 8, bottom + 3), f"{tick:g}x", fill=BLACK, font=font)
    for i, r in enumerate(rows):
        y = top + i * BAR_ROW
        draw.text((MARGIN, y), _label(r), fill=BLACK, font=font)
        a, b = sorted((xs(1.0), xs(r["speedup"])))
        draw.rectangle([a, y + 2, max(b, a + 1), y + BAR_ROW - 2], fill=GREEN if r["speedup"] >= 1 else RED)
    return bottom + 24


def _draw_roofline(draw, rows: List[Dict[str, object]], ceilings: Dict[str, float], top: int, font) -> None:
    draw.text((MARGIN, top), "roofline: GFLOP/s vs arithmetic intensity (FLOP/byte), log-log; "
              "cnnops filled (colour: pass, shape: dtype), torch grey outlines", fill=BLACK, font=font)
    top += 22
    peaks = {k[len("matmul_"):-len("_gflops")]: v for k, v in ceilings.items()
             if k.startswith("matmul_") and k.endswith("_gflops") and v > 0}
    bandwidth = ceilings.get("copy_gbs", 0.0)
    points = [r for r in rows if r.get("intensity") and r.get("gflops")]
    ai = [r["intensity"] for r in points] + ([max(peaks.values()) / bandwidth] if peaks and bandwidth else [])
    perf = [v for r in points for v in (r["gflops"], r["base_gflops"])] + list(peaks.values())
    if not ai or not perf:
        draw.text((MARGIN, top), "(no convolution cases with a FLOP count)", fill=BLACK, font=font)
        return
    x_lo, x_hi = min(ai) / 4, max(ai) * 2
    y_lo, y_hi = min(perf) / 2, max(perf) * 2
    left, right, ptop, pbottom = MARGIN + 70, WIDTH - MARGIN - 160, top + 10, top + ROOF_H - 40
    xs, ys = _log_axis(x_lo, x_hi, left, right), _log_axis(y_lo, y_hi, pbottom, ptop)
    draw.rectangle([left, ptop, right, pbottom], outline=BLACK)
    for t in _decades(x_lo, x_hi):
        draw.line([(xs(t), ptop), (xs(t), pbottom)], fill=LIGHT)
        draw.text((xs(t) - 10, pbottom + 4), f"{t:g}", fill=BLACK, font=font)
    for t in _decades(y_lo, y_hi):
        draw.line([(left, ys(t)), (right, ys(t))], fill=LIGHT)
        draw.text((MARGIN, ys(t) - 6), f"{t:g}", fill=BLACK, font=font)
    draw.text(((left + right) // 2 - 60, pbottom + 20), "FLOP per byte moved", fill=BLACK, font=font)
    draw.text((MARGIN, ptop - 16), "GFLOP/s", fill=BLACK, font=font)
    for name, peak in peaks.items():  # the roof: min(peak, bandwidth * intensity)
        steps = 200
        line = []
        for i in range(steps + 1):
            x = x_lo * (x_hi / x_lo) ** (i / steps)
            line.append((xs(x), ys(min(peak, bandwidth * x) if bandwidth else peak)))
        draw.line(line, fill=BLACK, width=2)
        draw.text((right + 6, ys(peak) - 6), f"{name} {peak:.0f}", fill=BLACK, font=font)
    if bandwidth:  # label the slope where it starts, left of the ridge point
        x = x_lo * 1.3
        draw.text((xs(x) + 4, ys(bandwidth * x) + 4), f"copy {bandwidth:.0f} GB/s", fill=BLACK, font=font)
    dtypes = list(dict.fromkeys(str(r.get("dtype", "")) for r in points))
    shape = {d: SHAPES[i % len(SHAPES)] for i, d in enumerate(dtypes)}
    for r in points:
        _marker(draw, xs(r["intensity"]), ys(r["base_gflops"]), shape[str(r.get("dtype", ""))], outline=GREY)
    for r in points:
        _marker(draw, xs(r["intensity"]), ys(r["gflops"]), shape[str(r.get("dtype", ""))],
                fill=PASS_COLOURS.get(r["pass"], BLACK))
    passes = {r["pass"] for r in points}
    legend = [(name, "circle", colour) for name, colour in PASS_COLOURS.items() if name in passes]
    legend += [(d, shape[d], GREY) for d in dtypes] if len(dtypes) > 1 else []
    for i, (name, mark, colour) in enumerate(reversed(legend)):
        y = pbottom - 10 - 16 * i
        _marker(draw, right + 11, y, mark, fill=colour)
        draw.text((right + 20, y - 7), name, fill=BLACK, font=font)


def _marker(draw, x: float, y: float, shape: str, fill=None, outline=None, r: float = 3.5) -> None:
    if shape == "circle":
        draw.ellipse([x - r, y - r, x + r, y + r], fill=fill, outline=outline)
    elif shape == "square":
        draw.rectangle([x - r, y - r, x + r, y + r], fill=fill, outline=outline)
    elif shape == "diamond":
        draw.polygon([(x, y - r - 1), (x + r + 1, y), (x, y + r + 1), (x - r - 1, y)], fill=fill, outline=outline)
    else:
        draw.polygon([(x, y - r - 1), (x + r + 1, y + r), (x - r - 1, y + r)], fill=fill, outline=outline)


def write_chart(path: str, rows: List[Dict[str, object]], ceilings: Dict[str, float],
                title: str = "") -> Optional[str]:
    """Writes the PNG and returns its path; None where Pillow is not installed."""
    try:
        from PIL import Image, ImageDraw
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    timed = [r for r in rows if "speedup" in r]
    font = _font(11)
    img = Image.new("RGB", chart_size(len(timed)), "white")
    draw = ImageDraw.Draw(img)
    draw.text((MARGIN, 10), title, fill=BLACK, font=_font(14))
    top = _draw_speedups(draw, timed, 40, font) if timed else 40 + 22
    _draw_roofline(draw, timed, ceilings, top, font)
    img.save(path, "PNG")
    return path


def chart_size(n_rows: int) -> Tuple[int, int]:
    """(width, height) of the chart for n_rows timed cases."""
    return WIDTH, 40 + 22 + BAR_ROW * max(n_rows, 1) + 24 + 22 + ROOF_H + MARGIN
