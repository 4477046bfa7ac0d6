"""What trainlab shows of its results: the terminal (``terminal``: progress bars, summary
tables), the self-contained web page of a run or a sweep (``html``), and the loggers that write
a run's tables for other tools (``loggers``, ``tensorboard``).

The terminal names are re-exported here, so ``from trainlab import report`` then
``report.print_summary(...)`` works as it did when this package was one module. Nothing heavier
(pandas, plotly) is imported until a page or a logger is asked for.
"""

from trainlab.report.terminal import console, epoch_progress, print_summary

__all__ = ["console", "epoch_progress", "print_summary"]
