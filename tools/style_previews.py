"""Style preview images for the create page: one small picture per style of shared.core.vocabulary.STYLES.

    .venv/bin/python tools/style_previews.py [--out DIR]   # infra/studio/web/img/styles by default

Drawn procedurally with Pillow (the same scene, a lighthouse on a shore under a sky, in each style's palette
and treatment), deterministically; the project's own work (CC0-1.0). 144x256 JPEG, a few kB each.
"""
from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.core.vocabulary import STYLES

OUT = Path(__file__).resolve().parent.parent / "infra" / "studio" / "web" / "img" / "styles"
W, H = 144, 256
RGB = tuple[int, int, int]


def _gradient(top: RGB, bottom: RGB) -> Image.Image:
    image = Image.new("RGB", (W, H))
    draw = ImageDraw.Draw(image)
    for y in range(H):
        t = y / (H - 1)
        draw.line([(0, y), (W, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    return image


def _scene(image: Image.Image, *, sea: RGB, land: RGB, tower: RGB, light: RGB, outline: RGB | None = None,
           width: int = 1) -> Image.Image:
    """A shore, a sea and a lighthouse with its beam."""
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 170, W, H], fill=sea, outline=outline, width=width)
    draw.polygon([(0, 200), (60, 176), (110, 190), (W, 184), (W, H), (0, H)], fill=land, outline=outline,
                 width=width)
    draw.polygon([(88, 188), (100, 96), (112, 96), (124, 188)], fill=tower, outline=outline, width=width)
    draw.rectangle([96, 84, 116, 96], fill=light, outline=outline, width=width)
    draw.polygon([(106, 90), (0, 60), (0, 110)], fill=None, outline=light)
    return image


def cinematic() -> Image.Image:
    image = _scene(_gradient((38, 30, 52), (236, 150, 84)), sea=(52, 46, 70), land=(30, 24, 28),
                   tower=(210, 190, 170), light=(255, 214, 140))
    ImageDraw.Draw(image).ellipse([20, 128, 64, 172], fill=(255, 190, 110))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, W, 28], fill=(0, 0, 0))
    draw.rectangle([0, H - 28, W, H], fill=(0, 0, 0))  # letterbox
    return image


def anime() -> Image.Image:
    image = _scene(_gradient((88, 170, 255), (190, 232, 255)), sea=(40, 120, 230), land=(90, 200, 110),
                   tower=(255, 255, 255), light=(255, 80, 90), outline=(20, 20, 40), width=2)
    draw = ImageDraw.Draw(image)
    for x, y in ((30, 40), (70, 60)):
        draw.ellipse([x, y, x + 40, y + 18], fill=(255, 255, 255), outline=(20, 20, 40), width=2)
    return image


def realistic() -> Image.Image:
    image = _scene(_gradient((150, 176, 196), (214, 220, 222)), sea=(84, 104, 112), land=(96, 88, 70),
                   tower=(226, 222, 214), light=(250, 240, 200))
    rng = random.Random(7)
    noise = Image.effect_noise((W, H), 18).convert("RGB")
    image = Image.blend(image, noise, 0.08)
    return image.filter(ImageFilter.GaussianBlur(0.6)).rotate(rng.uniform(-2, 2), fillcolor=(120, 120, 120))


def sketch() -> Image.Image:
    image = _scene(Image.new("RGB", (W, H), (246, 242, 232)), sea=(246, 242, 232), land=(236, 232, 222),
                   tower=(246, 242, 232), light=(236, 232, 222), outline=(60, 60, 60), width=1)
    draw = ImageDraw.Draw(image)
    rng = random.Random(3)
    for _ in range(40):  # hatching
        x, y = rng.randrange(0, W), rng.randrange(176, H)
        draw.line([(x, y), (x + 10, y - 6)], fill=(120, 120, 120))
    return image


def cyberpunk() -> Image.Image:
    image = _gradient((16, 6, 40), (90, 10, 90))
    draw = ImageDraw.Draw(image)
    rng = random.Random(5)
    for x in range(0, W, 18):
        top = rng.randrange(60, 150)
        draw.rectangle([x, top, x + 14, 190], fill=(20, 14, 44), outline=(0, 240, 255))
        for wy in range(top + 6, 186, 10):
            if rng.random() < 0.5:
                draw.rectangle([x + 4, wy, x + 7, wy + 3], fill=(255, 40, 200))
    for y in range(200, H, 8):
        draw.line([(0, y), (W, y)], fill=(0, 200, 255))
    for x in range(-W, 2 * W, 24):
        draw.line([(W // 2, 200), (x, H)], fill=(255, 40, 200))
    return image


def vintage() -> Image.Image:
    image = _scene(_gradient((222, 196, 150), (240, 220, 180)), sea=(120, 140, 130), land=(110, 90, 60),
                   tower=(236, 226, 200), light=(250, 210, 120))
    image = ImageOps.colorize(image.convert("L"), (60, 40, 20), (250, 230, 190))
    noise = Image.effect_noise((W, H), 40).convert("RGB")
    image = Image.blend(image, noise, 0.12)
    mask = Image.new("L", (W, H), 0)
    ImageDraw.Draw(mask).ellipse([-30, -20, W + 30, H + 20], fill=255)
    return Image.composite(image, Image.new("RGB", (W, H), (40, 28, 16)), mask.filter(ImageFilter.GaussianBlur(24)))


def fantasy() -> Image.Image:
    image = _gradient((40, 20, 90), (220, 120, 200))
    draw = ImageDraw.Draw(image)
    draw.polygon([(0, 190), (40, 110), (80, 180), (110, 90), (W, 170), (W, 220), (0, 220)], fill=(60, 40, 110))
    image = _scene(image, sea=(60, 70, 160), land=(50, 90, 80), tower=(200, 190, 255), light=(255, 250, 170))
    glow = Image.new("RGB", (W, H), (0, 0, 0))
    rng = random.Random(9)
    gdraw = ImageDraw.Draw(glow)
    for _ in range(14):
        x, y = rng.randrange(0, W), rng.randrange(20, 160)
        gdraw.ellipse([x, y, x + 6, y + 6], fill=(255, 240, 160))
    return Image.blend(image, Image.composite(glow, image, glow.convert("L")), 0.9).filter(ImageFilter.SMOOTH)


DRAW: dict[str, Callable[[], Image.Image]] = {"cinematic": cinematic, "anime": anime, "realistic": realistic,
                                                "sketch": sketch, "cyberpunk": cyberpunk, "vintage": vintage,
                                                "fantasy": fantasy}


def generate(folder: Path = OUT) -> list[Path]:
    """One JPEG per style; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for style in STYLES:
        random.seed(style)
        out = folder / f"{style}.jpg"
        DRAW[style]().save(out, "JPEG", quality=78, optimize=True, progressive=False)
        written.append(out)
        print(out, out.stat().st_size)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/style_previews.py", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    generate(parser.parse_args(argv).out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
