"""The studio command line: every exit code in --help, the request body of `create`, usage errors."""
from __future__ import annotations

import pytest

from infra.studio.api import EXIT_NOT_FOUND, EXIT_REFUSED, EXIT_SERVER
from infra.studio.cli import EXIT_CODES_HELP, build_parser, request_body


def test_every_exit_code_is_documented_in_help():
    for code in (0, 2, EXIT_REFUSED, EXIT_NOT_FOUND, EXIT_SERVER, 6):
        assert f"\n  {code}  " in EXIT_CODES_HELP


def test_request_body_sends_only_the_options_given():
    args = build_parser().parse_args(["create", "--theme", "A fox", "--preset", "quick_social", "--max-cost", "2"])
    assert request_body(args) == {"theme": "A fox", "preset": "quick_social", "max_cost_usd": 2.0}


def test_unknown_style_is_a_usage_error():
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["create", "--theme", "A fox", "--style", "pastel"])
    assert exited.value.code == 2
