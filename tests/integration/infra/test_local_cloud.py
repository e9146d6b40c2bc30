"""The local cloud starts every component, provisions Pub/Sub and GCS, and stops without leftovers;
the demo driver follows a status document and downloads the results it names.

Runs its own cloud on free offset ports with its own state folder, so a developer's running stack
is left alone. Uses the real agents when all of them exist, else tiny stand-ins written to tmp.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from infra.local import demo
from infra.local.cloud import (
    DEAD_LETTER_SUBSCRIPTION,
    LocalCloud,
    agent_ports,
    group_alive,
    is_healthy,
)
from shared.core import topics
from shared.core.config import LocalPorts

pytestmark = pytest.mark.timeout(240)

ROOT = Path(__file__).resolve().parents[3]
PORT_OFFSETS = (200, 250, 300, 350, 400)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports() -> LocalPorts:
    """Default ports shifted by the first offset whose every port is free."""
    base = LocalPorts()
    agent_count = len(topics.HTTP_AGENTS) + len(topics.EVENT_ROUTES)
    for offset in PORT_OFFSETS:
        ports = LocalPorts(**{k: v + offset for k, v in asdict(base).items()})
        wanted = [ports.firestore, ports.pubsub, ports.gcs, ports.simulator]
        wanted += [ports.agents_base + i for i in range(agent_count)]
        if all(_port_free(p) for p in wanted):
            return ports
    raise RuntimeError(f"no free port range at offsets {PORT_OFFSETS}")


_STAND_IN_HTTP = "import functions_framework\n\n@functions_framework.http\ndef {entry}(request):\n    return 'ok'\n"
_STAND_IN_EVENT = ("import functions_framework\n\n@functions_framework.cloud_event\n"
                   "def {entry}(event):\n    return None\n")


def _agents_dir(tmp: Path) -> Path:
    """The repo root when every agent's main.py exists, else a folder of stand-in agents."""
    agents: dict[str, list[str]] = {}  # folder -> its entry points (agent-monitor has two)
    for a in topics.HTTP_AGENTS:
        agents.setdefault(a.agent, []).append(_STAND_IN_HTTP.format(entry=a.entry_point))
    for r in topics.EVENT_ROUTES:
        agents.setdefault(r.agent, []).append(_STAND_IN_EVENT.format(entry=r.entry_point))
    if all((ROOT / name / "main.py").exists() for name in agents):
        return ROOT
    for name, sources in agents.items():
        (tmp / name).mkdir(parents=True)
        (tmp / name / "main.py").write_text("\n".join(sources))
    return tmp


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    tmp = tmp_path_factory.mktemp("local-cloud")
    local = LocalCloud(ROOT, _free_ports(), "demo-local-cloud-test", {}, state_dir=tmp / "state",
                       agents_dir=_agents_dir(tmp / "agents"))
    try:
        local.start()
        yield local
    finally:
        local.stop()


@pytest.fixture()
def cloud_env(cloud: LocalCloud) -> LocalCloud:
    """`cloud`, with this test's Google clients pointed at it (tests/conftest.py restores os.environ after)."""
    os.environ.update(cloud.env())
    return cloud


def test_every_component_is_recorded_healthy_and_logging(cloud: LocalCloud) -> None:
    names = [c.name for c in cloud.components()]
    assert names[:3] == ["firestore", "pubsub", "gcs"]
    assert set(agent_ports(cloud.ports)) <= set(names)
    for component in cloud.components():
        assert is_healthy(component), f"{component.name}:\n{cloud.log_tail(component.name)}"
        assert (cloud.state_dir / "logs" / f"{component.name}.log").exists()
    assert cloud.is_running()
    assert set(cloud.pids()) == set(names)
    assert cloud.url_of("agent-script") == f"http://127.0.0.1:{cloud.ports.agents_base}"


