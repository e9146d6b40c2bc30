"""shared.core.config.ENVIRONMENT_VARIABLES names exactly the variables settings_from_env reads."""
from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from shared.core.config import ENVIRONMENT_VARIABLES, load_settings, settings_from_env

PRODUCTION = {"PIPELINE_ENV": "production", "GOOGLE_CLOUD_PROJECT": "p", "PIPELINE_BUCKET": "b",
              "STATUS_BASE_URL": "https://x", "GEMINI_API_KEY": "k"}


class RecordingEnv(Mapping[str, str]):
    """A mapping that remembers every key looked up (get, [], in)."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self._values[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return key in self._values

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.read.add(key)
        return self._values.get(key, default)

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("settings_from_env must look variables up by name, not iterate the environment")

    def __len__(self) -> int:
        return len(self._values)


def _read_by(values: Mapping[str, str]) -> set[str]:
    env = RecordingEnv(values)
    settings_from_env(env)
    return env.read


def test_the_tuple_has_no_duplicates_and_only_upper_case_names() -> None:
    assert len(ENVIRONMENT_VARIABLES) == len(set(ENVIRONMENT_VARIABLES))
    assert all(name.isupper() and name.replace("_", "").isalnum() for name in ENVIRONMENT_VARIABLES)


def test_the_tuple_is_every_variable_settings_from_env_reads() -> None:
    read = _read_by({}) | _read_by(PRODUCTION) | _read_by({**PRODUCTION, "GENAI_MODE": "vertex"})
    read |= _read_by({name: "1" for name in ("VEO_POLL_SECONDS", "CORS_ORIGINS", "MONITOR_BACKOFF_SECONDS")})
    assert set(ENVIRONMENT_VARIABLES) == read


def test_load_settings_reads_the_same_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    recorded: list[set[str]] = []

    def recording(env: Mapping[str, str]):  # type: ignore[no-untyped-def]
        wrapped = RecordingEnv(env)
        try:
            return settings_from_env(wrapped)
        finally:
            recorded.append(wrapped.read)

    for name in ENVIRONMENT_VARIABLES:  # the local defaults, whatever this shell has set
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("shared.core.config.settings_from_env", recording)
    load_settings.cache_clear()
    try:
        load_settings()
    finally:
        load_settings.cache_clear()
    assert recorded == [set(ENVIRONMENT_VARIABLES)]
