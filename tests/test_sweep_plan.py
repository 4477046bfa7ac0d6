"""How the vectorized launcher splits a group (trial_plan) and composes its jobs' configs
(job_configs): no training here."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from omegaconf import OmegaConf

from trainlab import trial_plan
from trainlab.config import compose
from trainlab.problems import Shapes

MNIST = Shapes("classification", 40, 10, 10, 3200, 128)
MOONS = Shapes("classification", 2, 2, 2, 160, 32)


@dataclass(frozen=True)
class FakeDevice:
    platform: str
    id: int = 0

    def memory_stats(self):
        return {"bytes_limit": 8 * 2**30}


def test_cpu_runs_eight_trials_a_call_and_more_of_tiny_ones():
    cpu = [FakeDevice("cpu")]
    big = compose(["model.widths=[256,256]"])
    small = compose(["model.widths=[64]"])
    tiny = compose(["data=moons", "model.widths=[16,16]", "batch_size=32"])
    assert trial_plan.plan(big, MNIST, 64, devices=cpu).chunk == 8
    assert trial_plan.plan(small, MNIST, 64, devices=cpu).chunk == 8
    tinier = compose(["data=moons", "model.widths=[16,16]"])  # batch 128
    assert trial_plan.plan(tiny, MOONS, 64, devices=cpu).chunk == 64  # 128: all 64 at once
    assert trial_plan.plan(tiny, MOONS, 1024, devices=cpu).chunk == 128
    moons_b128 = Shapes("classification", 2, 2, 2, 800, 128)
    assert trial_plan.plan(tinier, moons_b128, 1024, devices=cpu).chunk == 128  # from 74


def test_cheap_trials_run_in_calls_of_a_power_of_two_that_other_sweeps_share():
    cpu, tiny = [FakeDevice("cpu")], compose(["data=moons", "model.widths=[16,16]"])
    chunks = {n: trial_plan.plan(tiny, MOONS, n, devices=cpu).chunk
              for n in (5, 8, 9, 20, 30, 33, 100, 129, 1000)}
    assert chunks == {5: 5, 8: 8, 9: 16, 20: 32, 30: 32, 33: 64, 100: 128, 129: 128,
                      1000: 128}
    two = [FakeDevice("cpu", 0), FakeDevice("cpu", 1)]
    assert trial_plan.plan(tiny, MOONS, 20, devices=two).chunk == 32  # 16 a device
    big = compose(["model.widths=[256,256]"])  # 8 a call: spread evenly, padding the least
    assert trial_plan.plan(big, MNIST, 20, devices=cpu).chunk == 7
    assert trial_plan.plan(big, MNIST, 1, devices=cpu).chunk == 1  # a lone job: no padding
    assert trial_plan.plan(big, MNIST, 5, devices=cpu).chunk == 5  # fewer than 8: one call


def test_gpu_runs_every_trial_of_a_small_mlp_in_one_call():
    cfg = compose(["model.widths=[256,256]"])
    assert trial_plan.plan(cfg, MNIST, 64, devices=[FakeDevice("gpu")]).chunk == 64


def test_step_flops_of_the_benchmark_mlp():
    cfg = compose(["model.widths=[256,256]"])
    weights_and_biases = 40 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    assert trial_plan.step_flops(cfg, MNIST) == 6 * 128 * weights_and_biases


def test_memory_bound_splits_a_group_into_even_chunks(monkeypatch):
    cfg = compose(["model.widths=[256,256]"])
    per_trial = trial_plan.trial_bytes(cfg, MNIST)
    monkeypatch.setattr(trial_plan, "device_memory", lambda device: 20 * per_trial)
    plan = trial_plan.plan(cfg, MNIST, 64, chunk_size=0, memory_fraction=0.5,
                           devices=[FakeDevice("gpu")])
    assert plan.chunk == 10  # 64 trials in 7 chunks of at most 10 each
    assert "memory bound" in plan.reason


def test_chunks_are_a_multiple_of_the_devices():
    cfg = compose(["model.widths=[256,256]"])
    devices = [FakeDevice("cpu", 0), FakeDevice("cpu", 1)]
    assert trial_plan.plan(cfg, MNIST, 7, chunk_size=0, devices=devices).chunk == 8
    assert trial_plan.plan(cfg, MNIST, 64, chunk_size=3, devices=devices).chunk == 4
    assert trial_plan.plan(cfg, MNIST, 64, chunk_size=1, devices=devices[:1]).mesh() is None


@pytest.mark.parametrize("text, size", [("auto", None), ("AUTO", None), ("0", 0), (8, 8)])
def test_chunk_size_knob(text, size):
    assert trial_plan.parse_chunk_size(text) == size


@pytest.mark.parametrize("text", ["-1", "fast", "1.5"])
def test_bad_chunk_size_is_refused(text):
    with pytest.raises(ValueError, match="chunk_size"):
        trial_plan.parse_chunk_size(text)


# ----------------------------------------------------------------------------- job configs
def test_fast_job_configs_equal_hydras_composition():
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    from hydra_plugins.trainlab_launcher.job_configs import JobConfigs, without_hydra
    from trainlab.config import Config, register_configs

    register_configs()
    jobs = [
        ["optimizer.lr=0.1", "epochs=2", "model.widths=[8]"],
        ["optimizer.lr=0.01", "epochs=3", "model.widths=[16,16]"],  # values only: copied
        ["optimizer=sgd", "optimizer.lr=0.5", "epochs=3", "model.widths=[8]"],  # a group
        ["optimizer=momentum", "optimizer.lr=0.5", "epochs=3", "model.widths=[8]"],
        ["+optimizer.extra=1", "epochs=3", "model.widths=[8]"],  # not a plain value
    ]
    with initialize_config_module("trainlab.conf", version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration("config", ["epochs=5"], run_mode=RunMode.MULTIRUN)
        configs = JobConfigs(loader, master)
        for overrides in jobs:
            try:
                config, task = configs.compose(overrides)
            except Exception as error:  # Hydra refuses it too, the same way
                with pytest.raises(type(error)):
                    loader.load_sweep_config(master, overrides)
                continue
            hydras = loader.load_sweep_config(master, overrides)
            assert OmegaConf.to_yaml(config) == OmegaConf.to_yaml(hydras)
            assert OmegaConf.to_yaml(task) == OmegaConf.to_yaml(without_hydra(hydras))
            assert OmegaConf.get_type(task) is Config
        assert len(configs._composed) == 4  # the two values-only jobs share one composition


# trial_plan's docstring tables, measured on this project's CPU: run time per trial by trials
# a call (chunk -> time relative to the first), and how many trials the sweep measured had.
MEASURED = [
    (["model.widths=[256,256]"], MNIST, 64, {1: 1.00, 2: 0.95, 4: 0.92, 8: 0.93, 16: 0.93}),
    (["model.widths=[64]"], MNIST, 64, {1: 1.00, 2: 0.87, 4: 0.72, 8: 0.68, 16: 0.65}),
    (["data=moons", "model.widths=[16,16]"], Shapes("classification", 2, 2, 2, 640, 128), 128,
     {8: 1.00, 16: 0.92, 32: 0.79, 64: 0.72, 128: 0.68}),
    (["data=moons", "model.widths=[16,16]", "batch_size=32"], MOONS, 128,
     {8: 1.00, 16: 0.88, 32: 0.73, 64: 0.69, 128: 0.64}),
]


@pytest.mark.parametrize("overrides, shapes, trials, measured", MEASURED,
                         ids=["W", "64", "moons", "moons-b32"])
def test_the_cpu_rule_picks_a_chunk_within_5_percent_of_the_fastest_measured(
        overrides, shapes, trials, measured):
    chunk = trial_plan.plan(compose(overrides), shapes, trials,
                            devices=[FakeDevice("cpu")]).chunk
    assert chunk in measured
    assert measured[chunk] <= 1.05 * min(measured.values())
