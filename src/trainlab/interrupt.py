"""Ctrl-C, said in one line: "interrupted at epoch 7 of 30, nothing saved".

The training loop reports each epoch it starts (``at_epoch``); the ``train`` command resets
the record before a run and reads it when the run is interrupted.

Python raises KeyboardInterrupt wherever the main thread happens to be, and some places
swallow it: inside a garbage-collector callback (JAX registers one) it is printed as "Exception
ignored" and training goes on. So the ``train`` command's handler also remembers the request,
and the loop raises it again as it starts the next epoch.
"""

from __future__ import annotations

import signal
import sys

_where = {"epoch": 0, "epochs": 0}
_saved: dict = {}  # the last checkpoint: its epoch and path
_requested = False


def _on_sigint(signum, frame) -> None:
    global _requested
    _requested = True
    raise KeyboardInterrupt


def install() -> None:
    """Handle SIGINT as above, unless it is ignored (as in a shell's background job)."""
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return
    signal.signal(signal.SIGINT, _on_sigint)
    shown = sys.unraisablehook

    def swallowed(unraisable) -> None:  # remembered, raised again: no "Exception ignored"
        if not (unraisable.exc_type and issubclass(unraisable.exc_type, KeyboardInterrupt)):
            shown(unraisable)

    sys.unraisablehook = swallowed


def reset() -> None:
    global _requested
    _where.update(epoch=0, epochs=0)
    _saved.clear()
    _requested = False


def at_epoch(epoch: int, epochs: int) -> None:
    """Called by the training loop as it starts ``epoch`` (from 1) of ``epochs``."""
    _where.update(epoch=epoch, epochs=epochs)
    if _requested:  # a Ctrl-C that was swallowed where it landed
        raise KeyboardInterrupt


def where() -> str:
    """'at epoch N of M', or where the run was before its first epoch."""
    if _where["epochs"] == 0:
        return "before training started"
    return f"at epoch {_where['epoch']} of {_where['epochs']}"


def checkpointed(epoch: int, path) -> None:
    """Called as a checkpoint of ``epoch`` is saved at ``path`` (or resumed from it)."""
    _saved.update(epoch=epoch, path=path)


def saved() -> str:
    """What an interrupted run keeps: 'nothing saved', or its last checkpoint."""
    if not _saved:
        return "nothing saved"
    return (f"the checkpoint of epoch {_saved['epoch']} kept in {_saved['path']} "
            "(the same command with resume=true continues from it)")
