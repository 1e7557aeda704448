"""A cancelled or killed write never replaces its target (issue 9, item 11).

Real cancellation through the runtime's ``CancelToken``, real SIGINT and SIGKILL of an
``atomiton run`` subprocess, real symbolic links, FIFOs and devices.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import FlowFactory, ModFactory

from atomiton import runtime as rt
from atomiton.errors import CancelledError, NodeError
from atomiton.nodes import file_system, spreadsheet
from atomiton.runtime import files

# A generator of text chunks that never ends on its own: only a cancel stops the write.
SLOW_CHUNKS = """
    import time
    from collections.abc import Iterator


    def chunks(data: int) -> Iterator[str]:
        while True:
            yield "x" * data
            time.sleep(0.002)


    def rows(data: int) -> Iterator[dict[str, object]]:
        n = 0
        while True:
            n += 1
            yield {"n": n, "text": "y" * data}
            if n % 100 == 0:
                time.sleep(0.001)
    """


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".atomiton-tmp-" in p.name)


def wait_for_temporary(folder: Path, thread: threading.Thread, seconds: float = 10.0) -> None:
    """Wait until a write is under way (its temporary file exists) and has some bytes in it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and thread.is_alive():
        names = temporaries(folder)
        if names and (folder / names[0]).stat().st_size > 100_000:
            return
        time.sleep(0.01)
    raise AssertionError(f"no write under way in {folder}: {list(folder.iterdir())}")


def run_in_thread(
    module: ModuleType, token: rt.CancelToken, **inputs: Any
) -> tuple[threading.Thread, dict[str, BaseException | None]]:
    outcome: dict[str, BaseException | None] = {"error": None}

    def target() -> None:
        try:
            module.run(module.Inputs(**inputs), cancel=token)
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def cancel_mid_write(module: ModuleType, folder: Path, **inputs: Any) -> float:
    """Run ``module``, cancel once its write is under way; return seconds from cancel to return."""
    token = rt.CancelToken()
    thread, outcome = run_in_thread(module, token, **inputs)
    wait_for_temporary(folder, thread)
    cancelled_at = time.monotonic()
    token.cancel("test cancels mid-write")
    thread.join(10)
    took = time.monotonic() - cancelled_at
    assert not thread.is_alive()
    assert isinstance(outcome["error"], CancelledError), outcome["error"]
    return took


def test_cancelled_file_system_write_keeps_the_old_file(
    tmp_path: Path, flow: FlowFactory, pymod: ModFactory
) -> None:
    mod = pymod(SLOW_CHUNKS)
    out = tmp_path / "out"
    out.mkdir()
    target = out / "big.txt"
    target.write_text("old content\n")
    module = flow(f"""
        id: big-write
        variables:
          size: {{type: integer, defaultValue: 262144}}
          target: {{type: string}}
        nodes:
          - {{id: gen, type: python, function: "{mod}:chunks"}}
          - {{id: write, type: file-system, parameters: {{operation: write}}}}
        edges:
          - {{source: input, sourceHandle: size, target: gen}}
          - {{source: gen, target: write, targetHandle: content}}
          - {{source: input, sourceHandle: target, target: write, targetHandle: path}}
        """)
    took = cancel_mid_write(module, out, target=str(target))
    assert took < 1.0
    assert target.read_text() == "old content\n"
    assert temporaries(out) == []


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_cancelled_streaming_spreadsheet_write_stops_within_a_second(
    tmp_path: Path, flow: FlowFactory, pymod: ModFactory, suffix: str
) -> None:
    mod = pymod(SLOW_CHUNKS)
    out = tmp_path / "out"
    out.mkdir()
    target = out / f"table{suffix}"
    target.write_bytes(b"old table")
    module = flow(f"""
        id: big-table
        variables:
          size: {{type: integer, defaultValue: 2000}}
          target: {{type: string}}
        nodes:
          - {{id: gen, type: python, function: "{mod}:rows"}}
          - {{id: write, type: spreadsheet, parameters: {{operation: write, stream: true}}}}
        edges:
          - {{source: input, sourceHandle: size, target: gen}}
          - {{source: gen, target: write, targetHandle: data}}
          - {{source: input, sourceHandle: target, target: write, targetHandle: path}}
        """)
    if suffix == ".csv":
        took = cancel_mid_write(module, out, target=str(target))
    else:
        # openpyxl keeps rows in a file of its own until it saves: cancel after a while instead.
        from openpyxl.worksheet import _writer

        openpyxl_files = list(_writer.ALL_TEMP_FILES)
        token = rt.CancelToken()
        thread, outcome = run_in_thread(module, token, target=str(target))
        time.sleep(0.5)
        assert thread.is_alive() and temporaries(out)
        cancelled_at = time.monotonic()
        token.cancel()
        thread.join(10)
        took = time.monotonic() - cancelled_at
        assert isinstance(outcome["error"], CancelledError), outcome["error"]
        # ...and removes it when the write is cancelled, not when the interpreter exits.
        assert _writer.ALL_TEMP_FILES == openpyxl_files
    assert took < 1.0
    assert target.read_bytes() == b"old table"
    assert temporaries(out) == []


