"""Chaos controls: kill, restart and freeze single components of a running local cloud.

The chaos suites (tests/chaos) use them through LocalCloud's kill_agent, restart_agent, restart_agents,
pause and resume: a killed agent loses its in-flight work, a frozen one (SIGSTOP) keeps its memory but
answers nothing until resumed (SIGCONT).
"""
from __future__ import annotations

import os
import signal
from collections.abc import Callable

from infra.local.components import Component
from infra.local.processes import Supervisor
from infra.local.state import StateFile


def kill(processes: Supervisor, name: str, sig: int = signal.SIGKILL) -> None:
    """Send `sig` to one component's process group (SIGKILL after the grace period) and forget it."""
    processes.terminate([name], sig)


def restart(processes: Supervisor, lookup: Callable[[str], Component], name: str) -> None:
    """Stop one component gracefully and start it again (it reads the cloud's environment anew)."""
    kill(processes, name, signal.SIGTERM)
    processes.ensure_started(lookup(name))


def restart_many(processes: Supervisor, lookup: Callable[[str], Component], names: list[str]) -> None:
    """Stop several components gracefully, then start them together and wait until all serve."""
    processes.terminate(names, signal.SIGTERM)
    components = [lookup(name) for name in names]
    for component in components:
        processes.spawn(component)
    processes.wait_ready(components)


def freeze(state: StateFile, name: str) -> None:
    """Freeze a component's process group (SIGSTOP): an outage that keeps its in-memory state."""
    os.killpg(state.pids()[name], signal.SIGSTOP)


def thaw(state: StateFile, name: str) -> None:
    """Let a frozen component run again (SIGCONT)."""
    os.killpg(state.pids()[name], signal.SIGCONT)
