"""`python -m tools.captions`: SRT of what a media file says, through the assembler's code; bad input exits 2.

Run as a subprocess, the way an operator runs it. The clip's speech is espeak-ng (Whisper base hears its
English at ~0 % WER): block 0 says its line, block 1 something else, block 2 nothing, block 3 half its line.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shared.assembly.subtitles import parse_srt
from shared.media.ffmpeg import run_ffmpeg
from tests.support import words_of

pytestmark = pytest.mark.timeout(600)
ROOT = Path(__file__).resolve().parents[3]
SCRIPTED = ["The harbour wakes up before the city.", "Every boat carries a story home.",
            "The gulls are waiting for the fishermen.", "We sail together when the sun rises."]
SAID = ["The harbour wakes up before the city.", "Honestly, nobody ever told me what to say here.", "",
        "We sail together"]
BLOCK_STARTS = (0, 8, 15, 22)  # one Veo chain: 8 s, then 7 s per block


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tools.captions", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=500)


def _script(blocks: list[str], language: str = "en", **extra) -> dict:
    return {"title": "Harbour", "theme": "a harbour at dawn", "style": "cinematic", "language": language,
            "blocks": [{"index": k, "visual": f"harbour shot {k}", "dialogue": d, "sound_effects": "waves"}
                       for k, d in enumerate(blocks)], **extra}


def _clip(folder: Path, lines: list[str], seconds: float = 29.0) -> Path:
    """A small h264 + aac clip that says line k one second into block k's window."""
    inputs, chains = [], []
    for k, line in enumerate(lines):
        if not line:
            continue
        wav = folder / f"line{k}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "155", "-w", str(wav), line], check=True)
        inputs += ["-i", str(wav)]
        chains.append(f"[{len(chains) + 1}:a]adelay={(BLOCK_STARTS[k] + 1) * 1000}:all=1[s{len(chains)}]")
    mix = "".join(f"[s{n}]" for n in range(len(chains)))
    graph = ";".join(chains) + f";{mix}amix=inputs={len(chains)}:normalize=0,apad,aresample=48000[a]"
    out = folder / "clip.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", f"color=s=180x320:r=24:d={seconds}", *inputs, "-filter_complex", graph,
                "-map", "0:v", "-map", "[a]", "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast",
                "-c:a", "aac", str(out)], what="fixture")
    return out


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return _clip(tmp_path_factory.mktemp("captions-tool"), SAID)


def _write(folder: Path, name: str, value) -> Path:
    path = folder / name
    path.write_text(value if isinstance(value, str) else json.dumps(value), encoding="utf-8")
    return path


def _by_block(srt: str) -> dict[int, list[str]]:
    shown: dict[int, list[str]] = {k: [] for k in range(len(BLOCK_STARTS))}
    for cue in parse_srt(srt):
        block = max(k for k, start in enumerate(BLOCK_STARTS) if cue.start + 0.05 >= start)
        shown[block] += words_of(" ".join(cue.lines))
    return shown


def test_captions_show_what_the_file_says(clip, tmp_path):
    result = _run(str(clip), "--script", str(_write(tmp_path, "script.json", _script(SCRIPTED))),
                  "--language", "en")
    assert result.returncode == 0, result.stderr
    shown = _by_block(result.stdout)
    assert shown[0] == words_of(SCRIPTED[0])
    said = words_of(SAID[1])
    assert sum(w in shown[1] for w in said) >= 0.6 * len(said) and "boat" not in shown[1], shown[1]
    assert shown[2] == [], "a line never spoken is never captioned"
    assert shown[3] == words_of("We sail together"), "only the part of the line that was said"
    notes = [line for line in result.stderr.splitlines() if line.startswith("block ")]
    assert [n.split(":")[0] for n in notes] == ["block 1", "block 2", "block 3"]
    assert "changed" in notes[0] and "dropped" in notes[1] and "partial" in notes[2]


def test_a_stored_plan_sets_the_block_windows(clip, tmp_path):
    """Vertex AI's plan: blocks 0-3 in one chain, the same windows as without a plan (8 s, then 7 s)."""
    plan = {"mode": "vertex", "segments": [{"index": 0, "first_block": 0, "last_block": 3, "seconds": 29}]}
    result = _run(str(clip), "--script", str(_write(tmp_path, "s.json", _script(SCRIPTED, plan=plan))))
    assert result.returncode == 0, result.stderr
    assert _by_block(result.stdout)[3] == words_of("We sail together")


@pytest.mark.parametrize("case, fragment", [
    ("missing_media", "no such media file"),
    ("not_media", "not a media file"),
    ("missing_script", "no such script file"),
    ("invalid_json", "not valid JSON"),
    ("wrong_schema", "script schema"),
    ("unknown_language", "unknown language"),
    ("no_script_option", "--script"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, clip, case, fragment):
    good = _write(tmp_path, "good.json", _script(SCRIPTED))
    args = {
        "missing_media": [str(tmp_path / "nope.mp4"), "--script", str(good)],
        "not_media": [str(_write(tmp_path, "notes.mp4", "just some text")), "--script", str(good)],
        "missing_script": [str(clip), "--script", str(tmp_path / "nope.json")],
        "invalid_json": [str(clip), "--script", str(_write(tmp_path, "bad.json", "{\"title\": "))],
        "wrong_schema": [str(clip), "--script", str(_write(tmp_path, "odd.json", {"title": "x", "blocks": [{}]}))],
        "unknown_language": [str(clip), "--script", str(good), "--language", "de"],
        "no_script_option": [str(clip)],
    }[case]
    result = _run(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and fragment in result.stderr, result.stderr
