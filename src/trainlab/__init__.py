"""trainlab: a command-line lab for the experiments of a course on how networks train."""

__version__ = "0.1.0"
