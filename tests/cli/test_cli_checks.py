"""Issue 9, python nodes from the command line: ``atomiton run`` imports the user's function
from the working directory as ``python -m`` would, and ``compile``/``check`` agree on a function
that cannot be found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import WriteBlueprint, run_atomiton

FLOW = """\
id: shout
interface:
  inputs:
    - {id: text, dataType: string, default: "hello"}
  outputs:
    - {id: loud, dataType: string}
nodes:
  - id: call
    type: python
    function: "FUNCTION"
    inputPorts: [{id: data, dataType: string}]
    outputPorts: [{id: result, dataType: string}]
edges:
  - {source: input.text, target: call}
  - {source: call, target: output, targetHandle: loud}
"""


@pytest.mark.slow  # runs mypy
def test_run_and_check_import_user_functions_from_the_working_directory(
    write: WriteBlueprint, workdir: Path
) -> None:
    write("cleaning.py", "def shout(data: str) -> str:\n    return data.upper() + '!'\n")
    write("flows/shout.yaml", FLOW.replace("FUNCTION", "cleaning:shout"))

    ran = run_atomiton(["run", "flows/shout.yaml", "--json"], workdir)
    assert ran.returncode == 0, ran.stderr
    assert "Traceback" not in ran.stderr
    assert json.loads(ran.stdout) == {"loud": "HELLO!"}
    checked = run_atomiton(["check", "flows/shout.yaml"], workdir, timeout=60)
    assert checked.returncode == 0, checked.stderr


def test_a_missing_function_is_the_same_diagnostic_from_compile_check_and_run(
    write: WriteBlueprint, workdir: Path
) -> None:
    write("cleaning.py", "def shout(data: str) -> str:\n    return data.upper()\n")
    write("flows/shout.yaml", FLOW.replace("FUNCTION", "cleaning:shuot"))
    write(
        "flows/gone.yaml",
        FLOW.replace("FUNCTION", "not_here_at_all:shout").replace("shout\n", "gone\n", 1),
    )

    expected = [
        "flows/gone.yaml:10:15: error[E0221]: node 'call': cannot find module 'not_here_at_all'",
        "flows/shout.yaml:10:15: error[E0222]: node 'call': module 'cleaning' has no function 'shuot'",
    ]
    for args in (["compile", "flows", "-o", "gen"], ["check", "flows", "--no-mypy"]):
        result = run_atomiton(args, workdir)
        assert result.returncode == 1, result.stderr
        for line in expected:
            assert line in result.stderr, result.stderr
        assert "hint: did you mean 'shout'?" in result.stderr
        assert "Traceback" not in result.stderr
    ran = run_atomiton(["run", "flows/gone.yaml"], workdir)
    assert ran.returncode == 1 and expected[0] in ran.stderr and "Traceback" not in ran.stderr
