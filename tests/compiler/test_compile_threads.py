"""Compiling and loading from several threads at once: a server compiles as clients ask."""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from types import ModuleType

from atomiton.compiler import CompileOptions, compile_blueprint, load_module

FLOW = """\
id: threads
nodes:
  - id: one
    type: code
    parameters: {code: "return 1"}
  - id: two
    type: code
    parameters: {code: "return data + 1"}
edges:
  - {source: one, target: two}
  - {source: two, target: output, targetHandle: result}
"""


def test_threads_compiling_and_loading_the_same_flow_each_get_a_whole_module(
    tmp_path: Path,
) -> None:
    (tmp_path / "threads.yaml").write_text(FLOW, encoding="utf-8")
    options = CompileOptions(root=tmp_path)
    start = threading.Barrier(8)
    loaded: list[ModuleType] = []
    failures: list[BaseException] = []

    def compile_and_load() -> None:
        try:
            start.wait()
            for _ in range(5):
                module = load_module(compile_blueprint(tmp_path / "threads.yaml", options=options))
                # A module seen before its body ran would have no ``run`` yet.
                assert module.run().result == 2
                loaded.append(module)
        except BaseException as exc:  # collected, so the assertion below names it
            failures.append(exc)

    assert gc.isenabled()
    threads = [threading.Thread(target=compile_and_load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(loaded) == 40 and len({id(m) for m in loaded}) == 1
    # The last compilation out turned the collector back on.
    assert gc.isenabled()
