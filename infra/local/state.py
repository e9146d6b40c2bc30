"""The state file, <state_dir>/state.json: the cloud's project and ports and one entry per running process.

An entry is {pid, pgid, start_time, argv, health_url, log}. The file records the boot id: after a reboot
the pids it names may belong to anything, so it is then read as empty.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from shared.core.config import LocalPorts

STATE_FILE_NAME = "state.json"


def boot_id() -> str:
    """This boot of the kernel (recorded processes from an earlier boot are gone)."""
    return Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def _read(path: Path) -> dict[str, Any] | None:
    """The document, or None when it is missing, unreadable or from before a reboot."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if doc.get("boot_id") == boot_id() else None


def recorded_cloud(state_dir: Path) -> tuple[LocalPorts, str] | None:
    """(ports, project) of the cloud recorded in state_dir, if it has live entries from this boot."""
    doc = _read(state_dir / STATE_FILE_NAME)
    if doc is None or not doc.get("processes"):
        return None
    return LocalPorts(**doc["ports"]), doc["project"]


class StateFile:
    """Reads and atomically rewrites one cloud's state.json."""

    def __init__(self, state_dir: Path, project: str, ports: LocalPorts) -> None:
        self.state_dir = state_dir
        self.path = state_dir / STATE_FILE_NAME
        self.project = project
        self.ports = ports

    def load(self) -> dict[str, dict[str, Any]]:
        """Recorded processes; none when the file is missing or from before a reboot (pids reused)."""
        doc = _read(self.path)
        return dict(doc.get("processes", {})) if doc is not None else {}

    def record(self, name: str, entry: dict[str, Any] | None) -> None:
        """Add (or, with None, remove) one process."""
        processes = self.load()
        processes.pop(name, None)
        processes.update({name: entry} if entry else {})
        self.state_dir.mkdir(parents=True, exist_ok=True)
        doc = {"project": self.project, "ports": asdict(self.ports), "boot_id": boot_id(),
               "processes": processes}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=2))
        tmp.replace(self.path)

    def pids(self) -> dict[str, int]:
        """Recorded process-group ids by component name."""
        return {name: entry["pgid"] for name, entry in self.load().items()}

    def remove(self) -> None:
        """Delete the file."""
        self.path.unlink(missing_ok=True)
