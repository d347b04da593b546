"""Rendering exports outside the worker that serves autosaves: a process pool per worker.

WeasyPrint (the board report) and openpyxl (the workbook) spend about a second of CPU on a file.
Run in a worker's own threads, that second holds the GIL, and every autosave that worker serves
waits behind it. So the request reads what the file shows (plain values: the HTML of the report,
`WorkbookData`) and the rendering runs in a separate process, awaited without blocking the event loop
(`asyncio.wrap_future`).

- EXPORT_PROCESSES (settings): processes per worker, default 1. 0 renders in a thread of the
  worker itself (tests, or a machine where a process per worker is too many).
- The pool starts with the first export a worker renders (`spawn`: a fresh interpreter, none of the
  worker's threads or database connections) and is shut down with the app.
- The pool's processes run at a lower CPU priority (nice 10): on a busy machine a render waits for
  the CPU before a save does.
- `renders` counts the files this app has rendered, for tests and /metrics-style checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from anyio import to_thread

T = TypeVar("T")
RENDER_NICENESS = 10


def _exit_with_parent(parent: int) -> None:
    """A pool process ends when the worker that started it has gone, however it went (a worker
    killed outright never shuts its pool down)."""
    while True:
        time.sleep(2)
        if os.getppid() != parent:
            os._exit(0)


def _start(parent: int) -> None:
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    # Rendering is background work: when the CPUs are busy, the worker serving saves goes first.
    with contextlib.suppress(OSError):
        os.nice(RENDER_NICENESS)
    # Import the renderers once in each pool process, so the first file does not pay for them.
    import api.reports.pdf  # noqa: F401
    import api.reports.workbook  # noqa: F401


class RenderPool:
    def __init__(self, processes: int) -> None:
        self.processes = processes
        self.renders = 0
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start,
                initargs=(os.getpid(),),
            )
        return self._executor

    async def run(self, render: Callable[[Any], T], payload: Any) -> T:
        self.renders += 1
        if self.processes == 0:
            return await to_thread.run_sync(render, payload)
        executor = self._pool()
        try:
            return await asyncio.wrap_future(executor.submit(render, payload))
        except BrokenProcessPool:
            # A pool process died (killed, out of memory): a new pool, and one more try.
            if self._executor is executor:
                self._executor = None
                executor.shutdown(wait=False, cancel_futures=True)
            return await asyncio.wrap_future(self._pool().submit(render, payload))

    def shutdown(self) -> None:
        if self._executor is not None:
            # Waits for a render already running (a second or two), so no process is left behind.
            executor, self._executor = self._executor, None
            executor.shutdown(wait=True, cancel_futures=True)
