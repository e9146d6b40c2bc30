"""Caption any media file with a script, through the exact code the assembler runs; SRT on stdout.

    .venv/bin/python -m tools.captions MEDIA --script SCRIPT.json [--language LANG]

SCRIPT.json is the pipeline's stored script document (`scripts/{id}.json`: title, theme, style, language,
blocks with index, visual, dialogue, sound_effects). Block windows come from the plan the document carries
(`plan`, as stored on the job), else one Veo chain: 8 s, then 7 s per block. LANG defaults to the script's.
The captions show what was said: the script's words where a block's line was spoken as scripted, Whisper's
elsewhere (shared.assembly.alignment); each block whose line was not delivered is named on stderr.
Operators use it to re-caption a delivered video. Bad input: exit 2 and one line on stderr.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shared.assembly.block_transcripts import complete, windows_of_plan
from shared.assembly.finish import dialogue_of
from shared.assembly.subtitles import build_cues, to_srt
from shared.assembly.transcribe import load_audio
from shared.core.vocabulary import LANGUAGES
from shared.media.probe import probe
from shared.script.writer import ScriptModel
from shared.video.plan import VideoPlan, single_chain

BAD_INPUT = 2


class BadInput(Exception):
    """An argument the command cannot work with (exit 2, one line)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, not argparse's usage block
        print(f"error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(BAD_INPUT)


def _script(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"no such script file: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"script {path} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise BadInput(f"script {path} must be a JSON object (the stored script document)")
    try:
        ScriptModel.model_validate(raw)
        plan = VideoPlan.from_doc(raw["plan"]) if raw.get("plan") else single_chain(len(raw["blocks"]))
    except ValidationError as exc:
        err = exc.errors()[0]
        raise BadInput(f"script {path} does not match the script schema at "
                       f"{'.'.join(map(str, err['loc'])) or 'top level'}: {err['msg']}") from None
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise BadInput(f"script {path} has an invalid plan: {exc}") from None
    if len(plan.blocks) != len(raw["blocks"]):
        raise BadInput(f"script {path}: its plan has {len(plan.blocks)} blocks, the script {len(raw['blocks'])}")
    return {**raw, "plan": plan.to_doc()}


def _media(path: Path) -> Path:
    if not path.is_file():
        raise BadInput(f"no such media file: {path}")
    try:
        info = probe(path)
    except Exception as exc:  # noqa: BLE001 - whatever ffprobe makes of it, it is not media we can hear
        raise BadInput(f"{path} is not a media file ffmpeg can read: {str(exc).splitlines()[0] if str(exc) else exc}"
                       ) from None
    if not info.has_audio:
        raise BadInput(f"{path} has no audio stream to caption")
    return path


def _language(requested: str | None, script: dict[str, Any]) -> str:
    language = requested or str(script.get("language") or "")
    if language not in LANGUAGES:
        raise BadInput(f"unknown language {language!r}: expected one of {', '.join(LANGUAGES)}")
    return language


def captions(media: Path, script: dict[str, Any], language: str) -> tuple[str, list[str]]:
    """The SRT text and one line per block whose dialogue was not delivered as scripted."""
    script = {**script, "language": language}
    windows = windows_of_plan(script["plan"])
    heard = complete({}, windows, load_audio(media), language)  # what the finish does for blocks not heard ahead
    judged = dialogue_of(replace(heard, source=media), script)
    notes = [f"block {b.block}: {b.verdict.value}"
             + (f" ({b.language})" if b.language != language else "")
             + f" - scripted {b.scripted!r}, heard {b.heard!r}" for b in judged if b.is_issue]
    return to_srt(build_cues([w for b in judged for w in b.words])), notes


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m tools.captions", description=__doc__.splitlines()[0])
    parser.add_argument("media", type=Path, help="a video or audio file")
    parser.add_argument("--script", type=Path, required=True, help="the stored script document (JSON)")
    parser.add_argument("--language", help=f"the language spoken ({', '.join(LANGUAGES)}; default: the script's)")
    args = parser.parse_args(argv)
    try:
        script = _script(args.script)
        language = _language(args.language, script)
        media = _media(args.media)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT
    with contextlib.redirect_stdout(sys.stderr):  # the pipeline's JSON logs go to stdout; here it is the SRT's
        srt, notes = captions(media, script, language)
    sys.stdout.write(srt)
    for note in notes:
        print(note, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
