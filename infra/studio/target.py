"""Which API the studio talks to: --url/--token (or STUDIO_URL/STUDIO_TOKEN), else the local cloud.

Locally the key is the `demo` user's (the one `make demo` uses), created with shared.api.auth's code the
first time and kept in .local-cloud/demo-api-key: local videos made by either tool show up in both.
"""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from infra.studio.api import EXIT_SERVER, StudioError

ROOT = Path(__file__).resolve().parents[2]


def local_target(root: Path = ROOT) -> tuple[str, str]:
    """The running local cloud's API URL and the local user's API key."""
    from infra.local.cloud import LocalCloud, patched_environ

    cloud = LocalCloud.recorded(root)
    if not cloud.is_running("agent-script"):
        raise StudioError("no local cloud is running: start it with `make up`, "
                          "or pass --url and --token (STUDIO_URL, STUDIO_TOKEN) for a deployed API", EXIT_SERVER)
    # shared.core.log writes to stdout: keep a first-use "api key created" line out of the command's output.
    with patched_environ(cloud.env()), contextlib.redirect_stdout(sys.stderr):
        from google.cloud import firestore

        from infra.local.demo import demo_api_key

        key = demo_api_key(firestore.Client(project=cloud.project), cloud.state_dir)
    return cloud.url_of("agent-script"), key


def resolve(url: str | None, token: str | None, root: Path = ROOT) -> tuple[str, str | None]:
    """(base URL, token): a given URL as is (with its token, if any), else the local cloud's."""
    if url:
        return url, token
    local_url, local_key = local_target(root)
    return local_url, token or local_key
