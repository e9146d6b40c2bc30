"""The script cache key: normalised theme, every other field counts."""
from __future__ import annotations

from shared.api import script_cache


def test_cache_key_ignores_case_spacing_and_edge_punctuation_only():
    a = script_cache.key_fields("  A Lighthouse   keeper! ", "cinematic", "en", None, "brand_campaign", 9)
    b = script_cache.key_fields("a lighthouse keeper", "cinematic", "en", None, "brand_campaign", 9)
    assert script_cache.cache_key(a) == script_cache.cache_key(b)
    for change in ({"style": "anime"}, {"language": "fr"}, {"character_id": "c1"}, {"preset": "quick_social"},
                   {"blocks": 10}, {"theme": "a lighthouse keeper's dog"}):
        assert script_cache.cache_key({**b, **change}) != script_cache.cache_key(b)
