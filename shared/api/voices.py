"""Narrator voices: the ids a video request may name in `voice` (shared.core.vocabulary.VOICES), each with
a short spoken sample (shared/api/assets/voices, made by tools/voice_samples.py: offline approximations of
the voice the id asks Veo for).

    GET /voices   → 200 {"voices": [{id, label, description, sample_url}], "default": null}
"""
from __future__ import annotations

from pathlib import Path

import flask

from shared.api import signed_urls
from shared.api.videos import shipped_file_uri
from shared.core.clients import Clients
from shared.core.responses import json_response
from shared.core.vocabulary import VOICES

SAMPLES_DIR = Path(__file__).resolve().parent / "assets" / "voices"


def sample_file(voice: str) -> str:
    return f"{voice}.m4a"


def label_of(voice: str) -> str:
    """female_adult_warm → "Female, adult, warm"."""
    return ", ".join(voice.split("_")).capitalize()


def voices_route(clients: Clients, request: flask.Request, _: dict[str, str]) -> flask.Response:
    """GET /voices: every narrator voice with a signed URL of its sample; no voice named lets Veo choose."""
    voices = [{"id": voice, "label": label_of(voice), "description": description,
               "sample_url": signed_urls.signed_url(clients.storage, clients.settings, shipped_file_uri(
                   clients, SAMPLES_DIR / sample_file(voice), f"voices/{sample_file(voice)}", "audio/mp4"))["url"]}
              for voice, description in VOICES.items()]
    return json_response({"voices": voices, "default": None}, 200)
