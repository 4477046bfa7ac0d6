"""Shared test set-up: a private
dataset cache, and small helpers to build configs without Hydra's command line."""

from __future__ import annotations

import os

import pytest

# Strict dtype promotion is not usable: optax itself mixes int32 step counts with floats.


@pytest.fixture(autouse=True, scope="session")
def _dataset_cache(tmp_path_factory):
    # One cache per test session, so tests never depend on (or damage) the user's own.
    os.environ.setdefault("TRAINLAB_CACHE", str(tmp_path_factory.mktemp("cache")))
    # Sweeps take the rule of thumb for their chunk, not a measurement (test_calibrate.py
    # measures on purpose): a test's time goes to what it tests.
    os.environ.setdefault("TRAINLAB_CALIBRATE", "0")


@pytest.fixture
def x64():
    """float64 for one test (exact comparisons), restoring the previous mode afterwards."""
    import jax

    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", before)
