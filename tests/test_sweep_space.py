"""Search spaces and the random / quasi-random sweepers: the points they draw (log-uniform in
log space, Sobol' balance, choices, integers), same seed same trials, longer sweeps keep the
first trials, and what the sweeper hands its launcher. No training here."""

from __future__ import annotations

import numpy as np
import pytest
from hydra.errors import HydraException
from scipy import stats

from trainlab import search_space
from trainlab.search_space import parse

LOG_LR = "optimizer.lr=tag(log, interval(1e-5, 1e-1))"


def values(trials: list[list[str]], key: str) -> list[str]:
    return [dict(o.split("=", 1) for o in t)[key] for t in trials]


@pytest.mark.parametrize("method", search_space.METHODS)
def test_log_interval_is_uniform_in_log_space(method):
    trials = parse([LOG_LR]).trials(method, 512, seed=0)
    lr = np.array(values(trials, "optimizer.lr"), dtype=float)
    assert lr.min() >= 1e-5 and lr.max() <= 1e-1
    exponent = np.log10(lr)
    # Uniform on [-5, -1] in log space; a linear draw would put ~90% above 1e-2 and fail here.
    assert stats.kstest((exponent + 5) / 4, "uniform").pvalue > 0.01
    assert np.mean(lr < 1e-3) == pytest.approx(0.5, abs=0.08)


def test_linear_interval_is_uniform():
    trials = parse(["model.hidden_dropout=interval(0, 0.5)"]).trials("random", 512, seed=1)
    p = np.array(values(trials, "model.hidden_dropout"), dtype=float)
    assert p.min() >= 0 and p.max() <= 0.5
    assert stats.kstest(p / 0.5, "uniform").pvalue > 0.01


def test_sobol_points_are_balanced_in_every_coordinate():
    space = parse([LOG_LR, "model.hidden_dropout=interval(0, 0.5)"])
    trials = space.trials("sobol", 64, seed=3)
    exponent = np.log10(np.array(values(trials, "optimizer.lr"), dtype=float))
    dropout = np.array(values(trials, "model.hidden_dropout"), dtype=float)
    # 2^6 points: exactly one in each of 64 equal bins of each coordinate (exp and log may
    # nudge a point across a bin edge by a rounding error, so the bins get a little slack).
    for u in ((exponent + 5) / 4, dropout / 0.5):
        counts = np.bincount(np.clip(np.floor(u * 64 + 1e-4), 0, 63).astype(int), minlength=64)
        assert (counts == 1).all()
    # Random points of the same budget are not that even: some bins empty.
    rand = np.array(values(space.trials("random", 64, seed=3), "model.hidden_dropout"), float)
    assert (np.bincount((rand / 0.5 * 64).astype(int), minlength=64) == 0).any()


@pytest.mark.parametrize("method", search_space.METHODS)
def test_same_seed_same_trials_and_longer_sweeps_keep_the_first(method):
    space = parse([LOG_LR, "optimizer=sgd,adam", "epochs=3"])
    short = space.trials(method, 8, seed=7)
    assert space.trials(method, 8, seed=7) == short
    assert space.trials(method, 20, seed=7)[:8] == short
    assert space.trials(method, 8, seed=8) != short


def test_choices_ranges_and_integers():
    space = parse(["optimizer=choice(sgd,adam,momentum)", "seeds=tag(int, interval(1, 4))",
                   "epochs=range(2,5)", "model.widths=[64],[32,32]", "batch_size=64"])
    trials = space.trials("random", 600, seed=0)
    assert all(t[-1] == "batch_size=64" for t in trials)  # fixed ones kept, in their place
    optimizers = values(trials, "optimizer")
    assert set(optimizers) == {"sgd", "adam", "momentum"}
    assert min(optimizers.count(o) for o in set(optimizers)) > 150
    assert set(values(trials, "seeds")) == {"1", "2", "3", "4"}
    assert set(values(trials, "epochs")) == {"2", "3", "4"}
    assert set(values(trials, "model.widths")) == {"[64]", "[32,32]"}


def test_log_integer_interval_covers_its_ends():
    trials = parse(["regularizer.kappa=tag(log, int, interval(1, 1000))"]).trials(
        "sobol", 256, seed=0)
    k = np.array(values(trials, "regularizer.kappa"), dtype=int)
    assert k.min() == 1 and k.max() >= 900 and k.max() <= 1000
    assert np.mean(k < 32) == pytest.approx(0.5, abs=0.05)  # half the log range


