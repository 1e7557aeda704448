"""The JavaScript detector the Atomiton dialect uses to route node code to the JS runtime."""

from __future__ import annotations

import pytest

from atomiton.nodes.javascript_source import looks_like_javascript

JAVASCRIPT = [
    "item => item.price * 2",
    "(item, index) => ({...item, index})",
    "({acc, item}) => acc + item.amount",
    "(acc, item) => acc + item",
    "item => {\n  return item.x;\n}",
    "`${item.first} ${item.last}`",
    "const total = data.reduce((s, r) => s + r, 0);\nreturn total;",
    "let n = 0\nfor (const row of data) n++\nreturn n",
    "var x = data\nreturn x",
    "return data.filter(row => row.active === 'true');",
    "return data.map(function (row) { return row.id })",
    "// Filter only active records\nreturn data.filter(row => row.active)",
    "/* keep */ return data",
    "item.active === true",
    "item.name !== null",
    "item.a && item.b",
    "item.a || 'none'",
    "typeof item === 'string'",
    "return new Date().toISOString()",
    "return data.length",
    "return data.slice(0, 3)",
    "function (item) { return item }",
]

PYTHON = [
    "",
    "   ",
    "item['amount'] > inputs.threshold",
    "lambda acc, item, index: acc + item['amount']",
    "return [r for r in data if r['active'] == 'true']",
    "x = 1\nreturn x",
    "acc + item",
    "item.price * 2",  # valid in both: Python stays the default
    "total = sum(r['amount'] for r in data) // 2\nreturn total",
    "return data.get('rows')",
    "# uses === and => in a comment\nreturn data",
    "return {'arrow': '=>', 'eq': '===', 'tpl': '`x`'}",
    "return len(data) >= 2 and not data[0]",
    "return '''const x = 1''' + \"let y\"",
    "return f'{item!r}'",
    "item['length']",
]


@pytest.mark.parametrize("text", JAVASCRIPT)
def test_javascript_is_recognised(text: str) -> None:
    assert looks_like_javascript(text)


@pytest.mark.parametrize("text", PYTHON)
def test_python_is_not_javascript(text: str) -> None:
    assert not looks_like_javascript(text)
