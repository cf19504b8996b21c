"""Edge detection with convolutions: the course's 6x6 example, Sobel and Scharr filters on a
photograph, and a 3x3 convolution layer learning the vertical-edge filter from examples.

    python -m examples.edge_detection            # prints the 6x6 example, writes examples/results/edges.png
    python -m examples.edge_detection --steps 300 --output /tmp/edges.png

"Convolution" here is what deep-learning libraries compute: cross-correlation (the filter is
not flipped), 'valid' (no padding) unless said otherwise.
"""
import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python examples/edge_detection.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

import cnnops

VERTICAL = torch.tensor([[1.0, 0.0, -1.0],
                         [1.0, 0.0, -1.0],
                         [1.0, 0.0, -1.0]])
HORIZONTAL = VERTICAL.t().contiguous()  # rows 1, 0, -1: bright above, dark below
SOBEL = torch.tensor([[1.0, 0.0, -1.0],
                      [2.0, 0.0, -2.0],
                      [1.0, 0.0, -1.0]])
SCHARR = torch.tensor([[3.0, 0.0, -3.0],
                       [10.0, 0.0, -10.0],
                       [3.0, 0.0, -3.0]])


def step_image() -> torch.Tensor:
    """The course's 6x6 grey image: left three columns 10 (bright), right three 0 (dark)."""
    img = torch.zeros(6, 6)
    img[:, :3] = 10
    return img


def convolve(img: torch.Tensor, kernel: torch.Tensor, padding=0) -> torch.Tensor:
    """A single-channel H x W image convolved with a single k x k filter (cnnops.conv2d)."""
    return cnnops.conv2d(img[None, None], kernel[None, None].to(img.dtype), padding=padding)[0, 0]


def six_by_six():
    """(image, vertical-edge output): the output is 4x4 with every row [0, 30, 30, 0], a bright
    band where the bright-to-dark edge sits (the band is wide because the image is tiny)."""
    img = step_image()
    return img, convolve(img, VERTICAL)


def photo_grey() -> torch.Tensor:
    """scikit-learn's sample photograph china.jpg (427 x 640) in grey levels, values in [0, 1]."""
    from sklearn.datasets import load_sample_image

    rgb = torch.tensor(load_sample_image("china.jpg"), dtype=torch.float32) / 255.0
    return rgb @ torch.tensor([0.299, 0.587, 0.114])  # ITU-R BT.601 luma


def edge_maps(grey: torch.Tensor) -> dict:
    """Vertical and horizontal responses and gradient magnitudes of the Sobel and Scharr filters
    ('same' padding, so the maps keep the photograph's size)."""
    out = {}
    for name, k in (("Sobel", SOBEL), ("Scharr", SCHARR)):
        gx = convolve(grey, k, padding="same")      # responds to vertical edges
        gy = convolve(grey, k.t().contiguous(), padding="same")  # responds to horizontal edges
        out[name] = {"vertical": gx, "horizontal": gy, "magnitude": torch.sqrt(gx * gx + gy * gy)}
    return out


def _to_image(t: torch.Tensor, signed: bool):
    from PIL import Image

    t = t.detach().float()
    # Scale by the 99.5th percentile of |t| so that a few strong edges do not grey out the rest.
    top = t.abs().flatten().kthvalue(max(1, int(0.995 * t.numel()))).values.clamp_min(1e-12)
    t = 0.5 + 0.5 * t / top if signed else t / top  # signed: 0 -> mid grey, + white, - black
    return Image.fromarray((t.clamp(0, 1) * 255).round().to(torch.uint8).numpy(), mode="L")


