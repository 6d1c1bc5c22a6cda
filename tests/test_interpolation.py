"""``{name}`` filling of a prompt: values, literal braces, fenced code untouched, unknown names named."""

from __future__ import annotations

import pytest

from openai_artifacts_nb.interpolation import interpolate


def test_interpolation() -> None:
    namespace = {"n": 3, "cfg": {"a": [1, 2]}, "name": "sales"}
    assert interpolate("Use {n} rows of {name}.", namespace) == "Use 3 rows of sales."
    assert interpolate("{cfg['a'][1]} and {{braces}}", namespace) == "2 and {braces}"
    code = "Plot {name}.\n```python\nprint(f'{n}')\nd = {'k': 1}\n```\nDone {n}."
    assert interpolate(code, namespace) == "Plot sales.\n```python\nprint(f'{n}')\nd = {'k': 1}\n```\nDone 3."
    assert interpolate('JSON like {"a": 1} stays', namespace) == 'JSON like {"a": 1} stays'
    with pytest.raises(KeyError, match="missing"):
        interpolate("{missing}", namespace)
