"""The variables of the local cloud: what every agent and client gets, as a dict or as env.sh lines.

The caller's own settings pass through: every variable shared.core.config reads
(`ENVIRONMENT_VARIABLES`) that is set in the caller's environment, plus a few children read directly.

Two targets for the agents' google-genai calls: the simulator (always, unless asked), or the real Gemini API
(`make demo REAL=1`: `real_gemini_env`). The real key reaches the agents' process environment only: env.sh is
written from `without_secrets`.
"""
from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path

from shared.core.config import ENVIRONMENT_VARIABLES, GEMINI_API, LocalPorts, settings_from_env

# Variables a child may need that shared/core/config.py does not read.
_EXTRA_PASSTHROUGH = ("PIPELINE_DEBUG", "WHISPER_MODEL_DIR")
# A developer's real key must not end up in .local-cloud/env.sh: the simulator takes any key.
_NEVER_PASSED = ("GEMINI_API_KEY",)
# Where google-genai calls go when set: the pipeline's setting and the SDK's own overrides (contract K6).
GENAI_ENDPOINT_VARIABLES = ("GENAI_BASE_URL", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_VERTEX_BASE_URL")
# Local-cloud settings that PIPELINE_ENV=production refuses (shared.core.config).
_LOCAL_ONLY = ("AUTH_CERTS_URL",)
# What must not reach an agent talking to the real API, from the caller's environment either (a sourced env.sh).
REAL_MODE_REMOVED = GENAI_ENDPOINT_VARIABLES + _LOCAL_ONLY
SIMULATOR_TARGET = "simulator"
REAL_GEMINI_TARGET = "gemini_api (real)"


def passthrough_variables() -> list[str]:
    """The caller's variables a local cloud hands on: the config module's, minus the real API key."""
    names = set(ENVIRONMENT_VARIABLES) | set(_EXTRA_PASSTHROUGH)
    return sorted(names - set(_NEVER_PASSED))


def cors_origins(ports: LocalPorts, environ: Mapping[str, str]) -> str:
    """The configured API origins plus the studio's own: its pages call the API from there."""
    configured = settings_from_env({k: v for k, v in environ.items() if k == "CORS_ORIGINS"}).cors_origins
    studio = (f"http://127.0.0.1:{ports.studio}", f"http://localhost:{ports.studio}")
    return ",".join(dict.fromkeys(configured + studio))


def cloud_env(ports: LocalPorts, project: str, signing_key_file: Path, extra_env: Mapping[str, str],
              environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables every agent and client of a cloud on `ports` gets (`environ`: the caller's, os.environ)."""
    environ = os.environ if environ is None else environ
    p = ports
    env = {k: environ[k] for k in passthrough_variables() if k in environ}
    env.update({
        "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{p.firestore}",
        "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{p.pubsub}",
        "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{p.gcs}",
        "GOOGLE_CLOUD_PROJECT": project,
        "NO_GCE_CHECK": "True",
        "GCE_METADATA_HOST": "127.0.0.1:1",
        "GCE_METADATA_IP": "127.0.0.1:1",
        "PIPELINE_ENV": "local",
        "GENAI_BASE_URL": f"http://127.0.0.1:{p.simulator}",
        "LOCAL_FIRESTORE_PORT": str(p.firestore),
        "LOCAL_PUBSUB_PORT": str(p.pubsub),
        "LOCAL_GCS_PORT": str(p.gcs),
        "LOCAL_SIMULATOR_PORT": str(p.simulator),
        "LOCAL_AGENTS_BASE_PORT": str(p.agents_base),
        "SIGNING_KEY_FILE": str(signing_key_file),
        "CORS_ORIGINS": cors_origins(p, environ),
    })
    env.update(extra_env)
    return env


def real_gemini_env(env: Mapping[str, str], api_key: str, ports: LocalPorts) -> dict[str, str]:
    """The agents' variables when they call the real Gemini API instead of the simulator (`make demo REAL=1`).

    shared.core.config points a *local* environment without GENAI_BASE_URL at the simulator, so the agents run
    with PIPELINE_ENV=production, whose base URL is google-genai's own (Google's), in mode gemini_api with
    `api_key`. The production-only defaults that would take the agents off the local cloud are pinned back to
    it: API-key auth (the demo user's key), signed URLs from fake-gcs, the local bucket and status URL. What stays
    production's is what fits a real API: Veo polled every 10 s, at most 10 requests a minute.
    """
    real = {k: v for k, v in env.items() if k not in GENAI_ENDPOINT_VARIABLES + _LOCAL_ONLY + _NEVER_PASSED}
    real.update({"PIPELINE_ENV": "production", "GENAI_MODE": GEMINI_API, "GEMINI_API_KEY": api_key})
    real.setdefault("PIPELINE_BUCKET", settings_from_env(env).bucket)
    real.setdefault("STATUS_BASE_URL", f"http://127.0.0.1:{ports.agents_base}")
    real.setdefault("AUTH_MODE", "api_key")
    real.setdefault("SIGNED_URL_ENDPOINT", f"http://127.0.0.1:{ports.gcs}")
    return real


def without_secrets(env: Mapping[str, str]) -> dict[str, str]:
    """`env` without the variables that must never be written to a file (the real API key)."""
    return {k: v for k, v in env.items() if k not in _NEVER_PASSED}


@contextlib.contextmanager
def without_variables(names: tuple[str, ...]) -> Iterator[None]:
    """Remove `names` from os.environ for a block (processes spawned in it start from os.environ)."""
    saved = {k: os.environ.pop(k) for k in names if k in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def env_script(env: Mapping[str, str]) -> str:
    """The environment as `export K=V` lines (sorted), the content of .local-cloud/env.sh."""
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items()))


@contextlib.contextmanager
def patched_environ(env: Mapping[str, str]) -> Iterator[None]:
    """Set variables in os.environ for a block (the Google clients read the emulator hosts there)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# What the Cloud Functions python312 runtime image lacks (issue 13): the agents must run without any of it.
RUNTIME_IMAGE_LACKS = ("ffmpeg", "ffprobe", "espeak-ng", "espeak", "fc-match", "fc-list", "fc-query", "fc-cache")
# A fontconfig configuration that names no font directory (only a cache folder): fontconfig, the one inside the
# imageio-ffmpeg static build included, then sees no system font. Without FONTCONFIG_FILE that build falls back to a
# compiled-in configuration that reads /usr/share/fonts, the XDG data folder and /etc/fonts/conf.d.
_EMPTY_FONTS_CONF = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <cachedir>{cache}</cachedir>
</fontconfig>
"""


def bare_runtime_env(dest: Path, path: str | None = None) -> dict[str, str]:
    """Variables that give a process what the runtime image gives it: `path` (default: this PATH) without the
    tools of RUNTIME_IMAGE_LACKS, and no system fonts (an empty fontconfig configuration, a fresh HOME and XDG
    folders). The PATH is one folder of links to every other executable of the original PATH, in its order."""
    bin_dir, home = dest / "bin", dest / "home"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for made in (home, dest / "fontconfig-cache"):
        made.mkdir(parents=True, exist_ok=True)
    for folder in (path if path is not None else os.environ.get("PATH", "")).split(os.pathsep):
        directory = Path(folder)
        if not folder or not directory.is_dir():
            continue
        for entry in sorted(directory.iterdir()):
            link = bin_dir / entry.name
            if entry.name in RUNTIME_IMAGE_LACKS or link.exists() or link.is_symlink():
                continue
            if entry.is_file() and os.access(entry, os.X_OK):
                link.symlink_to(entry)
    fonts_conf = dest / "fonts.conf"
    fonts_conf.write_text(_EMPTY_FONTS_CONF.format(cache=dest / "fontconfig-cache"), encoding="utf-8")
    return {"PATH": str(bin_dir), "FONTCONFIG_FILE": str(fonts_conf), "FONTCONFIG_PATH": str(dest),
            "HOME": str(home), "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache")}