def save_figure(path: Path, scale: float = 0.5) -> Path:
    """A 2 x 4 grid, each panel labelled, written as a PNG with PIL: the photograph and its
    Sobel vertical / horizontal / magnitude maps (top); the 6x6 example and its output, and the
    Scharr maps (bottom)."""
    from PIL import Image, ImageDraw

    grey = photo_grey()
    maps = edge_maps(grey)
    img, out = six_by_six()
    example = torch.zeros(6, 13)  # the 6x6 image, a gap, the 4x4 output centred vertically
    example[:, :6] = img / 10
    example[1:5, 7:11] = out / 30
    example[:, 6] = 0.5
    example[:, 11:] = 0.5
    panels = [("photograph (china.jpg)", _to_image(grey, False))]
    for name in ("Sobel", "Scharr"):
        m = maps[name]
        if name == "Scharr":
            panels.append(("6x6 image * vertical filter = 4x4", _to_image(example, False)))
        panels += [(f"{name} vertical edges", _to_image(m["vertical"], True)),
                   (f"{name} horizontal edges", _to_image(m["horizontal"], True)),
                   (f"{name} magnitude", _to_image(m["magnitude"], False))]
    h, w = grey.shape
    pw, ph, label = int(w * scale), int(h * scale), 18
    fig = Image.new("L", (4 * pw, 2 * (ph + label)), 255)
    draw = ImageDraw.Draw(fig)
    for i, (title, panel) in enumerate(panels):
        x0, y0 = (i % 4) * pw, (i // 4) * (ph + label)
        small = min(panel.size) < 16  # the 6x6 example: keep its pixels square and sharp
        fit = min(pw / panel.size[0], ph / panel.size[1])
        size = (int(panel.size[0] * fit), int(panel.size[1] * fit)) if small else (pw, ph)
        fig.paste(panel.resize(size, Image.NEAREST if small else Image.BILINEAR), (x0, y0 + label))
        draw.rectangle((x0, y0 + label, x0 + size[0] - 1, y0 + label + size[1] - 1), outline=128)
        draw.text((x0 + 4, y0 + 3), title, fill=0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.save(path)
    return path


def learn_vertical_filter(steps: int = 300, lr: float = 0.05, batch: int = 16, size: int = 16, seed: int = 0):
    """Learns the vertical-edge filter from examples: random images x, targets y = x * VERTICAL
    (made with the true filter), and a cnnops.nn.Conv2d(1, 1, 3, bias=False) trained with Adam
    on the mean squared error. Returns (learned 3x3 kernel, final loss)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    layer = cnnops.nn.Conv2d(1, 1, 3, bias=False)
    opt = torch.optim.Adam(layer.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    for _ in range(steps):
        x = torch.rand(batch, 1, size, size, generator=g)
        with torch.no_grad():
            y = cnnops.conv2d(x, VERTICAL[None, None])
        loss = torch.nn.functional.mse_loss(layer(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return layer.weight.detach()[0, 0].clone(), loss.item()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=300, help="training steps for the learned filter")
    p.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "results" / "edges.png")
    p.add_argument("--no-figure", action="store_true")
    a = p.parse_args(argv)
    torch.set_printoptions(precision=4, sci_mode=False)

    img, out = six_by_six()
    print("6x6 image (left half bright):\n", img)
    print("vertical-edge filter:\n", VERTICAL)
    print("output (4x4): the edge is the bright band in the middle\n", out)
    print("the same image turned 90 degrees, horizontal-edge filter:\n", convolve(img.t().contiguous(), HORIZONTAL))
    print("dark-to-bright edge (image mirrored) gives negative values:\n", convolve(img.flip(1), VERTICAL))

    kernel, loss = learn_vertical_filter(a.steps)
    err = (kernel - VERTICAL).abs().max().item()
    print(f"learned filter after {a.steps} steps (loss {loss:.2e}, max error {err:.1e}):\n", kernel)
    path = None
    if not a.no_figure:
        path = save_figure(a.output)
        print(f"Sobel and Scharr edges of china.jpg -> {path}")
    return {"output": out, "learned": kernel, "max_error": err, "figure": path}


if __name__ == "__main__":
    main()
