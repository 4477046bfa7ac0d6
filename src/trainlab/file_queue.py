"""Files written by a thread of their own, in the order they were handed over, while the
caller goes on (a sweep's next chunk trains: its trials wait on the device, not on Python).

A sweep of tiny jobs spends more time writing each job's files than training it; written
meanwhile, they cost nearly nothing. Every file is written whole or not at all (records.py),
so a killed sweep still leaves nothing that looks finished. What a caller wants done once
some files are whole (a chunk's jobs reported as finished) runs in the caller's thread, in
order, as does the error of a write that failed (a full disk, say).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


class FileQueue:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trainlab-files")
        self._pending: deque[tuple[Future, Callable[[], None] | None]] = deque()

    def submit(self, write: Callable, *args, then: Callable[[], None] | None = None) -> None:
        """Queue ``write(*args)``; ``then()`` is called once it (and all before it) is done."""
        self._pending.append((self._pool.submit(write, *args), then))
        self.poll()

    def poll(self) -> None:
        """Report the writes done so far (``then``), raising the first one's error."""
        self._report(wait=False)

    def wait(self) -> None:
        """Wait for every write queued so far, and report them."""
        self._report(wait=True)

    def _report(self, wait: bool) -> None:
        while self._pending and (wait or self._pending[0][0].done()):
            future, then = self._pending.popleft()
            future.result()  # the write's error, if it failed
            if then is not None:
                then()

    def __enter__(self) -> FileQueue:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        try:
            if kind is None:
                self.wait()
        finally:
            self._pool.shutdown(wait=True)  # what was handed over is written, whatever happens
