"""A Pub/Sub payload with a JSON integer beyond Python's 4,300-digit limit must be refused as malformed.

json.loads raises a plain ValueError for such a number; shared.core.messages.decode catches only
JSONDecodeError, UnicodeDecodeError and RecursionError, so the ValueError escapes: the agent answers the push
5xx (redelivered until Pub/Sub dead-letters it) and the monitor's dead-letter pass, which decodes again, fails
on it every pass without acknowledging it. The chaos fuzz (tests/chaos/test_fuzz_api.py) leaves such payloads
out until this passes; strict, so it turns red the day shared/core/messages.py is fixed (then draw them there).
"""
from __future__ import annotations

import pytest

from shared.core import messages
from shared.core.errors import InvalidInputError

HUGE = b"9" * 5000


@pytest.mark.xfail(strict=True, raises=ValueError,
                   reason="shared/core/messages.py decode(): a >4,300-digit JSON integer raises ValueError")
@pytest.mark.parametrize("payload", [
    b'{"schema_version": 1, "kind": "video_request", "video_id": "vabcdefgh1", "attempt": ' + HUGE + b"}",
    b'{"schema_version": ' + HUGE + b"}",
    b"[" + HUGE + b"]",
])
def test_a_json_integer_beyond_the_digit_limit_is_a_malformed_message(payload):
    with pytest.raises(InvalidInputError) as refused:
        messages.decode(payload)
    assert refused.value.code == "malformed_message"
