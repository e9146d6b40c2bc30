"""The assembler's finish: one Veo video + its script in, broadcast-grade deliverables out.

    transcribe (Whisper) ─┐
    music bed + loudness ─┼─> subtitles (script-aligned) ─> ONE ffmpeg graph ─> verify
    thumbnail ────────────┘     SRT, VTT, ASS               (upscale, burn, duck, mix, gain, encode)

The three preparation steps run at the same time; the only full decode/encode of the picture is the
final graph. Loudness is measured on an audio-only pass of the very mix the graph builds, so the
graph applies a known linear gain (and a safety limiter) instead of a guessing loudnorm.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from shared.assembly.alignment import BlockDialogue, dialogue_report, judge_blocks
from shared.assembly.caption_style import FONTS_DIR, build_ass, caption_style, check_font_coverage
from shared.assembly.music import choose_track, prepare_bed
from shared.assembly.pictures import OUT_FPS
from shared.assembly.subtitles import Cue, build_cues, to_srt, to_vtt
from shared.assembly.transcribe import Relistener, Transcript, transcribe
from shared.core import log
from shared.core.errors import ErrorCode, InvalidInputError, PermanentError
from shared.media.ffmpeg import (
    Loudness,
    ebur128_filter,
    escape_filter_value,
    measure_loudness,
    parse_ebur128,
    require_tools,
    run,
    write_thumbnail,
)
from shared.media.probe import MediaInfo, probe
from shared.video.plan import script_windows

OUT_WIDTH, OUT_HEIGHT = 1080, 1920
TARGET_LUFS = -14.0
# Sample-peak ceiling: leaves room for inter-sample peaks and AAC overshoot (up to ~1.1 dB seen), so true peak
# stays <= -1 dBTP.
LIMITER_CEILING_DBFS = -2.5
INTER_SAMPLE_MARGIN_DB = 0.5  # true peak can exceed the (cheaper to measure) sample peak by about this
X264_PRESET = "veryfast"
AUDIO_BITRATE = "128k"
ASS_NAME = "captions.ass"
DIALOGUE_NAME = "dialogue.json"  # beside the SRT: what QA judges the dialogue on
# Dialogue compression (broadcast practice): tames speech peaks so the mix reaches -14 LUFS without
# the limiter eating the loudness.
VOICE_COMPRESSOR = "acompressor=threshold=0.06:ratio=4:attack=4:release=120:knee=4"
T = TypeVar("T")


@dataclass
class Deliverables:
    """What the finish produced, with measurements of the final file."""

    final_video: Path
    thumbnail: Path
    srt: Path
    vtt: Path
    duration: float
    words_transcribed: int
    cue_count: int
    loudness_lufs: float
    true_peak_dbtp: float
    timings: dict[str, float] = field(default_factory=dict)
    music_track: str | None = None


def _timed(timings: dict[str, float], step: str, fn: Callable[[], T]) -> T:
    started = time.monotonic()
    try:
        return fn()
    finally:
        timings[step] = round(time.monotonic() - started, 3)


# --- audio graph ---------------------------------------------------------------------------------

def mix_graph(*, voice: str, bed: str, gain_db: float | None, out: str = "mix") -> str:
    """Filter text: duck the music bed under the voice, mix them, then (if given) gain + limiter."""
    ceiling = 10 ** (LIMITER_CEILING_DBFS / 20)
    graph = (
        f"{voice}aformat=sample_rates=48000:channel_layouts=stereo,{VOICE_COMPRESSOR},asplit=2[voice][key0];"
        "[key0]highpass=f=200,lowpass=f=4000[key];"
        f"{bed}[key]sidechaincompress=threshold=0.02:ratio=6:attack=20:release=400[ducked];"
        "[voice][ducked]amix=inputs=2:duration=first:normalize=0"
    )
    if gain_db is not None:
        graph += (f",volume={gain_db:.2f}dB,alimiter=limit={ceiling:.4f}:attack=5:release=80:level=false,"
                  "aresample=48000")
    return f"{graph}[{out}]"


def _voice_input(info: MediaInfo, src: Path) -> list[str]:
    """Input arguments for the voice track: the video's audio, or silence when it has none."""
    if info.has_audio:
        return ["-i", str(src)]
    return ["-f", "lavfi", "-t", f"{info.duration:.3f}", "-i", "anullsrc=r=48000:cl=stereo"]


