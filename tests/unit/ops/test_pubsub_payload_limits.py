"""A Pub/Sub payload with a JSON integer beyond Python's 4,300-digit limit must be refused as malformed.

json.loads raises a plain ValueError for such a number; if decode let it escape, the agent would answer the
push 5xx (redelivered until Pub/Sub dead-letters it) and the monitor's dead-letter pass, which decodes again,
would fail on it every pass without acknowledging it.
"""
from __future__ import annotations

import pytest

from shared.core import messages
from shared.core.errors import InvalidInputError

HUGE = b"9" * 5000


@pytest.mark.parametrize("payload", [
    b'{"schema_version": 1, "kind": "video_request", "video_id": "vabcdefgh1", "attempt": ' + HUGE + b"}",
    b'{"schema_version": ' + HUGE + b"}",
    b"[" + HUGE + b"]",
])
def test_a_json_integer_beyond_the_digit_limit_is_a_malformed_message(payload):
    with pytest.raises(InvalidInputError) as refused:
        messages.decode(payload)
    assert refused.value.code == "malformed_message"
