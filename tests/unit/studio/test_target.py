"""Which API the studio command talks to: a given URL and token as is, else the local cloud (or how to start one)."""
from __future__ import annotations

import pytest

from infra.studio.api import EXIT_SERVER


def test_without_a_url_and_no_local_cloud_it_says_how_to_start_one(tmp_path):
    from infra.studio.api import StudioError
    from infra.studio.target import resolve

    with pytest.raises(StudioError) as raised:
        resolve(None, None, root=tmp_path)
    assert raised.value.exit_code == EXIT_SERVER and "make up" in raised.value.message


def test_a_given_url_is_used_as_is_with_its_token(tmp_path):
    from infra.studio.target import resolve

    assert resolve("https://api.example.com", "vk_x", root=tmp_path) == ("https://api.example.com", "vk_x")
