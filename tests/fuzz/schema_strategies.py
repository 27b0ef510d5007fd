"""Hypothesis strategies for the JSON schemas of the backend contract: every instance drawn is
valid against its schema. Covers the keywords openapi.yaml uses (test_schema_keywords_are_covered
in test_fuzz_backend_replies.py fails when a new one appears)."""
from __future__ import annotations

from hypothesis import strategies as st

KEYWORDS = {"additionalProperties", "allOf", "const", "description", "enum", "example", "items", "maxLength", "minLength",
            "maximum", "minimum", "pattern", "properties", "required", "type"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)


def merged(schemas: list[dict]) -> dict:
    """allOf of object schemas as one schema."""
    out: dict = {}
    for schema in schemas:
        for key, value in schema.items():
            if key == "required":
                out["required"] = sorted(set(out.get("required", [])) | set(value))
            elif key == "properties":
                out["properties"] = {**out.get("properties", {}), **value}
            else:
                out[key] = value
    return out


def from_schema(schema: dict) -> st.SearchStrategy:
    if "allOf" in schema:
        return from_schema(merged([{k: v for k, v in schema.items() if k != "allOf"}, *schema["allOf"]]))
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type", "object" if "properties" in schema else None)
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": one}) for one in kind])
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        fixed = {name: from_schema(properties.get(name, {})) for name in required}
        optional = {name: from_schema(sub) for name, sub in properties.items() if name not in required}
        extra = schema.get("additionalProperties", True)
        extras = st.just({}) if extra is False else st.dictionaries(
            st.text(min_size=1, max_size=6).filter(lambda key: key not in properties),
            json_values if extra is True else from_schema(extra), max_size=2)
        return st.builds(lambda a, b, c: {**c, **b, **a}, st.fixed_dictionaries(fixed),
                         st.fixed_dictionaries({}, optional=optional), extras)
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {})), max_size=3)
    if kind == "string":
        longest, shortest = schema.get("maxLength"), schema.get("minLength", 0)
        if "pattern" in schema:
            texts = st.from_regex(schema["pattern"])
            return texts.filter(lambda text: shortest <= len(text) <= (longest or len(text)))
        return st.text(min_size=shortest, max_size=max(shortest, 24) if longest is None else longest)
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return json_values
