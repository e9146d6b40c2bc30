"""Validation of JSON request bodies against pydantic models, with one error shape for every route."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared.core.errors import ErrorCode, InvalidInputError

ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_body(model: type[ModelT], body: Any) -> ModelT:
    """Validate a body; InvalidInputError with a per-field code (`invalid_<field>`) on the first problem."""
    if not isinstance(body, dict):
        raise InvalidInputError("the body must be a JSON object", code=ErrorCode.INVALID_BODY)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "body"
        code = ErrorCode.UNKNOWN_FIELD if first["type"] == "extra_forbidden" else f"invalid_{field}"
        message = first["msg"].removeprefix("Value error, ")
        raise InvalidInputError(f"{field}: {message}", code=code, field=field) from exc


def one_of(value: str, allowed: Iterable[str], name: str) -> str:
    """`value` if it is one of `allowed`; else a ValueError naming the choices (for pydantic validators)."""
    choices = list(allowed)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}")
    return value
