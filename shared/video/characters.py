"""Characters as the video step uses them: the stored character and the image model (Nano Banana).

Firestore `characters/{id}` {owner, name, description, style, image_uri, created_at}; the portrait at
gs://BUCKET/characters/{id}.png. The HTTP routes that create and list them are in shared.api.characters.
"""
from __future__ import annotations

from typing import Any

from google import genai
from google.cloud import firestore
from google.genai import types

from shared.core import layout
from shared.core.errors import ErrorCode, GenerationError
from shared.core.retry import call_gemini


def generate_image(client: genai.Client, model: str, prompt: str, images: list[bytes] | None = None,
                   aspect_ratio: str = "9:16") -> bytes:
    """One PNG from the image model (Nano Banana), optionally conditioned on input images.

    429/5xx are retried within call_gemini's bound, then raised as TransientError; so is a call that timed
    out (the client's timeout, shared.core.clients) or could not connect.
    """
    contents: list[Any] = [types.Part.from_bytes(data=png, mime_type="image/png") for png in images or []]
    contents.append(prompt)
    config = types.GenerateContentConfig(response_modalities=["IMAGE"],
                                         image_config=types.ImageConfig(aspect_ratio=aspect_ratio))
    response = call_gemini("image model", client.models.generate_content,
                           refused_code=ErrorCode.IMAGE_GENERATION_FAILED, model=model, contents=contents,
                           config=config)
    for candidate in response.candidates or []:
        for part in (candidate.content and candidate.content.parts) or []:
            if part.inline_data and part.inline_data.data:
                return part.inline_data.data
    raise GenerationError("the image model returned no image", code=ErrorCode.IMAGE_GENERATION_FAILED)


def load_character(db: firestore.Client, character_id: str) -> dict[str, Any] | None:
    """A character document by id (any owner), or None."""
    snap = db.collection(layout.CHARACTERS).document(character_id).get()
    return snap.to_dict() if snap.exists else None
