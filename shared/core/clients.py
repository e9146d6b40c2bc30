"""Client factories: every Google client is built here and passed in, so tests swap endpoints, not code."""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property, lru_cache

import google.cloud.pubsub_v1 as pubsub_v1
import google.cloud.storage as storage
import google.oauth2.credentials
from google import genai
from google.cloud import firestore
from google.genai import types

from shared.core.config import VERTEX, Settings, load_settings

GenaiClient = genai.Client  # the field `genai` below shadows the module inside the class


@dataclass(frozen=True)
class Clients:
    """The clients one step needs, built once per process."""

    settings: Settings
    db: firestore.Client
    publisher: pubsub_v1.PublisherClient
    storage: storage.Client
    genai: genai.Client

    @cached_property
    def tts(self) -> GenaiClient:
        """The google-genai client of the TTS model (storyboard speech), built on first use."""
        return make_tts_genai(self.settings, self.genai)


def genai_http_options(settings: Settings) -> types.HttpOptions:
    """The HTTP options of every google-genai call: the endpoint override and a timeout.

    google-genai's default is no timeout at all, and no retry (contract K1, K2): a stalled connection would
    hold an invocation until the platform kills it. `HttpOptions.timeout` is in milliseconds. Veo submissions
    answer at once (the work is polled separately), so one timeout fits every call.
    """
    return types.HttpOptions(base_url=settings.genai_base_url or None,
                             timeout=int(settings.genai_timeout_seconds * 1000))


def make_genai(settings: Settings) -> genai.Client:
    """google-genai client for the configured mode (Gemini API key or Vertex AI), endpoint overridable."""
    http_options = genai_http_options(settings)
    if settings.genai_mode == VERTEX:
        credentials = None
        if settings.is_local:  # the simulator accepts any bearer token; ADC is used in production
            # google-auth ships py.typed but leaves Credentials.__init__ unannotated (strict core flags the call).
            credentials = google.oauth2.credentials.Credentials(  # type: ignore[no-untyped-call]
                token="local-simulator")
        return genai.Client(vertexai=True, project=settings.project, location=settings.vertex_location,
                            credentials=credentials, http_options=http_options)
    return genai.Client(api_key=settings.gemini_api_key, http_options=http_options)


# Contract T7: on Vertex AI the Gemini 3.8 TTS models are served from the `global` location only.
TTS_VERTEX_LOCATION = "global"


def make_tts_genai(settings: Settings, default: genai.Client) -> genai.Client:
    """The client of the TTS model: `default` on the Gemini API, a `global` Vertex AI client in Vertex mode."""
    if settings.genai_mode != VERTEX or settings.vertex_location == TTS_VERTEX_LOCATION:
        return default
    return make_genai(replace(settings, vertex_location=TTS_VERTEX_LOCATION))


def make_clients(settings: Settings) -> Clients:
    """Build every client for `settings` (emulator endpoints come from the standard *_EMULATOR_HOST variables)."""
    return Clients(
        settings=settings,
        db=firestore.Client(project=settings.project, database=settings.firestore_database),
        publisher=pubsub_v1.PublisherClient(),
        storage=storage.Client(project=settings.project),
        genai=make_genai(settings),
    )


@lru_cache(maxsize=1)
def default_clients() -> Clients:
    """The process-wide clients of a deployed agent."""
    return make_clients(load_settings())
