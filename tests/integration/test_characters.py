"""Characters API over HTTP (front door), and a character video at the video-agent level: the delivered
Veo video starts from the opening frame the image model composed with the character."""
from __future__ import annotations

import io
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from shared.core.storage import read_json
from tests.support import billed_seconds, check_signed_url, drive_video_step, make_job

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("pull_mode")]
BODY = {"name": "Mila", "description": "a red fox wearing a blue scarf", "style": "anime"}


def _url(pipeline, path: str = "") -> str:
    return pipeline.cloud.url_of("agent-script") + "/characters" + path


def _create(pipeline, owner: str, body=BODY) -> requests.Response:
    return requests.post(_url(pipeline), json=body, headers=pipeline.headers(owner), timeout=60)


def _png(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def test_create_list_get_delete(pipeline, clients):
    # owners of their own: characters other tests of the session made are not listed
    alice, bob = f"alice-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}"
    created = _create(pipeline, alice)
    assert created.status_code == 201, created.text
    character = created.json()
    cid = character["character_id"]
    assert (character["owner"], character["name"], character["style"]) == (alice, "Mila", "anime")
    portrait = _png(clients.storage.bucket(clients.settings.bucket).blob(f"characters/{cid}.png").download_as_bytes())
    assert portrait.size[0] > 100 and portrait.size[1] > portrait.size[0], "a real 9:16 PNG"
    assert character["image_uri"].endswith(f"characters/{cid}.png")
    assert check_signed_url(character["portrait_url"], clients.settings.signing_key_file) is None
    assert _png(requests.get(character["portrait_url"], timeout=30).content).size == portrait.size
    _create(pipeline, bob, {**BODY, "name": "Bob's hero"})
    listed = requests.get(_url(pipeline), headers=pipeline.headers(alice), timeout=30).json()["characters"]
    assert [c["name"] for c in listed] == ["Mila"], "only the caller's own characters are listed"
    assert requests.get(_url(pipeline, f"/{cid}"), headers=pipeline.headers(alice), timeout=30).json()["name"] == "Mila"
    assert requests.get(_url(pipeline, f"/{cid}"), headers=pipeline.headers(bob), timeout=30).status_code == 404
    assert requests.delete(_url(pipeline, f"/{cid}"), headers=pipeline.headers(bob), timeout=30).status_code == 404
    assert requests.delete(_url(pipeline, f"/{cid}"), headers=pipeline.headers(alice), timeout=30).status_code == 204
    assert requests.get(_url(pipeline, f"/{cid}"), headers=pipeline.headers(alice), timeout=30).status_code == 404
    assert not clients.storage.bucket(clients.settings.bucket).blob(f"characters/{cid}.png").exists()
    reserved = requests.delete(_url(pipeline, "/__proto__"), headers=pipeline.headers(alice), timeout=30)
    assert reserved.status_code == 404, "an id Firestore reserves is simply not found"


@pytest.mark.parametrize("body, code", [
    ({"description": "no name here"}, "invalid_name"),
    ({**BODY, "style": "noir"}, "invalid_style"),
    ({**BODY, "age": 3}, "unknown_field"),
])
def test_bad_character_requests_get_a_4xx(pipeline, body, code):
    response = _create(pipeline, "alice", body)
    assert response.status_code == 400 and response.json()["error"]["code"] == code


def test_script_prompt_names_the_character(pipeline, clients):
    cid = _create(pipeline, "alice").json()["character_id"]
    response = pipeline.create_video({"theme": "A fox who learns to sail", "language": "fr", "character_id": cid},
                                     user_id="alice")
    assert response.status_code == 202, response.text
    doc = pipeline.doc(response.json()["video_id"])
    assert doc["character_id"] == cid and read_json(clients.storage, doc["script_uri"])["blocks"]


def _first_frame(video: Path) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-frames:v", "1", "-vf", "scale=90:160",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(160, 90, 3).astype(np.float64)


def test_character_video_starts_from_the_composed_opening_frame(pipeline, simulator, clients, tmp_path):
    cid = _create(pipeline, "alice").json()["character_id"]
    simulator.clear_ledger()
    with_character = make_job(clients, blocks=1, character_id=cid)
    without = make_job(clients, blocks=1)
    for video_id in (with_character, without):
        drive_video_step(pipeline, video_id)
    docs = {v: pipeline.doc(v) for v in (with_character, without)}
    assert all(d["status"] == "video_generated" for d in docs.values()), [d.get("error") for d in docs.values()]
    bucket = clients.storage.bucket(clients.settings.bucket)
    opening = _png(bucket.blob(f"veo31_frames/{with_character}/opening.png").download_as_bytes())
    reference = np.asarray(opening.resize((90, 160)), dtype=np.float64)
    diffs = {v: np.abs(_first_frame(pipeline.download(d["veo_video_uri"], tmp_path / f"{v}.mp4")) - reference).mean()
             for v, d in docs.items()}
    assert diffs[with_character] < 25 and diffs[with_character] < diffs[without] / 2, diffs
    ledger = simulator.ledger()
    assert [e["image_input"] for e in ledger if with_character in e["scene"]] == [True]
    assert docs[with_character]["usage"]["image_calls"] == 1
    assert billed_seconds(ledger, with_character) == docs[with_character]["usage"]["veo_seconds"] == 8
    # a redelivery reuses the stored opening frame: no second image call, no second Veo call
    drive_video_step(pipeline, with_character)
    assert pipeline.doc(with_character)["usage"]["image_calls"] == 1 and len(simulator.ledger()) == len(ledger)
