"""``python`` nodes with ``execution: process``: the call runs in the run's worker processes.

Every test goes through the real pipeline (compile, load, run) with real worker processes; the
user's functions live in modules written to ``tmp_path``.
"""

from __future__ import annotations

import os
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from atomiton import runtime as rt
from atomiton.compiler import CompileOptions, compile_blueprint, load_module
from atomiton.diagnostics import Diagnostic
from atomiton.errors import BlueprintError, CancelledError, NodeError

Flow = Callable[[str], ModuleType]

_FUNCTIONS = """
    import os
    import threading
    import time
    from pathlib import Path


    def pid(data: object) -> int:
        return os.getpid()


    def squares(data: int) -> dict[str, object]:
        total = sum(i * i for i in range(data))
        return {"total": total, "text": str(total)[:8], "items": [data, None, 1.5]}


    def lock(data: object) -> object:
        return threading.Lock()


    def echo(data: object) -> object:
        return data


    def make() -> object:
        def inner(data: object) -> object:
            return data

        return inner


    nested = make()
    as_lambda = lambda data: data


    def spin(data: str) -> int:
        Path(data).write_text(str(os.getpid()))
        while True:
            time.sleep(0.01)


    def crash_once(data: str) -> str:
        if Path(data).exists():
            return "second call"
        Path(data).write_text("crashed")
        os._exit(3)


    def nap(data: float) -> float:
        time.sleep(data)
        return data
    """


@pytest.fixture
def mod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A module of the user's functions on ``sys.path``; its (unique) name."""
    monkeypatch.syspath_prepend(str(tmp_path))
    name = f"procuser_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(_FUNCTIONS))
    yield name
    sys.modules.pop(name, None)


@pytest.fixture
def flow(tmp_path: Path) -> Flow:
    """``flow(yaml_text)`` -> the loaded generated module."""
    count = 0

    def make(text: str) -> ModuleType:
        nonlocal count
        count += 1
        path = tmp_path / f"flow{count}.yaml"
        path.write_text(textwrap.dedent(text))
        options = CompileOptions(root=tmp_path, search_path=(), store=tmp_path / "store")
        return load_module(compile_blueprint(path, options=options))

    return make


def _one(function: str, execution: str, data: str = "integer", extra: str = "") -> str:
    return f"""
        id: one-call
        variables:
          value: {{type: {data}, defaultValue: {'""' if data == "string" else 1}}}
        nodes:
          - id: call
            type: python
            function: "{function}"
            parameters: {{execution: {execution}{extra}}}
        edges:
          - {{source: input, sourceHandle: value, target: call}}
        """


def _errors(flow: Flow, text: str) -> list[Diagnostic]:
    with pytest.raises(BlueprintError) as caught:
        flow(text)
    return list(caught.value.diagnostics)


def _gone(pid: int, settle: float = 5.0) -> bool:
    """Whether process ``pid`` has ended (or is a zombie) within ``settle`` seconds."""
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.02)
    return False


def test_the_call_runs_in_another_process(flow: Flow, mod: str) -> None:
    worker = flow(_one(f"{mod}:pid", "process")).run().call
    assert isinstance(worker, int) and worker != os.getpid()
    assert flow(_one(f"{mod}:pid", "thread")).run().call == os.getpid()


def test_process_and_thread_execution_give_the_same_outputs(flow: Flow, mod: str) -> None:
    process, thread = flow(_one(f"{mod}:squares", "process")), flow(
        _one(f"{mod}:squares", "thread")
    )
    by_process = process.run(process.Inputs(value=20_000))
    by_thread = thread.run(thread.Inputs(value=20_000))
    assert by_process.call == by_thread.call == squares_of(20_000)


def squares_of(n: int) -> dict[str, object]:
    total = sum(i * i for i in range(n))
    return {"total": total, "text": str(total)[:8], "items": [n, None, 1.5]}


def test_many_process_nodes_run_side_by_side_and_keep_their_results(flow: Flow, mod: str) -> None:
    nodes = "\n".join(f"""          - {{id: n{i}, type: python, function: "{mod}:squares",
              parameters: {{execution: process}}}}""" for i in range(4))
    edges = "\n".join(
        f"          - {{source: input, sourceHandle: value, target: n{i}}}" for i in range(4)
    )
    module = flow(f"""
        id: fan
        variables:
          value: {{type: integer, defaultValue: 1}}
        nodes:
{nodes}
        edges:
{edges}
        """)
    outputs = module.run(module.Inputs(value=5000))
    assert [getattr(outputs, f"n{i}") for i in range(4)] == [squares_of(5000)] * 4


def test_a_lambda_is_a_compile_error_at_the_execution_line(flow: Flow, mod: str) -> None:
    (error,) = _errors(flow, _one(f"{mod}:as_lambda", "process"))
    assert error.code == "E0224" and "lambda" in error.message
    assert error.span is not None and error.span.line == 9  # the parameters line
    assert error.hint and "def" in error.hint
    flow(_one(f"{mod}:as_lambda", "thread"))  # in this process a lambda is fine


