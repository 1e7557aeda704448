"""``settings.runtime.executor``: validated at its position, emitted into ``BLUEPRINT``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from atomiton import codes
from atomiton.compiler import compile_blueprint, load_module
from atomiton.errors import BlueprintError

FLOW = """\
id: setting
settings:
  runtime:
    concurrency: 2
    executor: {executor}
nodes:
  - id: one
    type: code
    parameters:
      code: "return 1"
"""


def _write(tmp_path: Path, executor: str) -> Path:
    path = tmp_path / "setting.yaml"
    path.write_text(textwrap.dedent(FLOW.format(executor=executor)), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "executor", ["threads", "dask", "dask-threads", "tcp://127.0.0.1:8786", "tls://sched.lan:1"]
)
def test_a_named_executor_reaches_the_blueprint(tmp_path: Path, executor: str) -> None:
    compiled = compile_blueprint(_write(tmp_path, executor))
    assert f"executor={executor!r}".replace("'", '"') in compiled.code
    module = load_module(compiled)
    assert module.BLUEPRINT.executor == executor


def test_no_setting_leaves_the_blueprint_without_one(tmp_path: Path) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text(
        "id: plain\nnodes:\n  - {id: one, type: code, parameters: {code: 'return 1'}}\n"
    )
    compiled = compile_blueprint(path)
    assert "executor=" not in compiled.code.split("class Inputs")[0]
    assert load_module(compiled).BLUEPRINT.executor is None


@pytest.mark.parametrize(
    ("executor", "says"),
    [
        ("ray", "expected 'threads', 'dask', 'dask-threads'"),
        ("42", "found 42"),
        ("[dask]", "found ['dask']"),
        ("tcp://host", "found 'tcp://host'"),
        ("tcp://host:99999", "port 99999"),
        ("http://host:8786", "found 'http://host:8786'"),
        ("'tcp://a b:8786'", "not a host name"),
    ],
)
def test_a_bad_executor_is_a_positioned_diagnostic(
    tmp_path: Path, executor: str, says: str
) -> None:
    with pytest.raises(BlueprintError) as caught:
        compile_blueprint(_write(tmp_path, executor))
    (found,) = caught.value.diagnostics
    assert found.code == codes.INVALID_BLUEPRINT_SETTING
    assert "runtime.executor" in found.message and says in found.message
    assert found.span is not None
    assert (found.span.line, found.span.column) == (5, 15)
    assert found.hint is not None and "tcp://host:8786" in found.hint
