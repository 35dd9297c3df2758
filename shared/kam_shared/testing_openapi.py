"""For tests that attack a running stack: each service's own OpenAPI document, walked so that a
route added tomorrow is attacked without anyone listing it, and a look into each service's
database (the outbox high-water mark) to prove that a refused write published nothing."""
from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from kam_shared.services import SERVICES

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass
class Operation:
    service: str
    method: str
    path: str
    spec: dict
    document: dict = field(repr=False)

    @property
    def name(self) -> str:
        return f"{self.service} {self.method.upper()} {self.path}"

    def parameters(self, where: str) -> list[dict]:
        return [self.resolve(p) for p in self.spec.get("parameters", []) if self.resolve(p)["in"] == where]

    def resolve(self, node):
        while isinstance(node, dict) and "$ref" in node:
            target = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def body(self) -> tuple[str, dict] | None:
        """(content type, schema) of the request body, or None."""
        content = self.resolve(self.spec.get("requestBody", {})).get("content", {})
        for kind in ("application/json", "application/x-www-form-urlencoded"):
            if kind in content:
                return kind, self.resolve(content[kind].get("schema", {}))
        return None

    def sample(self, schema, depth: int = 0):
        """A plausible value for `schema` (every property filled, so every string can be probed)."""
        schema = self.resolve(schema)
        for combinator in ("anyOf", "oneOf", "allOf"):
            if combinator in schema:
                options = [o for o in schema[combinator] if self.resolve(o).get("type") != "null"]
                return self.sample(options[0] if options else {"type": "null"}, depth)
        if "enum" in schema:
            return schema["enum"][0]
        if "const" in schema:
            return schema["const"]
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            if depth > 4:
                return {}
            return {name: self.sample(prop, depth + 1) for name, prop in schema.get("properties", {}).items()}
        if kind == "array":
            return [self.sample(schema.get("items", {}), depth + 1)] if depth <= 4 else []
        if kind == "integer":
            return int(schema.get("minimum", 1))
        if kind == "number":
            return schema.get("minimum", 1)
        if kind == "boolean":
            return False
        if kind == "null":
            return None
        return {"uuid": str(uuid.uuid4()), "date": "2026-11-15", "date-time": "2026-11-15T08:00:00Z",
                "email": "probe@example.com"}.get(schema.get("format", ""), "probe")

    def url(self, base: str, path_values: dict[str, str]) -> str:
        path = self.path
        for name, value in path_values.items():
            path = path.replace("{" + name + "}", quote(str(value), safe=""))
        return base + path

    def path_samples(self) -> dict[str, str]:
        return {p["name"]: self.sample(p.get("schema", {})) for p in self.parameters("path")}


def string_leaves(value, where: tuple = ()) -> list[tuple]:
    """Paths (tuples of keys and indexes) to every string inside a sample body."""
    if isinstance(value, str):
        return [where]
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in string_leaves(item, (*where, key))]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in string_leaves(item, (*where, index))]
    return []


def replaced(value, where: tuple, new):
    if not where:
        return new
    head, rest = where[0], where[1:]
    if isinstance(value, dict):
        return {**value, head: replaced(value[head], rest, new)}
    return [replaced(item, rest, new) if index == head else item for index, item in enumerate(value)]


def stack_operations(stack) -> list[Operation]:
    """Every operation of every service, from the documents the running services serve."""
    found = []
    for service in SERVICES:
        document = httpx.get(f"{stack.url(service)}/openapi.json", timeout=30).json()
        for path, item in document["paths"].items():
            for method in METHODS:
                if method in item:
                    found.append(Operation(service, method, path, item[method], document))
    assert len(found) > 100, "the services' OpenAPI documents look empty"
    return found


def outbox_marks(stack) -> dict[str, int]:
    """Highest outbox id per service: unchanged means nothing was written to be published."""
    async def read() -> dict[str, int]:
        marks = {}
        for service in SERVICES:
            engine = create_async_engine(stack.database_urls[service])
            try:
                async with engine.connect() as conn:
                    marks[service] = (await conn.execute(text("SELECT coalesce(max(id), 0) FROM outbox"))).scalar()
            finally:
                await engine.dispose()
        return marks

    return asyncio.run(read())