@pytest.mark.parametrize("override, message", [
    ("optimizer.lr=tag(log, interval(0, 1))", "start > 0"),
    ("optimizer.lr=interval(1, 0.1)", "start < end"),
    ("optimizer.lr=tag(loq, interval(1e-3, 1))", "unknown tag"),
    ("seeds=tag(int, interval(1, 2.5))", "integer ends"),
])
def test_bad_intervals_are_refused(override, message):
    with pytest.raises(HydraException, match=message):
        parse([override])


def test_unknown_method_is_refused():
    with pytest.raises(HydraException, match="sobol"):
        search_space.unit_points("grid", 4, 1, 0)


# ------------------------------------------------------------------------------- the plugin
class RecordingLauncher:
    """Stands for a launcher: records the batches, returns a finished job for each."""

    composes_before_running = True

    def __init__(self):
        self.batches = []

    def launch(self, job_overrides, initial_job_idx):
        from hydra.core.utils import JobReturn, JobStatus

        self.batches.append((initial_job_idx, [list(o) for o in job_overrides]))
        return [JobReturn(status=JobStatus.COMPLETED, _return_value=0.0) for _ in job_overrides]


@pytest.fixture
def hydra_setup(tmp_path):
    """A composed multirun config and its config loader, as Hydra gives them to a sweeper."""
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    from trainlab.config import register_configs

    register_configs()
    with initialize_config_module("trainlab.conf", version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        config = loader.load_configuration(
            "config", [f"hydra.sweep.dir={tmp_path}", "hydra/sweeper=quasirandom"],
            run_mode=RunMode.MULTIRUN)
        yield loader, config


def make_sweeper(hydra_setup, **kwargs):
    from hydra.types import HydraContext

    from hydra_plugins.trainlab_sweeper.sampling_sweeper import SamplingSweeper

    loader, config = hydra_setup
    sweeper = SamplingSweeper(**({"method": "sobol", "n_trials": 5, "seed": 0} | kwargs))
    sweeper.config, sweeper.hydra_context = config, HydraContext(loader, None)
    sweeper.launcher = RecordingLauncher()
    return sweeper


def test_sweeper_hands_the_trials_to_the_launcher(hydra_setup, tmp_path):
    sweeper = make_sweeper(hydra_setup, n_trials=5, max_batch_size=2,
                           params={"optimizer.lr": "tag(log, interval(1e-4, 1e-1))"})
    sweeper.sweep(["epochs=2", "optimizer=sgd,adam"])
    batches = sweeper.launcher.batches
    assert [start for start, _ in batches] == [0, 2, 4]
    jobs = [job for _, batch in batches for job in batch]
    assert jobs == search_space.parse(
        ["optimizer.lr=tag(log, interval(1e-4, 1e-1))", "epochs=2", "optimizer=sgd,adam"]
    ).trials("sobol", 5, 0)
    assert (tmp_path / "multirun.yaml").is_file()


def test_sweeper_needs_something_to_search(hydra_setup):
    with pytest.raises(HydraException, match="nothing to search"):
        make_sweeper(hydra_setup).sweep(["epochs=2"])


def test_sweeper_config_is_registered(hydra_setup):
    _, config = hydra_setup
    assert config.hydra.sweeper.method == "sobol"
    assert config.hydra.sweeper.n_trials == 16
    assert config.hydra.launcher._target_.endswith("VectorizedLauncher")


def test_drawn_values_keep_full_precision_and_read_back_exactly():
    """2000 log-uniform draws: all distinct (rounded to 6 digits, two collided), and the text
    of each override is the very float drawn, as Hydra's parser and the sweep table read it."""
    import math

    import pandas as pd
    from hydra.core.override_parser.overrides_parser import OverridesParser

    space = parse(["optimizer.lr=tag(log, interval(1e-4, 1))"])
    trials = space.trials("random", 2000, seed=2)
    text = values(trials, "optimizer.lr")
    assert len(set(text)) == 2000
    points = search_space.unit_points("random", 2000, 1, seed=2)[:, 0]
    drawn = [math.exp(math.log(1e-4) + u * math.log(1 / 1e-4)) for u in points]
    parsed = [o.value() for o in OverridesParser.create().parse_overrides(
        [t[0] for t in trials])]
    assert parsed == drawn  # exact: == on floats, no tolerance
    assert list(pd.to_numeric(pd.Series(text))) == drawn  # what summary.csv's column holds
    # The check can fail: these very draws, rounded to 6 significant digits, repeat values.
    assert len({f"{x:.6g}" for x in drawn}) < 2000
    # A linear interval too (numpy floats there: their repr is not a number).
    linear = values(parse(["model.hidden_dropout=interval(0, 0.5)"]).trials("random", 3, 0),
                    "model.hidden_dropout")
    assert [float(v) for v in linear] == [
        0.5 * u for u in search_space.unit_points("random", 3, 1, seed=0)[:, 0]]