def test_push_subscriptions_deliver_to_their_agent_with_dead_letter_policy(cloud_env: LocalCloud) -> None:
    from google.cloud import pubsub_v1

    subscriber, project = pubsub_v1.SubscriberClient(), cloud_env.project
    dead_letter_topic = f"projects/{project}/topics/{topics.DEAD_LETTER}"
    for route in topics.EVENT_ROUTES:
        sub = subscriber.get_subscription(subscription=subscriber.subscription_path(project, route.subscription))
        port = agent_ports(cloud_env.ports)[route.name][0]
        assert sub.topic == f"projects/{project}/topics/{route.topic}"
        assert sub.push_config.push_endpoint == f"http://127.0.0.1:{port}/projects/{project}/topics/{route.topic}"
        assert sub.ack_deadline_seconds == 600
        assert sub.dead_letter_policy.dead_letter_topic == dead_letter_topic
        assert sub.dead_letter_policy.max_delivery_attempts == topics.MAX_DELIVERY_ATTEMPTS
        assert sub.retry_policy.minimum_backoff.seconds == 1
        assert sub.retry_policy.maximum_backoff.seconds == 60
    dead = subscriber.get_subscription(subscription=subscriber.subscription_path(project, DEAD_LETTER_SUBSCRIPTION))
    assert dead.topic == dead_letter_topic and not dead.push_config.push_endpoint
    publisher = pubsub_v1.PublisherClient()
    listed = {t.name.rsplit("/", 1)[1] for t in publisher.list_topics(project=f"projects/{project}")}
    assert set(topics.ALL_TOPICS) <= listed
    subscriber.close()


def test_bucket_exists_and_storage_round_trips(cloud_env: LocalCloud) -> None:
    from google.cloud import storage

    bucket = storage.Client().bucket(cloud_env.bucket)
    assert bucket.exists()
    blob = bucket.blob(f"tests/{uuid.uuid4().hex}.bin")
    payload = uuid.uuid4().bytes * 100
    blob.upload_from_string(payload)
    assert bucket.blob(blob.name).download_as_bytes() == payload


def test_firestore_write_then_read(cloud_env: LocalCloud) -> None:
    from google.cloud import firestore

    doc = firestore.Client().collection("local_cloud_test").document(uuid.uuid4().hex)
    doc.set({"status": "script_ready", "completed_blocks": 0})
    assert doc.get().to_dict() == {"status": "script_ready", "completed_blocks": 0}


def test_wipe_empties_firestore_and_the_bucket(cloud_env: LocalCloud) -> None:
    from google.cloud import firestore, storage

    doc = firestore.Client().collection("local_cloud_test").document("to-wipe")
    doc.set({"x": 1})
    bucket = storage.Client().bucket(cloud_env.bucket)
    bucket.blob("tests/to-wipe.txt").upload_from_string("x")
    cloud_env.wipe()
    assert not doc.get().exists
    assert list(storage.Client().list_blobs(cloud_env.bucket)) == []


def test_env_names_the_emulators_and_simulator(cloud: LocalCloud) -> None:
    env, ports = cloud.env(), cloud.ports
    assert env["FIRESTORE_EMULATOR_HOST"] == f"127.0.0.1:{ports.firestore}"
    assert env["PUBSUB_EMULATOR_HOST"] == f"127.0.0.1:{ports.pubsub}"
    assert env["STORAGE_EMULATOR_HOST"] == f"http://127.0.0.1:{ports.gcs}"
    assert env["GENAI_BASE_URL"] == f"http://127.0.0.1:{ports.simulator}"
    assert env["GOOGLE_CLOUD_PROJECT"] == cloud.project and env["PIPELINE_ENV"] == "local"
    exported = (cloud.state_dir / "env.sh").read_text().splitlines()
    assert f"export LOCAL_AGENTS_BASE_PORT={ports.agents_base}" in exported


