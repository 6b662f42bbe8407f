#!/usr/bin/env python3
"""Validates recorded Discord webhook bodies against Discord's own OpenAPI description.

    validate_discord_bodies.py <openapi.json> <dir>

Every `*.json` file in <dir> (as written by the Discord capture server's
`record_bodies_to`) is checked against `#/components/schemas/IncomingWebhookRequestPartial`
with JSON Schema draft 2020-12, `$ref`s resolved inside the OpenAPI document and the
`date-time` and `uri` formats checked. Then come the rules the schema cannot express
(see shared/reference/discord-api-spec/SOURCE.md):

- the 6000-character total over all embeds, in code points after trimming;
- a body must have non-blank `content` or at least one embed;
- `allowed_mentions.parse` must not name "users"/"roles" alongside a non-empty
  `users`/`roles` list;
- top-level keys the schema does not know (Discord ignores them silently), above all the
  misspelled `allow_mentions`;
- a `username` containing "discord" or "clyde", which Discord refuses.

Prints one line per failing file, then `discord bodies: N passed, M failed`. Exits 1 if any
body fails or if <dir> holds no body at all (a run that recorded nothing proves nothing).
Needs the `jsonschema` package (pinned in scripts/requirements-test.txt).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_NAME = "IncomingWebhookRequestPartial"
# The document is registered under this URI so that its internal `#/components/...`
# references resolve against it.
DOCUMENT_URI = "urn:discord-api-spec:openapi"
EMBED_TOTAL_MAX = 6000
EMBED_TEXT_FIELDS = ("title", "description")
MISSPELLINGS = {"allow_mentions": "allowed_mentions"}
FORBIDDEN_IN_USERNAME = ("discord", "clyde")

RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")


def is_date_time(value: object) -> bool:
    """RFC 3339 date-time, used when jsonschema's optional checker is not installed."""
    if not isinstance(value, str):
        return True  # formats only constrain strings
    if not RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def is_uri(value: object) -> bool:
    """An absolute URI (RFC 3986: a scheme, no spaces), the fallback for `uri`."""
    if not isinstance(value, str):
        return True
    if any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return bool(URI_SCHEME.match(parts.scheme)) and bool(parts.netloc or parts.path)


def format_checker() -> FormatChecker:
    """jsonschema's format checks, plus fallbacks for the two formats Discord's schema
    uses, which jsonschema checks only when optional extra packages are installed."""
    checker = FormatChecker()
    if "date-time" not in checker.checkers:
        checker.checks("date-time")(is_date_time)
    if "uri" not in checker.checkers:
        checker.checks("uri")(is_uri)
    return checker


def load_validator(openapi_path: Path) -> tuple[Draft202012Validator, set[str]]:
    """A validator for the webhook body schema, and the top-level keys it knows."""
    document = json.loads(openapi_path.read_text(encoding="utf-8"))
    try:
        body_schema = document["components"]["schemas"][SCHEMA_NAME]
    except KeyError:
        sys.exit(f"{openapi_path}: no #/components/schemas/{SCHEMA_NAME}")
    resource = Resource(contents=document, specification=DRAFT202012)
    registry = Registry().with_resource(DOCUMENT_URI, resource)
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": f"{DOCUMENT_URI}#/components/schemas/{SCHEMA_NAME}",
    }
    validator = Draft202012Validator(
        schema, registry=registry, format_checker=format_checker()
    )
    return validator, set(body_schema.get("properties", {}))


def discord_len(value: object) -> int:
    """Length as Discord counts it: code points after trimming whitespace."""
    return len(value.strip()) if isinstance(value, str) else 0


def embed_size(embed: object) -> int:
    """What one embed counts towards the 6000 total."""
    if not isinstance(embed, dict):
        return 0
    size = sum(discord_len(embed.get(key)) for key in EMBED_TEXT_FIELDS)
    for part, key in (("footer", "text"), ("author", "name")):
        if isinstance(embed.get(part), dict):
            size += discord_len(embed[part].get(key))
    for field in embed.get("fields") or []:
        if isinstance(field, dict):
            size += discord_len(field.get("name")) + discord_len(field.get("value"))
    return size


def discord_rules(body: Any, known_keys: set[str]) -> Iterator[str]:
    """The rules Discord enforces (or silently works around) beyond the schema."""
    if not isinstance(body, dict):
        return  # the schema already says it must be an object
    embeds = body.get("embeds") if isinstance(body.get("embeds"), list) else []
    total = sum(embed_size(embed) for embed in embeds)
    if total > EMBED_TOTAL_MAX:
        yield f"embeds total {total} characters, more than {EMBED_TOTAL_MAX}"
    if discord_len(body.get("content")) == 0 and not embeds:
        yield "empty message: no non-blank content and no embeds (Discord error 50006)"
    mentions = body.get("allowed_mentions")
    if isinstance(mentions, dict):
        parse = mentions.get("parse") or []
        for kind in ("users", "roles"):
            if kind in parse and mentions.get(kind):
                yield f'allowed_mentions: parse has "{kind}" and {kind} lists ids (invalid)'
    username = body.get("username")
    if isinstance(username, str):
        for word in FORBIDDEN_IN_USERNAME:
            if word in username.lower():
                yield f"username contains {word!r}, which Discord refuses"
    for key in sorted(set(body) - known_keys):
        hint = MISSPELLINGS.get(key)
        if hint:
            yield f"misspelled key {key!r} (Discord ignores it; meant {hint!r})"
        else:
            yield f"unknown key {key!r} (Discord ignores it)"


def schema_errors(validator: Draft202012Validator, body: Any) -> Iterator[str]:
    for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(part) for part in error.absolute_path) or "(root)"
        yield f"schema: {where}: {error.message[:300]}"


def problems(path: Path, validator: Draft202012Validator, known_keys: set[str]) -> list[str]:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return [f"not readable JSON: {error}"]
    return [*schema_errors(validator, body), *discord_rules(body, known_keys)]


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(f"usage: {Path(argv[0]).name} <openapi.json> <dir>", file=sys.stderr)
        return 2
    validator, known_keys = load_validator(Path(argv[1]))
    bodies = sorted(Path(argv[2]).glob("*.json"))
    failed = 0
    for path in bodies:
        found = problems(path, validator, known_keys)
        if found:
            failed += 1
            print(f"{path.name}: {'; '.join(found)}")
    print(f"discord bodies: {len(bodies) - failed} passed, {failed} failed")
    if not bodies:
        print(f"no *.json bodies in {argv[2]}", file=sys.stderr)
    return 1 if failed or not bodies else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
