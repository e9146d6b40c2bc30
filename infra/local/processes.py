"""Process lifecycle: start each component in its own process group, wait until it is ready, stop it by
group id, and keep its log in <state_dir>/logs/<name>.log.

A recorded process counts as alive only while its pid has the kernel start time recorded for it, so a
reused pid is never mistaken for (or signalled as) one of ours.
"""
from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from infra.local.components import Component, is_healthy
from infra.local.state import StateFile
from shared.core import log

READY_TIMEOUT_SECONDS = 90.0
STOP_GRACE_SECONDS = 8.0


def _stat_fields(stat_path: Path) -> list[str]:
    """/proc/<pid>/stat fields after the command name ([0] state, [2] pgid, [19] start time)."""
    try:
        return stat_path.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def proc_start_time(pid: int) -> str | None:
    """The kernel start time of `pid` (guards against pid reuse), None if gone or a zombie."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    return fields[19] if fields and fields[0] != "Z" else None


def group_alive(pgid: int) -> bool:
    """Whether any non-zombie process is left in process group `pgid`."""
    return any(f and f[0] != "Z" and int(f[2]) == pgid
               for f in map(_stat_fields, Path("/proc").glob("[0-9]*/stat")))


def alive(entry: dict[str, Any] | None) -> bool:
    """Whether a state entry's process is still the one that was started."""
    return entry is not None and proc_start_time(entry["pid"]) == entry.get("start_time")


class Supervisor:
    """Starts, watches and stops the processes recorded in one state file.

    `popen` keeps the Popen objects of the children this Python process started (to reap them);
    `child_env` gives the cloud's variables at the moment a process is spawned.
    """

    def __init__(self, root: Path, state: StateFile, child_env: Callable[[], Mapping[str, str]],
                 popen: dict[str, subprocess.Popen[bytes]]) -> None:
        self.root = root
        self.state = state
        self.child_env = child_env
        self.popen = popen

    # ---- logs ----------------------------------------------------------------------------
    def log_path(self, name: str) -> Path:
        return self.state.state_dir / "logs" / f"{name}.log"

    def log_tail(self, name: str, lines: int = 30) -> str:
        """The last lines of a component's log."""
        try:
            return "\n".join(self.log_path(name).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # ---- starting ------------------------------------------------------------------------
    def spawn(self, component: Component) -> dict[str, Any]:
        """Start one component in a new session (its own process group) and record it."""
        if is_healthy(component):
            raise RuntimeError(f"{component.name}: {component.health_url} already answers but is not "
                               f"ours (another local cloud on these ports?)")
        log_path = self.log_path(component.name)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.child_env(), "PYTHONPATH": str(self.root), "PYTHONUNBUFFERED": "1",
               "JAVA_TOOL_OPTIONS": "-Xmx512m", **dict(component.env)}
        with log_path.open("ab") as out:
            out.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {shlex.join(component.argv)}\n".encode())
            out.flush()
            proc = subprocess.Popen(component.argv, cwd=self.root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.popen[component.name] = proc
        entry = {"pid": proc.pid, "pgid": proc.pid, "start_time": proc_start_time(proc.pid),
                 "argv": list(component.argv), "health_url": component.health_url, "log": str(log_path)}
        self.state.record(component.name, entry)
        return entry

    def wait_ready(self, components: list[Component], timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """Wait until every component is healthy; RuntimeError (with its log) if one exits or times out."""
        pending = {c.name: c for c in components}
        deadline = time.monotonic() + timeout
        while pending:
            for name, component in list(pending.items()):
                if is_healthy(component):
                    del pending[name]
                elif not alive(self.state.load().get(name)):
                    raise RuntimeError(f"{name} exited while starting:\n{self.log_tail(name)}")
            if pending and time.monotonic() > deadline:
                name = next(iter(pending))
                raise RuntimeError(f"{name} not ready after {timeout:.0f} s:\n{self.log_tail(name)}")
            time.sleep(0.1)

    def start_missing(self, components: list[Component]) -> list[Component]:
        """Start what is not alive and healthy (killing a stale recorded group first), wait until ready.

        On failure, stops what this call started and re-raises. Returns the components started.
        """
        state = self.state.load()
        started: list[Component] = []
        try:
            for component in components:
                entry = state.get(component.name)
                if alive(entry) and is_healthy(component):
                    continue
                if entry:
                    self.terminate([component.name], signal.SIGKILL)
                self.spawn(component)
                started.append(component)
            self.wait_ready(started)
        except RuntimeError:
            log.error("local cloud failed to start; stopping what this call started",
                      started=[c.name for c in started])
            self.terminate([c.name for c in started], signal.SIGKILL)
            raise
        return started

    def ensure_started(self, component: Component) -> None:
        """Start one component if it is not alive and healthy, and wait until it serves."""
        if alive(self.state.load().get(component.name)) and is_healthy(component):
            return
        self.spawn(component)
        self.wait_ready([component])

    # ---- stopping ------------------------------------------------------------------------
    def terminate(self, names: list[str], sig: int) -> None:
        """Signal the groups of `names`, SIGKILL what outlives the grace period, forget them."""
        entries = {n: e for n, e in self.state.load().items() if n in names}
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
            proc = self.popen.pop(name, None)
            if proc is not None:
                proc.poll()
            self.state.record(name, None)

    def _wait_groups_gone(self, pgids: list[int], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(group_alive(g) for g in pgids):
            for proc in self.popen.values():
                proc.poll()  # reap our own children so they do not linger as zombies
            time.sleep(0.05)

    # ---- inspecting ----------------------------------------------------------------------
    def running(self, components: list[Component]) -> bool:
        """Whether every one of `components` is alive and healthy."""
        state = self.state.load()
        return all(alive(state.get(c.name)) and is_healthy(c) for c in components)

    def status_lines(self, components: list[Component]) -> list[str]:
        """One line per component: name, state, pid and URL."""
        state = self.state.load()
        lines = []
        for component in components:
            entry = state.get(component.name)
            is_alive = alive(entry)
            word = "healthy" if is_alive and is_healthy(component) else ("unhealthy" if is_alive else "stopped")
            pid = entry["pid"] if entry else "-"
            lines.append(f"{component.name:<18} {word:<9} pid={pid!s:<8} {component.base_url}")
        return lines
