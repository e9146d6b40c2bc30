"""Integration tests drive one agent at a time: the pipeline's subscriptions are in pull mode."""
import pytest

from shared.core.topics import EVENT_ROUTES


@pytest.fixture(scope="module")
def pull_mode(pipeline):  # type: ignore[no-untyped-def]
    """Published messages wait in their subscriptions; the test delivers them itself."""
    pipeline.use_pull()
    yield
    for route in EVENT_ROUTES:
        pipeline.drain(route)