def measure_mix(src: Path, info: MediaInfo, bed: Path, gain_db: float | None = None) -> Loudness:
    """Loudness and sample peak of the ducked voice + music mix (after gain + limiter if given)."""
    measure = ebur128_filter(true_peak=False)
    graph = mix_graph(voice="[0:a]", bed="[1:a]", gain_db=gain_db) + f";[mix]{measure}[m]"
    stderr = run([*_voice_input(info, src), "-i", str(bed), "-filter_complex", graph, "-map", "[m]",
                  "-vn", "-f", "null", "-"], what="measure_mix")
    return parse_ebur128(stderr)


def loudness_gain(measured: Loudness, target: float = TARGET_LUFS) -> float:
    """Linear gain (dB) that brings the measured mix to the target integrated loudness."""
    if measured.integrated_lufs == float("-inf"):
        return 0.0
    return max(-30.0, min(30.0, target - measured.integrated_lufs))


def settle_gain(src: Path, info: MediaInfo, bed: Path, target: float = TARGET_LUFS) -> float:
    """Gain for the final graph, measured: one pass on the raw mix, one more if the limiter would bite.

    When the gained peaks pass the limiter ceiling the limiter takes some loudness away; measuring the
    mix through gain + limiter once and correcting by the shortfall lands within a few tenths of a LU.
    """
    raw = measure_mix(src, info, bed)
    gain = loudness_gain(raw, target)
    if raw.true_peak_dbtp + gain + INTER_SAMPLE_MARGIN_DB <= LIMITER_CEILING_DBFS:
        return gain
    limited = measure_mix(src, info, bed, gain)
    return min(30.0, gain + (target - limited.integrated_lufs))


# --- video graph ---------------------------------------------------------------------------------

def video_chain(info: MediaInfo, ass_path: Path | None) -> str:
    """Filter text: constant 24 fps, lanczos upscale to 1080x1920 (padded if not 9:16), burn the ASS."""
    chain = f"[0:v]fps={OUT_FPS},scale={OUT_WIDTH}:{OUT_HEIGHT}:flags=lanczos"
    if info.width * OUT_HEIGHT != info.height * OUT_WIDTH:
        chain += (":force_original_aspect_ratio=decrease,"
                  f"pad={OUT_WIDTH}:{OUT_HEIGHT}:(ow-iw)/2:(oh-ih)/2")
    chain += ",setsar=1"
    if ass_path is not None:
        # fontsdir: libass draws with the vendored caption fonts, not whatever the machine has (often none)
        chain += (f",ass=filename={escape_filter_value(str(ass_path))}"
                  f":fontsdir={escape_filter_value(str(FONTS_DIR))}")
    return chain + ",format=yuv420p[vout]"


def encode_args(crf: int, preset: str = X264_PRESET, max_bitrate_kbps: int | None = None) -> list[str]:
    """Output settings: H.264 High yuv420p CRF (optionally capped), 24 fps CFR, AAC-LC 48 kHz, moov first."""
    cap = ["-maxrate", f"{max_bitrate_kbps}k", "-bufsize", f"{2 * max_bitrate_kbps}k"] if max_bitrate_kbps else []
    return ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), *cap, "-profile:v", "high",
            "-pix_fmt", "yuv420p", "-r", str(OUT_FPS), "-fps_mode", "cfr", "-g", str(OUT_FPS * 2),
            "-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ar", "48000", "-ac", "2",
            "-movflags", "+faststart"]


