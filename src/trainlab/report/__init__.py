"""What trainlab shows of its results: the terminal (``terminal``: progress bars, summary
tables), the self-contained web page of a run or a sweep (``html``), and the loggers that write
a run's tables for other tools (``loggers``, ``tensorboard``).

The terminal names are re-exported here, so ``from trainlab import report`` then
``report.print_summary(...)`` works as it did when this package was one module. Nothing heavier
(pandas, plotly) is imported until a page or a logger is asked for.
"""

from trainlab.report.headline import headline
from trainlab.report.terminal import (
    SweepProgress,
    announce,
    compiling,
    console,
    epoch_progress,
    print_summary,
    run_status,
    shown_path,
)

__all__ = ["SweepProgress", "announce", "compiling", "console", "epoch_progress", "headline",
           "print_summary", "run_status", "shown_path"]
