"""The `studio` command's creator features on the local cloud: voices with samples, the music catalogue with
"none", a create that picks both and is not duplicated when re-run with the same key, and My videos'
lines (views, "1 min 04 s", the character filter). Nothing here runs a job: messages wait in pull mode."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from shared.core import status
from shared.core.vocabulary import VOICES
from tests.support import TEST_USER, make_job

ROOT = Path(__file__).resolve().parents[3]
pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("pull_mode")]


@pytest.fixture(scope="module")
def studio(local_cloud, api_key, tmp_path_factory):  # type: ignore[no-untyped-def]
    cwd = tmp_path_factory.mktemp("studio-cwd")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STUDIO_URL": local_cloud.url_of("agent-script"),
           "STUDIO_TOKEN": api_key}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "infra.studio.cli", *args], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=120)

    return run


def test_voices_lists_every_voice_with_a_sample(studio):
    result = studio("voices")
    assert result.returncode == 0, result.stderr
    for voice in VOICES:
        assert voice in result.stdout
    assert result.stdout.count("sample: http") == len(VOICES)


def test_music_lists_moods_licences_previews_and_none(studio):
    result = studio("music")
    assert result.returncode == 0, result.stderr
    for mood in ("lofi", "upbeat", "ambient", "epic", "calm"):
        assert f" {mood} " in result.stdout
    assert "CC0-1.0" in result.stdout and "preview: http" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("none ")


def test_create_with_a_voice_and_no_music_is_one_video_when_re_run_with_its_key(studio, pipeline):
    key = f"cli-{uuid.uuid4()}"
    args = ("--json", "create", "--theme", f"A kite {uuid.uuid4().hex[:6]} over a salt marsh", "--preset",
            "quick_social", "--voice", "female_senior_gentle", "--music", "none", "--no-wait",
            "--idempotency-key", key)
    first, again = studio(*args), studio(*args)
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    video_id = json.loads(first.stdout)["video_id"]
    assert json.loads(again.stdout)["video_id"] == video_id
    doc = pipeline.doc(video_id)
    assert doc["voice"] == "female_senior_gentle" and doc["music"] == "none"
    assert studio("create", "--theme", "x y z", "--voice", "robot").returncode == 2  # argparse refuses it


def test_list_shows_views_and_minutes_and_filters_by_character(studio, clients):
    character = f"c{uuid.uuid4().hex[:10]}"
    video_id = make_job(clients, 2, owner=TEST_USER, favourite=False, views=7, duration=64.4, planned_seconds=60,
                        character_id=character, title="Marsh kite")
    status.doc_ref(clients.db, video_id).update({"status": "completed"})
    result = studio("list", "--character", character)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if video_id in line]
    assert len(lines) == 1 and "1 min 04 s" in lines[0] and "7 views" in lines[0], result.stdout
    assert len(result.stdout.strip().splitlines()) == 1


def test_review_before_paying_storyboard_then_cancel(studio, pipeline):
    made = studio("create", "--theme", f"A snail {uuid.uuid4().hex[:6]} who races a train", "--preset",
                  "quick_social", "--review")
    assert made.returncode == 0, made.stderr
    video_id = made.stdout.split("video ", 1)[1].split(" ", 1)[0]
    assert f"studio approve {video_id}" in made.stdout and pipeline.doc(video_id)["status"] == "awaiting_approval"
    waiting = studio("storyboard", video_id, "--no-wait")
    assert waiting.returncode == 0 and f"{video_id}  storyboard r0 still rendering" in waiting.stdout, waiting.stdout
    pipeline.storyboard(video_id)  # the storyboard function renders it (pull mode: the test hands it the request)
    board = studio("storyboard", video_id)
    assert board.returncode == 0, board.stderr
    assert "nothing paid to Veo yet" in board.stdout and "preview: http" in board.stdout
    assert sum(1 for line in board.stdout.splitlines() if " s  " in line) == pipeline.doc(video_id)["total_blocks"]
    cancelled = studio("cancel", video_id)
    assert cancelled.returncode == 0 and pipeline.doc(video_id)["status"] == "cancelled"
    assert studio("approve", video_id).returncode == 3  # no longer awaiting approval: refused
