"""The backend contract (openapi.yaml) as the client uses it: every 2xx reply is checked
against its operation's schema before anything of it is used, so a reply of the wrong shape
(a missing `application_id`, a number where a string belongs) is a typed MalformedReply and
not a KeyError in the middle of a service.

The schemas are read once from the document shipped beside this module, with every `$ref`
inlined, so that each operation's reply schema stands alone (the tests generate replies from
the same schemas).
"""
from __future__ import annotations

import functools
from pathlib import Path

import jsonschema
import yaml

from kiosk.backend.errors import MalformedReply

DOCUMENT = Path(__file__).with_name("openapi.yaml")
MAX_ERRORS_NAMED = 3


def _inline(node, document: dict, seen: tuple[str, ...] = ()):
    """`node` with every local `$ref` replaced by what it points at."""
    if isinstance(node, list):
        return [_inline(item, document, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        if ref in seen:
            raise ValueError(f"openapi.yaml: {ref} refers to itself")
        target = document
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        rest = {key: value for key, value in node.items() if key != "$ref"}
        return _inline({**target, **rest}, document, (*seen, ref))
    return {key: _inline(value, document, seen) for key, value in node.items()}


@functools.cache
def reply_schemas() -> dict[tuple[str, int], dict]:
    """(operationId, 2xx status) -> the reply's JSON schema, standing alone."""
    document = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    schemas = {}
    for path_item in document["paths"].values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            for status, response in operation.get("responses", {}).items():
                if not str(status).startswith("2"):
                    continue
                response = _inline(response, document)
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if schema is not None:
                    schemas[(operation["operationId"], int(status))] = schema
    return schemas


@functools.cache
def _validator(operation: str, status: int) -> jsonschema.protocols.Validator | None:
    schema = reply_schemas().get((operation, status))
    if schema is None:
        return None
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def check_reply(operation: str, status: int, reply: dict) -> dict:
    """`reply` when it is what the contract promises for `operation` answering `status`;
    MalformedReply naming where it is not (a status the contract does not list, too)."""
    if not any(op == operation for op, _status in reply_schemas()):
        raise ValueError(f"openapi.yaml has no operation {operation!r}")
    validator = _validator(operation, status)
    if validator is None:
        raise MalformedReply(f"{operation} answered {status}, which the contract does not list", status=status)
    errors = sorted(validator.iter_errors(reply), key=lambda error: list(error.absolute_path))
    if errors:
        places = "; ".join(f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.validator}"
                           for error in errors[:MAX_ERRORS_NAMED])
        raise MalformedReply(f"{operation} reply breaks the contract: {places}", status=status)
    return reply