# -- the atomiton command: Ctrl-C and SIGKILL ---------------------------------------------------

CLI_FLOW = """
id: cli-write
variables:
  size: {type: integer, defaultValue: 262144}
nodes:
  - {id: gen, type: python, function: "slowgen:chunks"}
  - {id: write, type: file-system, parameters: {operation: write, path: out/big.txt}}
edges:
  - {source: input, sourceHandle: size, target: gen}
  - {source: gen, target: write, targetHandle: content}
"""


def start_cli_write(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    (tmp_path / "slowgen.py").write_text(textwrap.dedent(SLOW_CHUNKS))
    (tmp_path / "flow.yaml").write_text(CLI_FLOW)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    target = out / "big.txt"
    target.write_text("old content\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "atomiton", "run", "flow.yaml"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and process.poll() is None:
        names = temporaries(out)
        if names and (out / names[0]).stat().st_size > 1_000_000:
            return process, target
        time.sleep(0.02)
    process.kill()
    stdout, stderr = process.communicate()
    raise AssertionError(f"the write never started: {stderr.decode()}")


def test_ctrl_c_during_a_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    process, target = start_cli_write(tmp_path)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 130, stderr.decode()
    assert target.read_text() == "old content\n"
    assert temporaries(target.parent) == []


def test_sigkill_leaves_the_old_file_and_the_next_write_removes_the_temporary(
    tmp_path: Path,
) -> None:
    process, target = start_cli_write(tmp_path)
    process.kill()
    process.communicate(timeout=20)
    assert target.read_text() == "old content\n"
    (stale,) = temporaries(target.parent)
    assert stale.startswith(".big.txt.atomiton-tmp-")
    # The next write to the same target removes what the killed writer left.
    result = file_system.run(
        file_system.Params(operation="write", path=str(target), content="new content\n")
    )
    assert result.size == len("new content\n")
    assert target.read_text() == "new content\n"
    assert temporaries(target.parent) == []


def test_cleanup_leaves_a_live_writers_temporary_alone(tmp_path: Path) -> None:
    target = tmp_path / "shared.txt"
    with files.atomic_writer(target) as handle:
        handle.write(b"first writer, still writing")
        assert temporaries(tmp_path) == [".shared.txt.atomiton-tmp-0"]
        # What killed writers left: of the same target (a slot and a random name) and another.
        dead = tmp_path / ".shared.txt.atomiton-tmp-3"
        dead.write_bytes(b"left by a killed process")
        unrelated = tmp_path / ".other.txt.atomiton-tmp-0"
        unrelated.write_bytes(b"another target's")
        assert files.remove_stale_temporaries(target) == 1
        assert not dead.exists() and unrelated.exists()
        # A second writer of the same target at the same time takes the next slot.
        with files.atomic_writer(target) as second:
            second.write(b"second writer")
            assert ".shared.txt.atomiton-tmp-1" in temporaries(tmp_path)
        assert target.read_bytes() == b"second writer"
    assert target.read_bytes() == b"first writer, still writing"
    assert temporaries(tmp_path) == [unrelated.name]
    files.atomic_write(tmp_path / "other.txt", b"x")
    assert temporaries(tmp_path) == []


def test_a_long_target_name_gets_a_temporary_name_that_fits(tmp_path: Path) -> None:
    target = tmp_path / ("n" * 250)
    assert files.atomic_write(target, b"data") == 4
    assert target.read_bytes() == b"data"
    stale = tmp_path / (files._temp_prefix(target.name) + "5")
    stale.write_bytes(b"left over")
    files.atomic_write(target, b"again")
    assert temporaries(tmp_path) == []


def test_a_failed_write_keeps_the_target_and_frees_its_slot(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    files.atomic_write(target, b"x")
    with pytest.raises(ValueError):
        with files.atomic_writer(target) as handle:
            handle.write(b"half")
            raise ValueError("the value could not be serialised")
    assert target.read_bytes() == b"x" and temporaries(tmp_path) == []
    with files.atomic_writer(target) as handle:
        assert temporaries(tmp_path) == [".f.txt.atomiton-tmp-0"]
        handle.write(b"y")
    assert target.read_bytes() == b"y"


# -- links, FIFOs and devices -------------------------------------------------------------------


def write_node(path: Path, **extra: object) -> file_system.Output:
    params = file_system.Params.model_validate(
        {"operation": "write", "path": str(path), "content": "new\n", **extra}
    )
    return file_system.run(params)


def test_a_write_refuses_to_replace_a_symbolic_link(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("real\n")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    with pytest.raises(files.NotARegularFileError, match="followSymlinks"):
        write_node(link)
    assert link.is_symlink() and real.read_text() == "real\n"
    # Asked to: the file it points at is replaced and the link stays a link.
    write_node(link, followSymlinks=True)
    assert link.is_symlink() and real.read_text() == "new\n"
    assert temporaries(tmp_path) == []


def test_copy_and_move_refuse_a_link_as_their_target(tmp_path: Path) -> None:
    source = tmp_path / "source.txt"
    source.write_text("source\n")
    real = tmp_path / "real.txt"
    real.write_text("real\n")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    for operation in ("copy", "move"):
        params = file_system.Params(operation=operation, path=str(source), target_path=str(link))
        with pytest.raises(files.NotARegularFileError):
            file_system.run(params)
    assert link.is_symlink() and real.read_text() == "real\n" and source.exists()


def test_a_write_refuses_a_fifo_and_a_device_unless_asked(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(files.NotARegularFileError, match="FIFO"):
        write_node(fifo)
    with pytest.raises(files.NotARegularFileError, match="device"):
        write_node(Path(os.devnull))
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    write_node(fifo, followSymlinks=True)
    reader.join(5)
    assert received == [b"new\n"] and fifo.is_fifo()
    write_node(Path(os.devnull), followSymlinks=True)
    assert Path(os.devnull).is_char_device()
    with pytest.raises(FileExistsError):
        write_node(Path(os.devnull), followSymlinks=True, overwrite=False)


def test_spreadsheet_and_image_writes_refuse_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("a\n1\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    params = spreadsheet.Params(operation="write", path=str(link))
    with pytest.raises(files.NotARegularFileError):
        spreadsheet.run(params, data=[{"a": 2}])
    assert real.read_text() == "a\n1\n"
    spreadsheet.run(params.model_copy(update={"follow_symlinks": True}), data=[{"a": 2}])
    assert link.is_symlink() and real.read_text().splitlines() == ["a", "2"]

    pytest.importorskip("PIL")
    from PIL import Image

    from atomiton.nodes import image

    picture = tmp_path / "in.png"
    Image.new("RGB", (4, 4), "red").save(picture)
    real_png = tmp_path / "real.png"
    real_png.write_bytes(b"old")
    link_png = tmp_path / "link.png"
    link_png.symlink_to(real_png)
    with pytest.raises(files.NotARegularFileError):
        image.run(image.Params(operation="convert", base_image=str(picture), output=str(link_png)))
    assert real_png.read_bytes() == b"old"


def test_a_node_error_names_the_link_and_the_setting(tmp_path: Path, flow: FlowFactory) -> None:
    real = tmp_path / "real.txt"
    real.write_text("real\n")
    (tmp_path / "link.txt").symlink_to(real)
    module = flow(f"""
        id: write-link
        nodes:
          - id: write
            type: file-system
            parameters: {{operation: write, path: "{tmp_path / 'link.txt'}", content: new}}
        """)
    with pytest.raises(NodeError, match="symbolic link.*followSymlinks") as caught:
        module.run()
    assert caught.value.node_id == "write"
    assert real.read_text() == "real\n"


# -- image: a worker process stopped by a cancel ------------------------------------------------


@pytest.mark.slow
def test_cancelled_image_write_in_a_worker_process_leaves_no_temporary(
    tmp_path: Path, flow: FlowFactory
) -> None:
    pytest.importorskip("PIL")
    from PIL import Image

    source = tmp_path / "noise.png"
    Image.effect_noise((2500, 2500), 90).convert("RGB").save(source, compress_level=0)
    out = tmp_path / "out"
    out.mkdir()
    target = out / "result.png"
    target.write_bytes(b"old image")
    module = flow(f"""
        id: big-image
        nodes:
          - id: shrink
            type: image
            parameters:
              operation: resize
              baseImage: "{source}"
              width: 10000
              height: 10000
              fit: fill
              output: "{target}"
        """)
    token = rt.CancelToken()
    thread, outcome = run_in_thread(module, token)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and thread.is_alive() and not temporaries(out):
        time.sleep(0.005)
    assert thread.is_alive(), outcome
    token.cancel()
    thread.join(20)
    assert isinstance(outcome["error"], CancelledError), outcome["error"]
    deadline = time.monotonic() + 5
    while temporaries(out) and time.monotonic() < deadline:  # the worker's handler runs
        time.sleep(0.02)
    assert target.read_bytes() == b"old image"
    assert temporaries(out) == []


def test_file_nodes_in_a_long_loop_do_not_keep_a_context_each(
    tmp_path: Path, flow: FlowFactory
) -> None:
    # File nodes take the node context (cancel, confinement); the run must not hold on to one
    # per iteration after the node returned.
    import tracemalloc

    (tmp_path / "f.txt").write_text("x")
    module = flow("""
        id: many
        variables:
          paths: {type: array}
        nodes:
          - id: each
            type: loop
            parameters:
              loopType: forEach
              maxIterations: 100000
              body:
                nodes:
                  - {id: check, type: file-system, parameters: {operation: exists}}
                edges:
                  - {source: input, target: check, targetHandle: path}
        edges:
          - {source: input, sourceHandle: paths, target: each, targetHandle: array}
        """)
    paths = [str(tmp_path / "f.txt")] * 4000
    module.run(module.Inputs(paths=paths[:10]))  # imports and caches warmed up
    tracemalloc.start()
    try:
        outputs = module.run(module.Inputs(paths=paths), cancel=rt.CancelToken())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert outputs.each == [True] * 4000
    # One context each would be about 6 MB here.
    assert peak < 2_000_000, peak
