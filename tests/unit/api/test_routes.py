"""The OpenAPI description next to the code matches the front door's real route table, both ways."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from shared.api.routes import BODY_ENDPOINTS, HANDLERS, URLS

SPEC = Path(__file__).resolve().parents[3] / "shared" / "api" / "openapi.yaml"
METHODS = {"get", "post", "put", "patch", "delete"}


def _routes() -> set[tuple[str, str]]:
    found = set()
    for rule in URLS.iter_rules():
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        found |= {(path, m.lower()) for m in rule.methods or () if m.lower() in METHODS}
    return found


def _described() -> set[tuple[str, str]]:
    spec = yaml.safe_load(SPEC.read_text())
    return {(path, method) for path, item in spec["paths"].items() for method in item if method in METHODS}


def test_every_route_is_described_and_every_description_is_a_route():
    routes, described = _routes(), _described()
    assert routes - described == set(), "routes missing from shared/api/openapi.yaml"
    assert described - routes == set(), "described paths that the front door does not serve"


def test_every_rule_has_a_handler():
    assert {rule.endpoint for rule in URLS.iter_rules()} == set(HANDLERS)


def test_path_parameters_are_declared():
    spec = yaml.safe_load(SPEC.read_text())
    for path, item in spec["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        declared = {p.get("name") for p in item.get("parameters", []) if "$ref" not in p}
        declared |= {spec["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]["name"]
                     for p in item.get("parameters", []) if "$ref" in p}
        assert names <= declared, path


def test_the_routes_that_read_a_body_are_those_described_with_one():
    spec = yaml.safe_load(SPEC.read_text())
    with_body = {(path, method) for path, item in spec["paths"].items() for method, op in item.items()
                 if method in METHODS and "requestBody" in op}
    endpoints = {rule.endpoint for rule in URLS.iter_rules() for method in rule.methods or ()
                 if (re.sub(r"<([^>]+)>", r"{\1}", rule.rule), method.lower()) in with_body}
    assert endpoints == BODY_ENDPOINTS
