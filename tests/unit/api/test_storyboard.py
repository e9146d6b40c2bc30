"""Review edits of a script are validated like a new script."""
from __future__ import annotations

import pytest

from shared.api import storyboard
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
