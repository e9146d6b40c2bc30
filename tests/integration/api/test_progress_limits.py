"""Live progress under the capacity limits of issue 15, on the real front door restarted with a 2-second stream
limit and one stream per user: a second concurrent stream is refused (429), every stream ends with a `retry:`
hint before the limit, a closed stream frees its slot, a crashed one's slot expires, and the `studio` command
follows a job across many streams, resuming with Last-Event-ID, to its end without ever showing an older state."""
from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from shared.api import progress
from shared.core import status
from shared.core.errors import QuotaError
from shared.core.status import Status
from tests.support import make_job

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("pull_mode")]
ROOT = Path(__file__).resolve().parents[3]
AGENT = "agent-script"
STREAM_SECONDS = 2
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
PAGE_USER = "demo"  # the local user whose key the studio's config.js gives its pages


@pytest.fixture(scope="module")
def front_door(local_cloud) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """agent-script restarted with SSE_MAX_SECONDS=2 and SSE_STREAMS_PER_USER=1; its URL. Restored afterwards."""
    env = {"SSE_MAX_SECONDS": str(STREAM_SECONDS), "SSE_STREAMS_PER_USER": "1"}
    saved = {name: local_cloud.extra_env.get(name) for name in env}
    local_cloud.extra_env.update(env)
    local_cloud.restart_agent(AGENT)
    try:
        yield local_cloud.url_of(AGENT)
    finally:
        for name, value in saved.items():
            if value is None:
                local_cloud.extra_env.pop(name, None)
            else:
                local_cloud.extra_env[name] = value
        local_cloud.restart_agent(AGENT)


def _stream(url: str, key: str, video_id: str) -> requests.Response:
    return requests.get(f"{url}/videos/{video_id}/events", headers={"Authorization": f"Bearer {key}"},
                        stream=True, timeout=(10, 30))


def test_one_stream_per_user_each_ends_with_a_retry_hint_and_frees_its_slot(front_door, pipeline, clients):
    user = f"streamer-{uuid.uuid4().hex[:8]}"
    key = pipeline.key_for(user)
    video_id = make_job(clients, owner=user)
    first = _stream(front_door, key, video_id)
    assert first.status_code == 200
    second = _stream(front_door, key, video_id)
    assert second.status_code == 429 and second.json()["error"]["code"] == "too_many_streams"
    assert int(second.headers["Retry-After"]) >= 1
    other_user = _stream(front_door, pipeline.key_for(f"other-{user}"), video_id)
    assert other_user.status_code == 404, "someone else's video: no stream, and no slot of theirs is taken"
    lines = list(first.iter_lines(decode_unicode=True))  # the server ends the stream at its time limit
    assert lines[0] == "retry: 3000" and any(re.fullmatch(r"retry: \d+", line) for line in lines[1:]), lines
    third = _stream(front_door, key, video_id)
    assert third.status_code == 200, "the ended stream gave its slot back"
    third.close()


def test_a_crashed_streams_slot_expires_by_itself(clients):
    user, now = f"crash-{uuid.uuid4().hex[:8]}", status.utcnow()
    progress.acquire_slot(clients.db, user, 1, lease_seconds=30, now=now)  # never released: its instance died
    with pytest.raises(QuotaError):
        progress.acquire_slot(clients.db, user, 1, lease_seconds=30, now=now + dt.timedelta(seconds=10))
    progress.acquire_slot(clients.db, user, 1, lease_seconds=30, now=now + dt.timedelta(seconds=31))


def _advance(clients, video_id: str) -> None:  # type: ignore[no-untyped-def]
    """The job's statuses, slower than a stream lasts: each step lands in a later stream."""
    pause = STREAM_SECONDS + 0.7
    time.sleep(1)
    status.transition(clients.db, video_id, Status.VIDEO_GENERATING)
    for done in (1, 2):
        time.sleep(pause)
        status.update_in_status(clients.db, video_id, frozenset({Status.VIDEO_GENERATING}),
                                {"completed_blocks": done})
    time.sleep(pause)
    for step in (Status.VIDEO_GENERATED, Status.ASSEMBLING, Status.ASSEMBLED, Status.QA_PASSED):
        status.transition(clients.db, video_id, step)
    time.sleep(pause)
    status.transition(clients.db, video_id, Status.COMPLETED)


def test_the_cli_follows_a_job_across_many_streams_to_its_end(front_door, pipeline, clients):
    user = f"watcher-{uuid.uuid4().hex[:8]}"
    key = pipeline.key_for(user)
    video_id = make_job(clients, blocks=2, owner=user)
    driver = threading.Thread(target=_advance, args=(clients, video_id), daemon=True)
    driver.start()
    watched = subprocess.run([sys.executable, "-m", "infra.studio.cli", "watch", video_id], cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT), "STUDIO_URL": front_door,
                                  "STUDIO_TOKEN": key}, capture_output=True, text=True, timeout=120)
    driver.join(timeout=30)
    assert watched.returncode == 0, watched.stderr
    lines = [line for line in watched.stdout.splitlines() + watched.stderr.splitlines() if "%" in line]
    percents = [int(m.group(1)) for m in (re.search(r"\]\s+(\d+)%", line) for line in lines) if m]
    assert percents == sorted(percents) and percents[-1] == 100, lines  # never an older state than shown before
    assert any("blocks 1/2" in line for line in lines) and any("blocks 2/2" in line for line in lines), lines


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (the pattern of tests/integration/studio/test_studio_pages.py)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), "chromium and chromium-driver missing: run make setup"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,1400"):
        options.add_argument(arg)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _advance_to_failure(clients, video_id: str) -> None:  # type: ignore[no-untyped-def]
    pause = STREAM_SECONDS + 0.7
    time.sleep(2)
    status.transition(clients.db, video_id, Status.VIDEO_GENERATING)
    for done in (1, 2):
        time.sleep(pause)
        status.update_in_status(clients.db, video_id, frozenset({Status.VIDEO_GENERATING}),
                                {"completed_blocks": done})
    time.sleep(pause)
    status.transition(clients.db, video_id, Status.VIDEO_GENERATED)
    time.sleep(pause)
    status.transition(clients.db, video_id, Status.FAILED,
                      {"error": {"code": "qa_failed", "message": "test", "step": "qa", "id": "e1"}})


def test_the_web_page_follows_a_job_across_many_streams_and_never_goes_back(front_door, browser, local_cloud,
                                                                            clients):
    from selenium.webdriver.common.by import By

    video_id = make_job(clients, blocks=2, owner=PAGE_USER, title="Streams", theme="harbour")
    driver = threading.Thread(target=_advance_to_failure, args=(clients, video_id), daemon=True)
    driver.start()
    browser.get(f"{local_cloud.url_of('studio')}/#/video/{video_id}")
    seen: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not browser.find_elements(By.CSS_SELECTOR, "#video-body .error"):
        texts = [e.text for e in browser.find_elements(By.ID, "progress-text")]
        if texts and (not seen or texts[0].split(" · ")[:3] != seen[-1].split(" · ")[:3]):
            seen.append(texts[0])
        time.sleep(0.2)
    driver.join(timeout=30)
    assert browser.find_elements(By.CSS_SELECTOR, "#video-body .error"), seen
    percents = [int(text.split("%", 1)[0]) for text in seen]
    assert percents == sorted(percents) and percents[-1] == 75, seen  # where it stopped: never an older state
    assert any("blocks 2/2" in text for text in seen), seen
    browser.get("about:blank")
