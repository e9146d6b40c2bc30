"""Extra delivery renditions: a smaller encode of the finished video (e.g. 720x1280 previews)."""
from __future__ import annotations

from pathlib import Path

from shared.assembly.finish import OUT_FPS, X264_PRESET
from shared.media.ffmpeg import run_ffmpeg
from shared.pricing.presets import Rendition


def rendition_args(rendition: Rendition) -> list[str]:
    """Encode settings of a rendition: scaled picture, capped CRF, the final's audio copied, moov first."""
    kbps = rendition.max_bitrate_kbps
    return ["-vf", f"scale={rendition.width}:{rendition.height}:flags=lanczos,setsar=1,format=yuv420p",
            "-c:v", "libx264", "-preset", X264_PRESET, "-crf", str(rendition.crf), "-maxrate", f"{kbps}k",
            "-bufsize", f"{2 * kbps}k", "-profile:v", "high", "-r", str(OUT_FPS), "-fps_mode", "cfr",
            "-c:a", "copy", "-movflags", "+faststart"]


def write_rendition(final: Path, rendition: Rendition, dst: Path) -> Path:
    """Encode `rendition` of the finished video to `dst`."""
    run_ffmpeg(["-i", str(final), *rendition_args(rendition), str(dst)], what=f"rendition_{rendition.name}")
    return dst