def render_final(src: Path, info: MediaInfo, bed: Path, ass_path: Path | None, gain_db: float,
                 out: Path, *, crf: int, max_bitrate_kbps: int | None = None) -> None:
    """The single decode + encode: picture and sound finished in one ffmpeg graph."""
    voice = "[0:a]" if info.has_audio else "[2:a]"
    inputs = ["-i", str(src), "-i", str(bed)]
    if not info.has_audio:
        inputs += ["-f", "lavfi", "-t", f"{info.duration:.3f}", "-i", "anullsrc=r=48000:cl=stereo"]
    graph = video_chain(info, ass_path) + ";" + mix_graph(voice=voice, bed="[1:a]", gain_db=gain_db,
                                                          out="aout")
    run([*inputs, "-filter_complex", graph, "-map", "[vout]", "-map", "[aout]",
         *encode_args(crf, max_bitrate_kbps=max_bitrate_kbps), "-t", f"{info.duration:.3f}", str(out)],
        what="final_encode")


def render_audio(src: Path, info: MediaInfo, bed: Path, gain_db: float, out: Path, seconds: float) -> Path:
    """The whole timeline's sound alone (voice + ducked music, gain, limiter) as AAC, exactly `seconds` long."""
    voice = "[0:a]" if info.has_audio else "[2:a]"
    inputs = ["-i", str(src), "-i", str(bed)]
    if not info.has_audio:
        inputs += ["-f", "lavfi", "-t", f"{seconds:.3f}", "-i", "anullsrc=r=48000:cl=stereo"]
    graph = (mix_graph(voice=voice, bed="[1:a]", gain_db=gain_db, out="mixed")
             + f";[mixed]apad=whole_dur={seconds:.3f}[aout]")
    run([*inputs, "-filter_complex", graph, "-map", "[aout]", "-vn", "-c:a", "aac", "-b:a", AUDIO_BITRATE,
         "-ar", "48000", "-ac", "2", "-t", f"{seconds:.3f}", str(out)], what="final_audio")
    return out


# --- subtitles -----------------------------------------------------------------------------------

def dialogue_of(transcript: Transcript, script: dict[str, Any]) -> list[BlockDialogue]:
    """Each block's verdict and caption words (shared.assembly.alignment); a block whose speech does not
    match its line is heard again for another language when the transcript names its media file."""
    language = str(script.get("language") or "en")
    relisten = Relistener(transcript.source, language) if transcript.source else None
    return judge_blocks(script.get("blocks") or [], transcript.words, script_windows(script), language, relisten,
                        transcript.detections)


def cues_of(transcript: Transcript, script: dict[str, Any]) -> list[Cue]:
    """The job's subtitle cues: what was said, in the script's words where it was said as scripted."""
    return build_cues([w for block in dialogue_of(transcript, script) for w in block.words])


def write_subtitles(transcript: Transcript, script: dict[str, Any],
                    work_dir: Path) -> tuple[list[Cue], Path, Path, Path | None]:
    """Cues of what was said written as SRT, VTT and (when there is speech) the ASS to burn, with the
    dialogue report (DIALOGUE_NAME: each block's verdict and the raw transcript) beside them."""
    judged = dialogue_of(transcript, script)
    cues = build_cues([w for block in judged for w in block.words])
    (work_dir / DIALOGUE_NAME).write_text(json.dumps(dialogue_report(
        judged, transcript.words, str(script.get("language") or "en")), ensure_ascii=False), encoding="utf-8")
    srt, vtt = work_dir / "subtitles.srt", work_dir / "subtitles.vtt"
    srt.write_text(to_srt(cues), encoding="utf-8")
    vtt.write_text(to_vtt(cues), encoding="utf-8")
    if not cues:
        return cues, srt, vtt, None
    style = caption_style(str(script.get("style") or ""))
    burnable = check_font_coverage(cues, style.font)
    ass = work_dir / ASS_NAME
    ass.write_text(build_ass(burnable, style, width=OUT_WIDTH, height=OUT_HEIGHT), encoding="utf-8")
    return cues, srt, vtt, ass


