"""Review edits of a script are validated like a new script."""
from __future__ import annotations

import datetime as dt

import pytest

from shared.api import storyboard
from shared.core import status
from shared.core.errors import InvalidInputError


def test_review_edits_are_validated_again():
    script = {"language": "en", "blocks": [{"index": 0, "visual": "a harbour", "dialogue": "Hello there."},
                                           {"index": 1, "visual": "a boat", "dialogue": ""}]}
    edited = storyboard.apply_edits(script, {"blocks": [{"index": 1, "dialogue": "We sail at dawn."}]})
    assert edited["blocks"][1]["dialogue"] == "We sail at dawn." and edited["blocks"][0] == script["blocks"][0]
    for bad, code in [({"blocks": [{"index": 5, "visual": "x y z"}]}, "invalid_blocks"),
                      ({"blocks": [{"index": 0, "dialogue": " ".join(["word"] * 15)}]}, "invalid_blocks"),
                      ({"blocks": [{"index": 0, "visual": "ab"}]}, "invalid_blocks"),
                      ({"blocks": [{"index": 0, "dialogue": ""}]}, "invalid_blocks"),
                      ({"blocks": [{"index": 0, "speed": 2}]}, "unknown_field")]:
        with pytest.raises(InvalidInputError) as caught:
            storyboard.apply_edits(script, bad)
        assert caught.value.code == code, bad


def test_a_lost_storyboard_request_is_asked_again_but_not_one_being_rendered():
    now = status.utcnow()
    long_ago = now - dt.timedelta(seconds=storyboard.REQUEST_AGAIN_SECONDS + 5)
    rendering = {"owner": "other", "until": now + dt.timedelta(seconds=60)}
    assert storyboard._request_lost({}, 0), "never asked for"
    assert storyboard._request_lost({"revision": 0, "requested_at": now}, 1), "asked for an older revision"
    assert not storyboard._request_lost({"revision": 1, "requested_at": now}, 1), "just asked for"
    assert storyboard._request_lost({"revision": 1, "requested_at": long_ago}, 1), "asked long ago, nobody on it"
    assert not storyboard._request_lost({"revision": 1, "requested_at": long_ago, "lease": rendering}, 1)
