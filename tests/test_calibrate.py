"""The measured chunk: the fastest candidate is kept, the search stops when doubling stops
paying, and the result is cached per device and model size (read back, not measured again)."""

from __future__ import annotations

import json

import pytest

from trainlab import calibrate, plan, records
from trainlab.config import compose


def test_the_fastest_candidate_wins_and_the_search_stops_when_doubling_stops_paying():
    times = {1: 1.0, 2: 0.6, 4: 0.5, 8: 0.55, 16: 0.7, 32: 0.2}  # 32 is never tried
    tried = []

    def measure(k):
        tried.append(k)
        return times[k]

    chunk, seconds = calibrate.fastest_chunk([1, 2, 4, 8, 16, 32], measure)
    assert chunk == 4 and tried == [1, 2, 4, 8, 16] and seconds == {k: times[k] for k in tried}


@pytest.fixture
def group(monkeypatch, tmp_path):
    monkeypatch.setenv("TRAINLAB_CACHE", str(tmp_path))
    cfg = compose(["data=moons", "data.n_samples=200", "model.widths=[8]", "epochs=2",
                   "batch_size=32", "diagnostics=off", "progress=false"])
    [group] = plan.plan([plan.Job(cfg)] * 16, chunk_size=0)
    values, seeds, _ = plan.trial_values([cfg] * 16)
    return group, values, seeds


def test_a_measured_chunk_is_cached_per_model_and_read_back(group):
    group, values, seeds = group
    measured = []

    def measure(k):
        measured.append(k)
        return {1: 3.0, 2: 2.0, 4: 1.0, 8: 1.5, 16: 1.6}[k]

    chunk, reason = calibrate.chunk_for(group.program, values, seeds, group.data,
                                        group.devices, 16, measure)
    assert chunk == 4 and "calibrated" in reason and measured == [1, 2, 4, 8, 16]
    stored = json.loads((records.cache_dir() / calibrate.CACHE_FILE).read_text())
    [entry] = stored.values()
    assert entry["chunk"] == 4 and set(entry["seconds_per_trial_epoch"]) == {
        "1", "2", "4", "8", "16"}
    # The same model again (another sweep, any epochs): read, not measured.
    chunk, reason = calibrate.chunk_for(group.program, values, seeds, group.data,
                                        group.devices, 16, lambda k: pytest.fail("measured"))
    assert chunk == 4 and "cached" in reason


def test_real_measurements_of_a_tiny_model(group, monkeypatch):
    group, values, seeds = group
    monkeypatch.setattr(calibrate, "MIN_SECONDS", 0.02)
    seconds = {k: calibrate.epoch_seconds(group.program, values, seeds, group.data, k)
               for k in (1, 4)}
    assert all(0 < s < 5 for s in seconds.values())  # (how they compare: bench-scale's job)
