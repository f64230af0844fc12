"""Request bodies are read strictly (the shared decoder of ``tollgate.edge.requests``)."""

from __future__ import annotations

import pytest

from tollgate.core.errors import MalformedRequest
from tollgate.core.limits import MAX_JSON_DEPTH
from tollgate.edge.requests import strict_json


@pytest.mark.parametrize(
    "body",
    [
        '{"a": 1, "a": 2}',
        '{"a": NaN}',
        '{"a": Infinity}',
        '{"a": -Infinity}',
        '{"a": 1e999}',
        '{"a": "\\ud800"}',
        "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1),
        b'{"a": "\xff"}',
        '{"a": ',
        "\ufeff{}",
    ],
)
def test_bad_bodies_are_malformed(body: str | bytes) -> None:
    with pytest.raises(MalformedRequest):
        strict_json(body)


def test_good_bodies_decode_the_same_every_time() -> None:
    for _ in range(2):  # one decoder serves every call
        assert strict_json('{"feature": "x", "n": 2, "f": 1.5, "l": [true, null]}') == {
            "feature": "x",
            "n": 2,
            "f": 1.5,
            "l": [True, None],
        }
    assert strict_json(b'{"a": {"b": 1}}') == {"a": {"b": 1}}
