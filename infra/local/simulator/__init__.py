"""A local stand-in for the Gemini API (text, image) and Veo 3.1, speaking the REST protocol of google-genai.

Run it with `python -m infra.local.simulator --port 8090`; see server.py for the routes.
"""
from infra.local.simulator.server import create_app

__all__ = ["create_app"]
