"""shared.core.clients: the TTS client's location (contract T7), read back from the built google-genai clients."""
from __future__ import annotations

from shared.core.clients import Clients, make_genai, make_tts_genai
from shared.core.config import settings_from_env


def test_vertex_tts_calls_go_to_the_global_location_and_the_rest_stays_regional() -> None:
    settings = settings_from_env({"GENAI_MODE": "vertex", "VERTEX_LOCATION": "europe-west4"})
    regional = make_genai(settings)
    tts = make_tts_genai(settings, regional)
    assert (regional._api_client.location, tts._api_client.location) == ("europe-west4", "global")
    assert tts._api_client.vertexai and tts._api_client.project == settings.project


def test_on_the_gemini_api_the_tts_client_is_the_same_client() -> None:
    settings = settings_from_env({})
    client = make_genai(settings)
    assert make_tts_genai(settings, client) is client


def test_clients_build_the_tts_client_once_on_first_use() -> None:
    settings = settings_from_env({"GENAI_MODE": "vertex"})
    clients = Clients(settings=settings, db=None, publisher=None, storage=None,  # type: ignore[arg-type]
                      genai=make_genai(settings))
    assert clients.tts is clients.tts and clients.tts is not clients.genai
