"""The local cloud: emulators, the Gemini/Veo simulator and every agent, on loopback ports.

    python -m infra.local.cloud up|down|status|env     (from the repo root, with .venv's python)

Every process runs in its own process group, recorded in .local-cloud/state.json, and logs to
.local-cloud/logs/<name>.log; `down` ends each group by id. `LocalCloud` is the same thing as a
Python API for tests (which run it on other ports, with another state folder).

The agents call the simulator, unless the cloud is made with `real_gemini_api_key` (`make demo REAL=1`): then
they call the real Gemini API with that key, which is passed in their process environment only, never written
to env.sh. .local-cloud/genai-target records which; starting the cloud for the other target restarts the agents.

This module is the facade and the CLI; the work is done by
  components    which processes, their commands, ports and readiness probes
  environment   the variables every process and client gets (env.sh)
  state         .local-cloud/state.json
  processes     start in an own process group, wait until ready, stop by group id, logs
  provisioning  bucket, topics, push and dead-letter subscriptions, wipe
  chaos         kill / restart / freeze single components
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from infra.local import chaos, provisioning
from infra.local.components import (
    FIRESTORE_BIN,
    PUBSUB_BIN,
    SDK_PLATFORM,
    Component,
    agent_ports,
    catalogue,
    fake_gcs_binary,
    find,
    functions_framework_argv,
    is_healthy,
)
from infra.local.environment import (
    REAL_GEMINI_TARGET,
    REAL_MODE_REMOVED,
    SIMULATOR_TARGET,
    cloud_env,
    env_script,
    passthrough_variables,
    patched_environ,
    real_gemini_env,
    without_secrets,
    without_variables,
)
from infra.local.processes import READY_TIMEOUT_SECONDS, STOP_GRACE_SECONDS, Supervisor, group_alive
from infra.local.provisioning import ACK_DEADLINE_SECONDS, DEAD_LETTER_SUBSCRIPTION
from infra.local.signing_key import write_throwaway_key
from infra.local.state import StateFile, recorded_cloud
from shared.core import log, topics
from shared.core.config import LOCAL_PROJECT, LocalPorts, settings_from_env

__all__ = [
    "ACK_DEADLINE_SECONDS", "DEAD_LETTER_SUBSCRIPTION", "FIRESTORE_BIN", "PUBSUB_BIN", "READY_TIMEOUT_SECONDS",
    "SDK_PLATFORM", "STOP_GRACE_SECONDS", "Component", "LocalCloud", "agent_ports", "fake_gcs_binary",
    "functions_framework_argv", "group_alive", "is_healthy", "main", "passthrough_variables", "patched_environ",
]


class LocalCloud:
    """Start, inspect and stop the local cloud rooted at a repository checkout."""

    def __init__(self, root: Path, ports: LocalPorts | None = None, project: str | None = None,
                 extra_env: Mapping[str, str] | None = None, *, state_dir: Path | None = None,
                 agents_dir: Path | None = None, real_gemini_api_key: str | None = None,
                 agent_env: Mapping[str, str] | None = None) -> None:
        self.root = Path(root).resolve()
        self.ports = ports or LocalPorts.from_env(os.environ)
        self.project = project or os.environ.get("GOOGLE_CLOUD_PROJECT") or LOCAL_PROJECT
        self.extra_env = dict(extra_env or {})
        self.state_dir = Path(state_dir or self.root / ".local-cloud").resolve()
        self.agents_dir = Path(agents_dir or self.root).resolve()
        self.real_gemini_api_key = real_gemini_api_key or None
        # Variables of the agents' processes only (not the emulators' or the simulator's): the bare-runtime tier
        # gives them a PATH without media tools and no system fonts (environment.bare_runtime_env).
        self.agent_env = dict(agent_env or {})
        self._popen: dict[str, subprocess.Popen[bytes]] = {}

    @classmethod
    def recorded(cls, root: Path, *, real_gemini_api_key: str | None = None) -> LocalCloud:
        """The cloud as `up` recorded it in root/.local-cloud (its ports and project), else from env."""
        cloud = cls(root, real_gemini_api_key=real_gemini_api_key)
        found = recorded_cloud(cloud.state_dir)
        return cls(root, *found, real_gemini_api_key=real_gemini_api_key) if found else cloud

    # ---- helpers, built from the current attributes ----------------------------------------
    @property
    def _state(self) -> StateFile:
        return StateFile(self.state_dir, self.project, self.ports)

    @property
    def _processes(self) -> Supervisor:
        return Supervisor(self.root, self._state, self.env, self._popen)

    # ---- configuration -------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """The variables every agent and client of this cloud gets (with the real API key, in REAL mode)."""
        env = cloud_env(self.ports, self.project, self.signing_key_file, self.extra_env)
        return real_gemini_env(env, self.real_gemini_api_key, self.ports) if self.real_gemini_api_key else env

    def env_script(self) -> str:
        """The environment as `export K=V` lines: never the API key."""
        return env_script(without_secrets(self.env()))

    @property
    def genai_target(self) -> str:
        """Where the agents' Gemini and Veo calls go: the simulator or the real Gemini API."""
        return REAL_GEMINI_TARGET if self.real_gemini_api_key else SIMULATOR_TARGET

    @property
    def genai_target_file(self) -> Path:
        """Records the target the running agents were started for."""
        return self.state_dir / "genai-target"

    def _spawn_environ(self) -> contextlib.AbstractContextManager[None]:
        """Processes start from os.environ: in REAL mode, without the caller's endpoint overrides (env.sh)."""
        return without_variables(REAL_MODE_REMOVED) if self.real_gemini_api_key else contextlib.nullcontext()

    def _retarget(self) -> None:
        """Stop the agents (and the studio) that were started for the other target; record this one."""
        try:
            previous = self.genai_target_file.read_text().strip()
        except OSError:
            previous = SIMULATOR_TARGET  # clouds started before the target was recorded used the simulator
        if previous != self.genai_target:
            names = [c.name for c in self.components() if c.name in agent_ports(self.ports) or c.name == "studio"]
            log.info("switching the agents' genai target", previous=previous, target=self.genai_target)
            self._processes.terminate(names, signal.SIGTERM)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.genai_target_file.write_text(self.genai_target + "\n")

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
        items = catalogue(self.root, self.ports, self.project, self.state_dir, self.agents_dir)
        if not self.agent_env:
            return items
        agents, env = agent_ports(self.ports), tuple(sorted(self.agent_env.items()))
        return [dataclasses.replace(c, env=env) if c.name in agents else c for c in items]

    def component(self, name: str) -> Component:
        """The component called `name` (an agent name, firestore, pubsub, gcs, simulator or studio)."""
        return find(self.components(), name)

    def url_of(self, name: str) -> str:
        """Base URL of an agent or emulator, e.g. http://127.0.0.1:8091."""
        return self.component(name).base_url

    # ---- state ---------------------------------------------------------------------------
    def pids(self) -> dict[str, int]:
        """Recorded process-group ids by component name."""
        return self._state.pids()

    def is_running(self, name: str | None = None) -> bool:
        """Whether one component (or, with no name, every component) is alive and healthy."""
        return self._processes.running([self.component(name)] if name else self.components())

    def status_lines(self) -> list[str]:
        """One line per component: name, state, pid and URL."""
        return self._processes.status_lines(self.components())

    def log_tail(self, name: str, lines: int = 30) -> str:
        """The last lines of a component's log."""
        return self._processes.log_tail(name, lines)

    # ---- starting and stopping -----------------------------------------------------------
    def start(self) -> None:
        """Start whatever is not already running and healthy, wait until ready, then provision."""
        write_throwaway_key(self.signing_key_file, self.project)
        with self._spawn_environ():
            self._retarget()
            started = self._processes.start_missing(self.components())
        self.provision()
        (self.state_dir / "env.sh").write_text(self.env_script())
        log.info("local cloud ready", started=[c.name for c in started], project=self.project,
                 genai=self.genai_target)

    def start_agent(self, agent: str) -> None:
        """Start one component (normally an agent) if it is not running, and wait until it serves."""
        with self._spawn_environ():
            self._processes.ensure_started(self.component(agent))

    def stop(self) -> None:
        """SIGTERM every recorded group, SIGKILL what is left after a grace period, remove the state."""
        state = self._state
        self._processes.terminate(list(state.load()), signal.SIGTERM)
        state.remove()
        (self.state_dir / "env.sh").unlink(missing_ok=True)
        self.genai_target_file.unlink(missing_ok=True)

    # ---- chaos ---------------------------------------------------------------------------
    def kill_agent(self, agent: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to one component's process group and forget it once gone."""
        chaos.kill(self._processes, agent, sig)

    def restart_agent(self, agent: str) -> None:
        """Stop one component gracefully and start it again."""
        with self._spawn_environ():
            chaos.restart(self._processes, self.component, agent)

    def restart_agents(self, names: list[str]) -> None:
        """Stop several components gracefully, then start them together (e.g. after changing `extra_env`)."""
        with self._spawn_environ():
            chaos.restart_many(self._processes, self.component, names)

    def pause(self, name: str) -> None:
        """Freeze a component's process group (SIGSTOP): an outage that keeps its in-memory state."""
        chaos.freeze(self._state, name)

    def resume(self, name: str) -> None:
        """Let a paused component run again (SIGCONT)."""
        chaos.thaw(self._state, name)

    # ---- resources -----------------------------------------------------------------------
    def provision(self) -> None:
        """Create the bucket, topics, push subscriptions and the dead-letter pull subscription."""
        provisioning.provision(self.env(), self.ports, self.project, self.bucket)

    def push_endpoint(self, route: topics.EventRoute) -> str:
        """The functions-framework URL a push subscription delivers `route.topic` to."""
        return provisioning.push_endpoint(self.ports, self.project, route)

    def wipe(self) -> None:
        """Delete every Firestore document and bucket object, and drop pending Pub/Sub messages."""
        provisioning.wipe(self.env(), self.ports, self.project, self.bucket)


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
