"""The file queue: writes in order on a thread of their own, reports in the caller's thread."""

from __future__ import annotations

import threading
import time

import pytest

from trainlab.file_queue import FileQueue


def test_writes_run_in_order_off_the_caller_and_report_in_it():
    written, reported = [], []
    caller = threading.get_ident()

    def write(n):
        time.sleep(0.01 * (3 - n))  # the first is the slowest: order is still kept
        written.append((n, threading.get_ident()))

    with FileQueue() as files:
        for n in range(3):
            files.submit(write, n, then=lambda n=n: reported.append((n, threading.get_ident())))
    assert [n for n, _ in written] == [0, 1, 2]
    assert all(thread != caller for _, thread in written)
    assert reported == [(0, caller), (1, caller), (2, caller)]


def test_a_failed_write_raises_in_the_caller_and_is_not_reported():
    written = []

    def fail():
        raise OSError(28, "No space left on device", "/sweep/0/summary.json")

    with FileQueue() as files:
        with pytest.raises(OSError, match="No space left"):  # at the next submit or wait
            files.submit(fail, then=lambda: written.append("reported"))
            files.wait()
        files.submit(written.append, "after")
    assert written == ["after"]  # the failed one is never reported done


def test_leaving_on_an_error_still_finishes_what_was_handed_over():
    written = []
    with pytest.raises(KeyboardInterrupt), FileQueue() as files:
        files.submit(lambda: (time.sleep(0.05), written.append("whole")))
        raise KeyboardInterrupt
    assert written == ["whole"]
