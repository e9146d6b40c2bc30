"""The script cache key: normalised theme, every other field counts."""
from __future__ import annotations

from shared.api import script_cache


def test_cache_key_ignores_case_spacing_and_edge_punctuation_only():
    a = script_cache.key_fields("  A Lighthouse   keeper! ", "cinematic", "en", None, "brand_campaign", 9)
    b = script_cache.key_fields("a lighthouse keeper", "cinematic", "en", None, "brand_campaign", 9)
    assert script_cache.cache_key("u1", a) == script_cache.cache_key("u1", b)
    for change in ({"style": "anime"}, {"language": "fr"}, {"character_id": "c1"}, {"preset": "quick_social"},
                   {"blocks": 10}, {"theme": "a lighthouse keeper's dog"}):
        assert script_cache.cache_key("u1", {**b, **change}) != script_cache.cache_key("u1", b)


def test_cache_key_differs_per_user():
    fields = script_cache.key_fields("a lighthouse keeper", "cinematic", "en", None, "brand_campaign", 9)
    assert script_cache.cache_key("alice", fields) != script_cache.cache_key("bob", fields)
