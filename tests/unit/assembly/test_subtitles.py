"""Cue building, SRT/VTT writers, script alignment and ASS escaping (no ffmpeg, no Whisper)."""
from __future__ import annotations

import re

import pytest

from shared.assembly.alignment import TimedWord, align_block, align_script, normalise
from shared.assembly.caption_style import build_ass, caption_style, check_font_coverage, escape_ass_text
from shared.assembly.subtitles import (
    MAX_CUE_SECONDS,
    MAX_LINE_CHARS,
    MIN_CUE_SECONDS,
    Cue,
    build_cues,
    parse_srt,
    to_srt,
    to_vtt,
    wrap_lines,
)
from shared.assembly.transcribe import Word
from shared.core.errors import PermanentError
from shared.video.plan import plan_video, single_chain


def _timed(text: str, start: float = 0.0, per_word: float = 0.35, block: int = 0) -> list[TimedWord]:
    return [TimedWord(w, start + k * per_word, start + (k + 1) * per_word - 0.05, block)
            for k, w in enumerate(text.split())]


LONG = ("Once upon a time, in a city of glass and rain, a small robot learned to paint the sky. "
        "It painted dawn in orange; it painted dusk in violet! Nobody noticed, until one morning "
        "the whole city woke up and looked up at the same time.")


def test_cues_respect_line_and_char_limits() -> None:
    cues = build_cues(_timed(LONG))
    assert cues
    for cue in cues:
        assert 1 <= len(cue.lines) <= 2
        assert all(len(line) <= MAX_LINE_CHARS for line in cue.lines), cue.lines


def test_cue_durations_between_one_and_six_seconds_and_never_overlap() -> None:
    words = _timed(LONG, per_word=0.5) + _timed("Yes. No. Maybe.", start=40.0, per_word=0.2)
    cues = build_cues(words)
    for cue in cues:
        assert MIN_CUE_SECONDS - 1e-6 <= cue.end - cue.start <= MAX_CUE_SECONDS + 1e-6
    for first, second in zip(cues, cues[1:]):
        assert first.end <= second.start


def test_cues_split_after_sentence_punctuation() -> None:
    cues = build_cues(_timed("Hello there. General Kenobi is here!", per_word=0.5))
    assert cues[0].text == "Hello there."
    assert cues[1].text == "General Kenobi is here!"


def test_all_words_kept_in_order() -> None:
    cues = build_cues(_timed(LONG))
    assert " ".join(c.text.replace("\n", " ") for c in cues).split() == LONG.split()


def test_pause_and_block_change_start_a_new_cue() -> None:
    words = _timed("first line", start=1.0) + _timed("second line", start=5.0, block=0)
    words += _timed("next block", start=8.2, block=1)
    assert [c.text for c in build_cues(words)] == ["first line", "second line", "next block"]


def test_wrap_prefers_balanced_lines() -> None:
    lines = wrap_lines("The ocean wakes up before the city does.")
    assert lines is not None and len(lines) == 2
    assert abs(len(lines[0]) - len(lines[1])) < 20


def test_srt_format_round_trips() -> None:
    cues = [Cue(0.5, 2.25, ("Hello,", "world.")), Cue(3661.0, 3662.5, ("Later",))]
    text = to_srt(cues)
    assert text.startswith("1\n00:00:00,500 --> 00:00:02,250\nHello,\nworld.\n")
    assert "2\n01:01:01,000 --> 01:01:02,500\nLater\n" in text
    assert parse_srt(text) == cues


def test_vtt_format() -> None:
    text = to_vtt([Cue(1.0, 2.0, ("a <b> & c",))])
    assert text.startswith("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n")
    assert "a &lt;b&gt; &amp; c" in text


def test_empty_subtitles_are_valid() -> None:
    assert to_srt([]) == ""
    assert to_vtt([]) == "WEBVTT\n"
    assert parse_srt("") == []


def test_alignment_keeps_script_spelling_when_whisper_misspells() -> None:
    script = "Every wave carries a story, colour and light.".split()
    heard = [Word("Every", 8.8, 9.3), Word("Wayne", 9.3, 9.6), Word("Carrey's", 9.6, 10.0),
             Word("story", 10.0, 10.5), Word("color", 10.5, 10.9), Word("and", 10.9, 11.1),
             Word("light.", 11.1, 11.6)]
    aligned = align_block(script, heard, 1, (8.0, 15.0))
    assert [w.text for w in aligned] == script
    starts = [w.start for w in aligned]
    assert starts == sorted(starts)
    assert aligned[0].start == pytest.approx(8.8)
    assert aligned[-1].end == pytest.approx(11.6)
    assert all(8.8 <= w.start <= 11.6 for w in aligned)


def test_alignment_interpolates_missing_words() -> None:
    script = "the quick brown fox jumps over the lazy dog".split()
    heard = [Word("the", 1.0, 1.2), Word("quick", 1.2, 1.5), Word("fox", 2.0, 2.3), Word("jumps", 2.3, 2.8),
             Word("over", 2.8, 3.0), Word("the", 3.0, 3.1), Word("lazy", 3.1, 3.4), Word("dog", 3.4, 3.8)]
    aligned = align_block(script, heard, 0, (0.0, 8.0))  # one word missed: within the English tolerance
    assert [w.text for w in aligned] == script
    assert 1.5 <= aligned[2].start < aligned[3].start <= 2.0