def _write_job_history(db: Any, video_id: str, statuses: list[str], bucket: str) -> None:
    """Move a status document through `statuses`, as the agents would."""
    ref, history = db.collection("video_status").document(video_id), []
    for index, name in enumerate(statuses):
        history.append({"status": name, "at": datetime.now(UTC)})
        urls = {field: f"gs://{bucket}/{path}" for field, path in _RESULT_PATHS.items()}
        ref.set({"video_id": video_id, "status": name, "total_blocks": 3, "completed_blocks": min(index, 3),
                 "history": history, **urls})
        time.sleep(0.05)


_RESULT_PATHS = {"final_video_url": "final_videos/v.mp4", "thumbnail_url": "thumbnails/v.jpg",
                 "srt_url": "subtitles/v.srt", "qa_report_url": "qa_reports/v.json"}


def test_demo_follows_a_job_to_completion_and_downloads_its_results(
        cloud_env: LocalCloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from google.cloud import firestore, storage

    video = tmp_path / "v.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=90x160:rate=24", "-t", "1",
                    "-pix_fmt", "yuv420p", str(video)], check=True)
    bucket = storage.Client().bucket(cloud_env.bucket)
    for field, path in _RESULT_PATHS.items():
        if field == "final_video_url":
            bucket.blob(path).upload_from_filename(str(video))
        else:
            bucket.blob(path).upload_from_string(field)
    db, video_id = firestore.Client(), uuid.uuid4().hex
    statuses = ["script_ready", "video_generating", "video_generated", "assembling", "assembled",
                "qa_passed", "completed"]
    writer = threading.Thread(target=_write_job_history, args=(db, video_id, statuses, cloud_env.bucket))
    writer.start()
    doc = demo.follow_status(db, video_id, timeout=30)
    writer.join()
    assert doc["status"] == "completed"
    printed = capsys.readouterr().out.splitlines()
    assert printed and "completed" in printed[-1] and len(printed) <= len(statuses)
    files = demo.download_results(storage.Client(), doc, tmp_path / "out" / video_id)
    assert sorted(f.name for f in files) == ["final.mp4", "qa_report.json", "subtitles.srt", "thumbnail.jpg"]
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                            str(tmp_path / "out" / video_id / "final.mp4")], capture_output=True, text=True)
    assert float(probe.stdout) > 0.5
    steps = demo.step_durations(doc["history"])
    assert [name for name, _ in steps] == statuses[1:] and all(seconds >= 0 for _, seconds in steps)


def test_demo_gives_up_when_the_job_does_not_finish(cloud_env: LocalCloud) -> None:
    from google.cloud import firestore

    db, video_id = firestore.Client(), uuid.uuid4().hex
    db.collection("video_status").document(video_id).set({"status": "video_generating"})
    with pytest.raises(demo.DemoTimeout):
        demo.follow_status(db, video_id, timeout=1.0)


def test_second_start_keeps_the_running_processes(cloud: LocalCloud) -> None:
    before = cloud.pids()
    cloud.start()
    assert cloud.pids() == before


def test_killed_agent_can_be_started_again(cloud: LocalCloud) -> None:
    old_pgid = cloud.pids()["agent-qa"]
    cloud.kill_agent("agent-qa", signal.SIGKILL)
    assert not group_alive(old_pgid)
    assert not cloud.is_running("agent-qa")
    cloud.start_agent("agent-qa")
    assert cloud.is_running("agent-qa")
    assert cloud.pids()["agent-qa"] != old_pgid


def test_a_second_stack_on_the_same_ports_is_refused(cloud: LocalCloud, tmp_path: Path) -> None:
    other = LocalCloud(ROOT, cloud.ports, cloud.project, {}, state_dir=tmp_path / "other",
                       agents_dir=cloud.agents_dir)
    with pytest.raises(RuntimeError, match="already answers"):
        other.start()
    assert other.pids() == {}
    assert cloud.is_running()


def test_stop_leaves_no_process_of_any_group(cloud: LocalCloud) -> None:
    pgids = list(cloud.pids().values())
    cloud.stop()
    assert [g for g in pgids if group_alive(g)] == []
    assert not (cloud.state_dir / "state.json").exists()
    assert not cloud.is_running()
