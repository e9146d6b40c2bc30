"""Captions of natural speech in French, Spanish and English, through the code the assembler runs.

The speech is the committed Kokoro fixtures (tests/fixtures/speech, manifest.json: what each clip says and
which scripted line it stands for). Each language gets one 43 s clip of six blocks, in the windows of one Veo
chain: block 0 says its line, block 1 a paraphrase, block 2 the first part of its line, block 3 a line in
another language, block 4 (no dialogue) an unscripted line, block 5 nothing. The captions are made by
tools.captions.captions (block transcripts + language detection + alignment + cues, as the finish does) and
compared with what the manifest says was spoken, never with the code's own output.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.assembly.subtitles import parse_srt
from shared.media.ffmpeg import run_ffmpeg
from shared.video.plan import single_chain
from tests.support import words_of
from tools.captions import captions

pytestmark = pytest.mark.timeout(900)
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "speech"
STARTS = (0, 8, 15, 22, 29, 36)
CLIPS = {
    "fr": ("correct_02", "paraphrase_01", "partial_01", "other_language_es", "extra_01", "correct_08"),
    "es": ("correct_01", "paraphrase_01", "partial_01", "other_language_en", "extra_01", "correct_05"),
    "en": ("correct_01", "paraphrase_01", "partial_01", "other_language_es", "extra_01", "correct_08"),
}
VERDICTS = {1: "changed", 2: "partial", 3: "other_language", 5: "dropped"}
# Whisper base hears the fixtures' French partial line badly (docs/captions-measurements.md: 114 % WER, "C'est
# un peu plus de la fin."), and what it makes of it varies with the blocks around it: judged a partial line
# when the spoken words survive, else a changed one. Either way its unspoken end is never shown (other test).
ALSO_ACCEPTED = {("fr", 2): {"changed"}}


def _manifest() -> dict[str, dict]:
    return {entry["file"]: entry for entry in json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))}


def _clip(folder: Path, files: list[Path]) -> Path:
    """A 43 s clip with fixture k spoken one second into block k's window."""
    inputs, chains = [], []
    for k, path in enumerate(files):
        inputs += ["-i", str(path)]
        chains.append(f"[{k + 1}:a]aresample=48000,adelay={(STARTS[k] + 1) * 1000}:all=1[s{k}]")
    mix = "".join(f"[s{k}]" for k in range(len(files)))
    graph = ";".join(chains) + f";{mix}amix=inputs={len(files)}:normalize=0,apad[a]"
    out = folder / "clip.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "color=s=180x320:r=24:d=43", *inputs, "-filter_complex", graph,
                "-map", "0:v", "-map", "[a]", "-t", "43", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                str(out)], what="fixture")
    return out


@pytest.fixture(scope="module", params=sorted(CLIPS))
def captioned(request, tmp_path_factory):
    language = request.param
    manifest = _manifest()
    entries = [manifest[f"{language}/{name}.ogg"] for name in CLIPS[language]]
    clip = _clip(tmp_path_factory.mktemp(f"natural-{language}"), [FIXTURES / e["file"] for e in entries[:5]])
    dialogue = [e["scripted"] or "" for e in entries]  # block 4's extra line stands for no scripted line
    script = {"title": "t", "theme": "t", "style": "cinematic", "language": language, "plan": single_chain(6).to_doc(),
              "blocks": [{"index": k, "visual": f"shot {k}", "dialogue": d, "sound_effects": ""}
                         for k, d in enumerate(dialogue)]}
    srt, notes = captions(clip, script, language)
    shown: dict[int, list[str]] = {k: [] for k in range(6)}
    for cue in parse_srt(srt):
        shown[max(k for k, start in enumerate(STARTS) if cue.start + 0.05 >= start)] += words_of(" ".join(cue.lines))
    verdicts = {int(n.split(":")[0].split()[1]): n.split(":")[1].split()[0] for n in notes}
    return {"language": language, "entries": entries, "shown": shown, "verdicts": verdicts, "notes": notes}


def _share(words: list[str], text: str) -> float:
    wanted = words_of(text)
    return sum(1 for w in wanted if w in words) / len(wanted)


def test_each_block_gets_the_verdict_of_what_was_spoken(captioned):
    verdicts = captioned["verdicts"]
    assert 0 not in verdicts, captioned["notes"]  # the line spoken as scripted is delivered
    language = captioned["language"]
    wrong = {k: verdicts.get(k) for k, wanted in VERDICTS.items()
             if verdicts.get(k) != wanted and verdicts.get(k) not in ALSO_ACCEPTED.get((language, k), set())}
    assert wrong == {}, captioned["notes"]
    assert verdicts.get(4) in ("extra", "other_language"), captioned["notes"]


def test_captions_show_what_was_spoken_and_never_an_unspoken_line(captioned):
    entries, shown = captioned["entries"], captioned["shown"]
    assert shown[0] == words_of(entries[0]["scripted"]), "spoken as scripted: the script's words"
    assert _share(shown[1], entries[1]["spoken"]) > _share(shown[1], entries[1]["scripted"]), shown[1]
    unspoken = set(words_of(entries[2]["scripted"])) - set(words_of(entries[2]["spoken"]))
    assert shown[2] and not unspoken & set(shown[2]), shown[2]
    assert _share(shown[3], entries[3]["spoken"]) >= 0.5, shown[3]
    assert _share(shown[4], entries[4]["spoken"]) >= 0.5, shown[4]
    assert shown[5] == [], "a dropped line is never captioned"