def test_a_function_of_main_is_a_compile_error(flow: Flow) -> None:
    (error,) = _errors(flow, _one("__main__:main", "process"))
    assert error.code == "E0224" and "__main__" in error.message


def test_a_missing_function_keeps_its_own_diagnostic(flow: Flow, mod: str) -> None:
    (error,) = _errors(flow, _one(f"{mod}:no_such_function", "process"))
    assert error.code == "E0222"


def test_a_nested_function_bound_at_run_time_is_a_node_error(flow: Flow, mod: str) -> None:
    # Only running the module tells that ``nested`` is a nested function: the run says so.
    module = flow(_one(f"{mod}:nested", "process"))
    with pytest.raises(NodeError, match="cannot send the call to a worker process") as caught:
        module.run()
    assert caught.value.node_id == "call" and "function" in caught.value.message


def test_an_unpicklable_input_is_a_node_error_naming_the_node_and_input(
    flow: Flow, mod: str
) -> None:
    module = flow(f"""
        id: lock-in
        variables:
          value: {{type: integer, defaultValue: 1}}
        nodes:
          - {{id: make, type: python, function: "{mod}:lock"}}
          - id: use
            type: python
            function: "{mod}:echo"
            parameters: {{execution: process}}
        edges:
          - {{source: input, sourceHandle: value, target: make}}
          - {{source: make, target: use}}
        """)
    with pytest.raises(NodeError) as caught:
        module.run()
    error = caught.value
    assert error.node_id == "use" and error.line == 7
    assert "input 'data'" in error.message and "pickle" in error.message
    assert "Traceback" not in str(error)


def test_an_unpicklable_result_is_a_node_error(flow: Flow, mod: str) -> None:
    module = flow(_one(f"{mod}:lock", "process"))
    with pytest.raises(NodeError, match="result cannot be sent back") as caught:
        module.run()
    assert caught.value.node_id == "call"


def test_cancel_ends_the_worker(flow: Flow, mod: str, tmp_path: Path) -> None:
    marker = tmp_path / "pid.txt"
    module = flow(_one(f"{mod}:spin", "process", data="string"))
    token = rt.CancelToken()

    def cancel_when_started() -> None:
        deadline = time.monotonic() + 30
        while not marker.exists() or not marker.read_text():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        token.cancel()

    helper = threading.Thread(target=cancel_when_started)
    helper.start()
    with pytest.raises(CancelledError):
        module.run(module.Inputs(value=str(marker)), cancel=token)
    helper.join()
    assert _gone(int(marker.read_text()))


def test_a_timeout_ends_the_worker(flow: Flow, mod: str, tmp_path: Path) -> None:
    marker = tmp_path / "pid.txt"
    module = flow(_one(f"{mod}:spin", "process", data="string", extra=", timeout: 2000"))
    with pytest.raises(NodeError, match="timed out") as caught:
        module.run(module.Inputs(value=str(marker)))
    assert caught.value.node_id == "call"
    assert _gone(int(marker.read_text()))


@pytest.mark.slow
def test_a_timeout_elsewhere_does_not_fail_a_call_in_the_same_pool(
    flow: Flow, mod: str, tmp_path: Path
) -> None:
    # The timed-out node ends the whole pool; the other node's call is sent to a new one.
    marker = tmp_path / "pid.txt"
    module = flow(f"""
        id: two-calls
        variables:
          path: {{type: string, defaultValue: "{marker}"}}
          seconds: {{type: number, defaultValue: 2.5}}
        nodes:
          - id: stuck
            type: python
            function: "{mod}:spin"
            parameters: {{execution: process, timeout: 1500, onError: continue}}
          - id: slow
            type: python
            function: "{mod}:nap"
            parameters: {{execution: process}}
        edges:
          - {{source: input, sourceHandle: path, target: stuck}}
          - {{source: input, sourceHandle: seconds, target: slow}}
        """)
    outputs = module.run(concurrency=2)
    assert outputs.slow == 2.5 and outputs.stuck is None
    assert _gone(int(marker.read_text()))


def test_a_worker_that_dies_is_a_node_error_and_a_retry_gets_a_new_pool(
    flow: Flow, mod: str, tmp_path: Path
) -> None:
    module = flow(_one(f"{mod}:crash_once", "process", data="string"))
    with pytest.raises(NodeError, match="ended abruptly") as caught:
        module.run(module.Inputs(value=str(tmp_path / "first")))
    assert caught.value.node_id == "call"
    retried = flow(_one(f"{mod}:crash_once", "process", "string", ", retries: 1, retryDelay: 10"))
    assert retried.run(retried.Inputs(value=str(tmp_path / "second"))).call == "second call"
