"""Quality presets: the user picks one, and it fixes everything that decides quality and cost.

Each preset is a complete, named, versioned spec in one place: the Veo tier, the target duration
window, the delivered encode (resolution, fps, codec, profile, CRF, bitrate and size caps), the
loudness target, the subtitle rules, any extra rendition, and which QA checks block delivery.

    preset          Veo tier   seconds   encode                  subtitles   extra rendition  QA
    quick_social    lite       29–50     CRF 25, ≤ 6 Mb/s        SRT         —                core checks block
    brand_campaign  standard   60–90     CRF 23, ≤ 8 Mb/s        SRT + VTT   —                + loudness, A/V, subs
    premium_spot    standard   60–90     CRF 20, ≤ 12 Mb/s       SRT + VTT   720×1280         every check blocks

Dialogue (issue 14): a block whose line Veo did not speak as scripted warns under quick_social (a fast, cheap
social cut: a paraphrase is acceptable there, and the warning names the block) and holds delivery under
brand_campaign and premium_spot, whose scripts are approved copy (claims, brand lines): a video saying
something else must not go out unreviewed. The failure names the block, so it can be generated again.

Veo 3.1 Lite cannot extend a video on the Gemini API (contract V3): there quick_social is made of 8 s
image-to-video clips, one per block, each starting from the previous block's last frame (shared.video.plan).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from shared.core.errors import ErrorCode, InvalidInputError
from shared.core.veo_models import VEO_MODELS

DEFAULT_PRESET = "brand_campaign"

# Every check shared.qa.checks runs, by name (the report lists them in this order).
ALL_CHECKS: tuple[str, ...] = (
    "container", "video_codec", "video_profile", "audio_codec", "resolution", "constant_frame_rate",
    "duration_seconds", "video_bitrate_kbps", "file_size_mb", "faststart", "integrated_loudness_lufs",
    "true_peak_dbtp", "clipped_sample_ratio", "longest_silence_seconds", "black_seconds",
    "longest_freeze_seconds", "av_drift_seconds", "subtitle_speech_coverage", "caption_speech_wer",
    "speech_script_wer", "dialogue_delivered",
)
# Whether Veo spoke the script (shared.qa.checks): these block or warn by the preset's `dialogue_mismatch`.
DIALOGUE_CHECKS = frozenset({"speech_script_wer", "dialogue_delivered"})
DIALOGUE_MISMATCH = ("warn", "block")
_CORE_CHECKS = frozenset({"container", "video_codec", "video_profile", "audio_codec", "resolution",
                          "constant_frame_rate", "duration_seconds", "faststart", "file_size_mb"})


@dataclass(frozen=True)
class Rendition:
    """An extra delivery file: a smaller encode of the final video (e.g. previews)."""

    name: str
    width: int
    height: int
    crf: int
    max_bitrate_kbps: int


@dataclass(frozen=True)
class Preset:
    """One quality level, fully specified."""

    name: str
    version: int
    title: str
    veo_tier: str  # standard | fast | lite (shared.core.veo_models)
    min_seconds: int
    max_seconds: int
    width: int = 1080
    height: int = 1920
    fps: float = 24.0
    container: str = "mp4"
    video_codec: str = "h264"
    video_profile: str = "High"
    audio_codec: str = "aac"
    crf: int = 23
    max_bitrate_kbps: int = 8000
    max_size_mb: float = 100.0
    music: bool = True
    loudness_lufs: float = -14.0
    loudness_tolerance: float = 1.0
    true_peak_max_dbtp: float = -1.0
    max_clipped_ratio: float = 1e-4  # share of samples at (or above) full scale
    max_silence_seconds: float = 2.0
    max_black_seconds: float = 0.5
    max_freeze_seconds: float = 2.0
    max_av_drift_seconds: float = 0.2
    subtitle_formats: tuple[str, ...] = ("srt", "vtt")
    min_subtitle_coverage: float = 0.85  # share of speech time under a cue
    # A block whose line Veo dropped, changed, cut short, said in another language or added to: "warn"
    # delivers with a warning naming the block, "block" holds delivery (qa_failed).
    dialogue_mismatch: str = "warn"
    renditions: tuple[Rendition, ...] = ()
    blocking: frozenset[str] = field(default_factory=lambda: frozenset(ALL_CHECKS))

    def veo_model(self, mode: str) -> str:
        """The Veo model id of this preset in an API mode (gemini_api or vertex)."""
        return VEO_MODELS[mode][self.veo_tier]

    def is_blocking(self, check: str) -> bool:
        """Whether a failure of `check` stops delivery under this preset."""
        if check in DIALOGUE_CHECKS:
            return self.dialogue_mismatch == "block"
        return check in self.blocking

    def to_doc(self) -> dict[str, Any]:
        """The spec as stored on the status document (JSON/Firestore friendly)."""
        doc = asdict(self)
        doc["blocking"] = sorted(self.blocking)
        doc["subtitle_formats"] = list(self.subtitle_formats)
        doc["renditions"] = [asdict(r) for r in self.renditions]
        return doc

    def guarantees(self) -> list[str]:
        """What the preset promises, in words a customer reads."""
        subs = " + ".join(f.upper() for f in self.subtitle_formats)
        lines = [
            f"{self.width}x{self.height} {self.video_codec.upper()} {self.video_profile} at {self.fps:g} fps, "
            f"video bitrate <= {self.max_bitrate_kbps / 1000:g} Mb/s, file <= {self.max_size_mb:g} MB, faststart",
            f"{self.min_seconds}-{self.max_seconds} s long",
            f"Veo 3.1 {self.veo_tier} video with native audio" + (", background music" if self.music else ""),
            f"loudness {self.loudness_lufs:g} LUFS +/- {self.loudness_tolerance:g} LU, "
            f"true peak <= {self.true_peak_max_dbtp:g} dBTP",
            f"subtitles burned in and delivered as {subs}, showing what is said",
            "dialogue not spoken as scripted " + ("holds delivery" if self.dialogue_mismatch == "block"
                                                  else "is named in a warning"),
        ]
        lines += [f"extra {r.width}x{r.height} rendition ({r.name})" for r in self.renditions]
        lines.append(f"{len(self.blocking)} of {len(ALL_CHECKS)} QA checks block delivery")
        return lines


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("quick_social", 1, "Quick social", veo_tier="lite", min_seconds=29, max_seconds=50,
           crf=25, max_bitrate_kbps=6000, max_size_mb=40.0, loudness_tolerance=2.0,
           subtitle_formats=("srt",), min_subtitle_coverage=0.75,
           blocking=_CORE_CHECKS),
    Preset("brand_campaign", 1, "Brand campaign", veo_tier="standard", min_seconds=60, max_seconds=90,
           blocking=_CORE_CHECKS | {"integrated_loudness_lufs", "true_peak_dbtp", "clipped_sample_ratio",
                                    "av_drift_seconds", "black_seconds", "caption_speech_wer"},
           dialogue_mismatch="block"),
    Preset("premium_spot", 1, "Premium spot", veo_tier="standard", min_seconds=60, max_seconds=90,
           crf=20, max_bitrate_kbps=12000, max_size_mb=150.0, min_subtitle_coverage=0.9, dialogue_mismatch="block",
           renditions=(Rendition("preview_720", 720, 1280, crf=24, max_bitrate_kbps=3000),)),
)}
# Cheapest first: the order a budget downgrade walks.
BY_COST: tuple[str, ...] = ("quick_social", "brand_campaign", "premium_spot")


def get_preset(name: str | None) -> Preset:
    """The named preset (the default when None); InvalidInputError naming the choices otherwise."""
    key = name or DEFAULT_PRESET
    if key not in PRESETS:
        raise InvalidInputError(f"preset must be one of {', '.join(PRESETS)}", code=ErrorCode.INVALID_PRESET,
                                field="preset")
    return PRESETS[key]


def preset_from_doc(doc: dict[str, Any]) -> Preset:
    """The preset a job was created with: its stored spec when present, else by name (older jobs)."""
    spec = doc.get("preset_spec")
    if not spec:
        return get_preset(doc.get("preset"))
    spec = dict(spec)
    spec["blocking"] = frozenset(spec.get("blocking") or ())
    spec["subtitle_formats"] = tuple(spec.get("subtitle_formats") or ())
    spec["renditions"] = tuple(Rendition(**r) for r in spec.get("renditions") or ())
    known = set(Preset.__dataclass_fields__)
    return Preset(**{k: v for k, v in spec.items() if k in known})

