"""``atomiton serve --stdio``: the protocol over standard input and output, one message a line.

This is how an editor or the desktop app spawns a helper: requests come in on stdin, replies and
notifications go out on stdout (nothing else is printed there), and the server ends when stdin
closes (after letting its runs finish) or on SIGTERM (cancelling them, so they are recorded as
cancelled). Needs no extra library: only the methods (``methods.py``) and the framing
(``rpc.py``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from typing import IO

from .methods import Server, ServeSettings
from .rpc import Dispatcher, Session
from .runs import SHUTDOWN_GRACE, RunBoard


async def serve_stdio(settings: ServeSettings, stdin: IO[bytes], stdout: IO[bytes]) -> int:
    """Serve one client on ``stdin``/``stdout`` until EOF or SIGTERM; return the exit status."""
    loop = asyncio.get_running_loop()
    board = RunBoard(db=settings.db, record=settings.record)
    server = Server(board, blueprints=settings.blueprints, db=settings.db)
    dispatcher = Dispatcher(server.handlers())
    session = Session("stdio")
    board.attach(session)
    stop = asyncio.Event()
    terminated: list[int] = []

    def on_signal(signum: int) -> None:
        terminated.append(signum)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, on_signal, signum)
    lines: asyncio.Queue[bytes] = asyncio.Queue()

    def read() -> None:
        # A thread, not the loop: stdin may be any file. Raw reads of the descriptor, because a
        # thread blocked inside a buffered reader at exit makes the interpreter abort.
        fd = stdin.fileno()
        pending = b""
        while chunk := os.read(fd, 1 << 16):
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for line in complete:
                loop.call_soon_threadsafe(lines.put_nowait, line + b"\n")
        if pending:
            loop.call_soon_threadsafe(lines.put_nowait, pending)
        loop.call_soon_threadsafe(lines.put_nowait, b"")

    threading.Thread(target=read, name="atomiton-serve-stdin", daemon=True).start()

    async def writer() -> None:
        try:
            while (text := await session.outbox.get()) is not None:
                stdout.write(text.encode("utf-8") + b"\n")
                stdout.flush()
        except OSError:  # the client closed our stdout: nobody is listening any more
            session.close()

    sending = asyncio.create_task(writer())
    working: set[asyncio.Task[None]] = set()
    stopping = asyncio.create_task(stop.wait())
    while True:
        reading = asyncio.create_task(lines.get())
        done, _ = await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stopping in done:
            reading.cancel()
            break
        line = reading.result()
        if not line:
            break
        if not line.strip():
            continue
        task = asyncio.create_task(dispatcher.handle_text(session, line))
        working.add(task)
        task.add_done_callback(working.discard)
    if working:
        await asyncio.wait(working)
    if terminated:
        await board.shut_down(SHUTDOWN_GRACE)
    else:
        # stdin closed: the client is gone, not the runs; let them finish and be recorded.
        await asyncio.to_thread(board.wait_all, None)
    session.close()
    await sending
    return 128 + terminated[0] if terminated else 0


def main(settings: ServeSettings) -> int:
    """Serve on the process's own stdin and stdout."""
    return asyncio.run(serve_stdio(settings, sys.stdin.buffer, sys.stdout.buffer))
