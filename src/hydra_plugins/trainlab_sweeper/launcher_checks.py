"""Hydra's check of a batch before launch, left to a launcher that makes it itself."""


class ChecksLeftToLauncher:
    """A sweeper mixin. Hydra's ``validate_batch_is_legal`` composes every job of a batch once,
    only to catch a bad value early: a third of a second a job. A launcher that composes and
    checks every job before running any (``composes_before_running``: the vectorized one)
    makes that check itself, so the sweeper skips it; with any other launcher it stays."""

    def validate_batch_is_legal(self, batch) -> None:
        if not getattr(self.launcher, "composes_before_running", False):
            super().validate_batch_is_legal(batch)