def test_unscripted_speech_falls_back_to_transcript() -> None:
    blocks = [{"index": 0, "dialogue": "Hello world."}, {"index": 1, "dialogue": ""}]
    heard = [Word("Hello", 1.0, 1.3), Word("world.", 1.3, 1.8), Word("Surprise!", 9.0, 9.6)]
    assert [w.text for w in align_script(blocks, heard, single_chain(2).windows())] == ["Hello", "world.", "Surprise!"]


def test_scripted_block_without_speech_shows_nothing() -> None:
    blocks = [{"index": 0, "dialogue": "Hello world."}]
    assert align_script(blocks, [], single_chain(1).windows()) == []


def test_normalise_ignores_case_accents_punctuation() -> None:
    assert normalise("¡Mañana!") == normalise("manana") == "manana"


HOSTILE = "It's 100% \\N {\\b1}bold{\\b0} a:b, \"quoted\" C:\\path\\new ☺ שלום مرحبا"


def test_ass_escaping_defuses_override_blocks_and_backslashes() -> None:
    escaped = escape_ass_text(HOSTILE)
    assert not re.search(r"(?<!\\)\{", escaped), "an unescaped { would start an override block"
    assert not re.search(r"\\[Nnh]", escaped), "a backslash must never form \\N, \\n or \\h"
    assert escaped.replace("\u200b", "").replace("\\{", "{").replace("\\}", "}") == HOSTILE


def test_ass_document_has_safe_zone_margin_and_one_event_per_cue() -> None:
    cues = [Cue(1.0, 2.5, ("first", "second")), Cue(3.0, 4.0, (HOSTILE,))]
    doc = build_ass(cues, caption_style("anime"), width=1080, height=1920)
    style_line = next(line for line in doc.splitlines() if line.startswith("Style: Default"))
    margin_v = int(style_line.split(",")[21])
    assert 0.22 * 1920 <= margin_v <= 0.28 * 1920
    events = [line for line in doc.splitlines() if line.startswith("Dialogue:")]
    assert len(events) == 2
    assert events[0].endswith("first\\Nsecond")
    assert "\n" not in events[1]


def test_every_style_has_a_caption_style() -> None:
    for style_id in ("cinematic", "anime", "realistic", "sketch", "cyberpunk", "vintage", "fantasy"):
        assert caption_style(style_id).font == "DejaVu Sans"


def test_font_coverage_names_characters_the_caption_font_lacks() -> None:
    cues = [Cue(0.0, 1.0, ("Hello \U000f0000 and \u4e16\u754c",))]  # private-use + CJK (DejaVu has neither)
    with pytest.raises(PermanentError) as caught:
        check_font_coverage(cues, "DejaVu Sans")
    assert caught.value.code == "missing_glyphs"
    assert all(f"U+{c:04X}" in caught.value.message for c in (0xF0000, 0x4E16, 0x754C))


def test_font_coverage_accepts_latin_hebrew_arabic() -> None:
    cues = [Cue(0.0, 1.0, (HOSTILE,))]
    assert check_font_coverage(cues, "DejaVu Sans") == cues


def test_emoji_the_caption_font_lacks_are_dropped_not_burned_as_boxes() -> None:
    cues = [Cue(0.0, 1.0, ("Good morning \U0001F680\u200d!",))]
    assert check_font_coverage(cues, "DejaVu Sans")[0].lines == ("Good morning \u200d!",)


def test_a_sentence_tail_is_not_left_as_a_one_word_cue() -> None:
    text = "A lighthouse keeper who befriends has a lesson for us."
    words = [TimedWord(w, 0.3 * i, 0.3 * i + 0.25, 0) for i, w in enumerate(text.split())]
    cues = build_cues(words)
    assert len(cues) == 2
    assert all(len(" ".join(cue.lines).split()) >= 3 for cue in cues)
    assert " ".join(" ".join(c.lines) for c in cues) == text


def test_multi_segment_windows_put_each_line_in_its_block() -> None:
    """A 3-segment Vertex plan: blocks 4 and 8 start 1 s later than a single chain would put them."""
    from shared.core.config import VERTEX
    plan = plan_video(12, VERTEX)
    blocks = [{"index": i, "dialogue": f"line{i} here." if i in (4, 8) else ""} for i in range(12)]
    # block 4 spans 29-37 s and block 8 spans 58-66 s in the joined video (one chain would say 29-36 and 57-64)
    heard = [Word("line4", 36.2, 36.5), Word("here.", 36.5, 36.8), Word("line8", 64.3, 64.6), Word("here.", 64.6, 65.0)]
    aligned = align_script(blocks, heard, plan.windows())
    assert [(w.text, w.block) for w in aligned] == [("line4", 4), ("here.", 4), ("line8", 8), ("here.", 8)]
    one_chain = align_script(blocks, heard, single_chain(12).windows())
    assert [w.block for w in one_chain] != [4, 4, 8, 8], "the single-chain copy drifted at segment joins"