def _validate(veo_video: Path, script: dict[str, Any]) -> MediaInfo:
    if not isinstance(script, dict) or not isinstance(script.get("blocks", []), list):
        raise InvalidInputError("script must be a dict with a 'blocks' list", field="script")
    info = probe(veo_video)
    if not info.has_video or info.duration <= 0:
        raise PermanentError(f"{veo_video} has no video stream", code=ErrorCode.BAD_MEDIA)
    return info


def _music_path(music_track: str | None, style: str) -> tuple[Path, str]:
    """A catalogue id, a local audio file, or None (the style's default track)."""
    if music_track and Path(music_track).is_file():
        return Path(music_track), Path(music_track).stem
    track = choose_track(music_track, style)
    return track.path, track.id


def _transcribe(src: Path, info: MediaInfo, language: str, model_dir: Path | None) -> Transcript:
    return transcribe(src, language, model_dir=model_dir)


def _heard_if_audible(info: MediaInfo, language: str, hear: Callable[[], Transcript]) -> Transcript:
    if not info.has_audio:
        return Transcript(words=[], speech_spans=[], language=language)
    return hear()


def produce_deliverables(veo_video: Path, script: dict[str, Any], work_dir: Path, *, music_track: str | None,
                         crf: int = 23, music_volume: float = 0.2, model_dir: Path | None = None,
                         target_lufs: float = TARGET_LUFS, max_bitrate_kbps: int | None = None,
                         hear: Callable[[], Transcript] | None = None) -> Deliverables:
    """Finish a Veo video: subtitles, music, loudness, 1080x1920 encode, thumbnail — all in work_dir.

    `hear` supplies the transcript (e.g. merged from blocks transcribed while Veo generated); by
    default the whole video is transcribed here.
    """
    started = time.monotonic()
    timings: dict[str, float] = {}
    require_tools()
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    info = _validate(Path(veo_video), script)
    language = str(script.get("language") or "en")
    music_path, music_id = _music_path(music_track, str(script.get("style") or ""))
    bed, thumb = work_dir / "music_bed.wav", work_dir / "thumbnail.jpg"

    def music_and_gain() -> float:
        _timed(timings, "music_bed", lambda: prepare_bed(music_path, info.duration, bed, volume=music_volume))
        return _timed(timings, "loudness_measure", lambda: settle_gain(Path(veo_video), info, bed, target_lufs))

    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="finish") as pool:
        hear = hear or (lambda: _transcribe(Path(veo_video), info, language, model_dir))
        heard = pool.submit(_timed, timings, "transcribe", lambda: _heard_if_audible(info, language, hear))
        mix = pool.submit(music_and_gain)
        thumbnail = pool.submit(_timed, timings, "thumbnail", lambda: write_thumbnail(Path(veo_video), thumb))
        transcript = heard.result()
        cues, srt, vtt, ass = _timed(timings, "subtitles", lambda: write_subtitles(transcript, script, work_dir))
        gain = mix.result()
        thumbnail.result()
    final = work_dir / "final.mp4"
    _timed(timings, "encode", lambda: render_final(Path(veo_video), info, bed, ass, gain, final, crf=crf,
                                                       max_bitrate_kbps=max_bitrate_kbps))
    out_info, loud = _timed(timings, "verify", lambda: (probe(final), measure_loudness(final)))
    timings["total"] = round(time.monotonic() - started, 3)
    log.info("deliverables ready", event="finish_done", duration=out_info.duration, cues=len(cues),
             lufs=loud.integrated_lufs, true_peak=loud.true_peak_dbtp, gain_db=round(gain, 2), timings=timings)
    return Deliverables(final_video=final, thumbnail=thumb, srt=srt, vtt=vtt, duration=out_info.duration,
                        words_transcribed=len(transcript.words), cue_count=len(cues),
                        loudness_lufs=loud.integrated_lufs, true_peak_dbtp=loud.true_peak_dbtp,
                        timings=timings, music_track=music_id)
