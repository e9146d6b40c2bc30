"""Extra delivery renditions: a smaller encode of the finished video (e.g. 720x1280 previews)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import ffmpeg as ffmpeg_python  # the ffmpeg-python package: builds the rendition's graph

from shared.assembly.finish import X264_PRESET
from shared.assembly.pictures import OUT_FPS
from shared.media.ffmpeg import run
from shared.pricing.presets import Rendition


def rendition_options(rendition: Rendition) -> dict[str, str]:
    """Encode settings of a rendition: capped CRF, the final's audio copied, moov first."""
    kbps = rendition.max_bitrate_kbps
    return {"c:v": "libx264", "preset": X264_PRESET, "crf": str(rendition.crf), "maxrate": f"{kbps}k",
            "bufsize": f"{2 * kbps}k", "profile:v": "high", "r": str(OUT_FPS), "fps_mode": "cfr",
            "c:a": "copy", "movflags": "+faststart"}


def rendition_stream(final: Path, rendition: Rendition, dst: Path) -> Any:
    """The ffmpeg-python command: the final's picture scaled (lanczos, square pixels, yuv420p), its sound copied."""
    source = ffmpeg_python.input(str(final))
    picture = (source.video.filter("scale", rendition.width, rendition.height, flags="lanczos")
               .filter("setsar", 1).filter("format", "yuv420p"))
    return ffmpeg_python.output(picture, source.audio, str(dst), **rendition_options(rendition))


def write_rendition(final: Path, rendition: Rendition, dst: Path) -> Path:
    """Encode `rendition` of the finished video to `dst`."""
    run(rendition_stream(final, rendition, dst), what=f"rendition_{rendition.name}")
    return dst
