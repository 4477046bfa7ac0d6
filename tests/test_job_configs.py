"""Jobs derived from one composed config per shape equal what Hydra composes job by job: the
values as Hydra's grammar reads them, the typed configs, and every .hydra file, byte for byte."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback

import sweep_runs
from hydra_plugins.trainlab_launcher.job_configs import _scalar, read_plain

TINY = ["data=moons", "data.n_samples=120", "epochs=2", "batch_size=32", "diagnostics=off",
        "progress=false", "save_params=false"]


@pytest.mark.parametrize("text", [
    "0", "7", "-3", "+12", "1_000", "0.01", "1e-3", "1E5", "-2.5e-07", ".5", "5.", "inf",
    "-inf", "nan", "+inf", "true", "False", "TRUE", "null", "adam", "float64", "warmup_cosine",
    "a-b",
])
def test_plain_values_read_as_hydra_reads_them(text):
    [override] = OverridesParser.create().parse_overrides([f"key={text}"])
    ours, hydras = read_plain(text), override.value()
    assert type(ours) is type(hydras)
    assert ours == hydras or (math.isnan(ours) and math.isnan(hydras))


@pytest.mark.parametrize("text", ["'quoted'", "[1,2]", "${seed}", "a,b", "interval(0,1)",
                                  "a b", "1e", "0x10", "{a:1}"])
def test_other_values_are_left_to_hydra(text):
    assert read_plain(text) is ...


@pytest.mark.parametrize("value", [0.01, 1e-05, 1e20, 0.1 + 0.2, -0.0, 3.0, math.inf,
                                   -math.inf, math.nan, 5, -7, True, False, "adam",
                                   "lr=0.001", "a:b", "model.widths=[16,16]", "/tmp/x/0",
                                   "dätä", "'", "1e-3", "null", "~"])
def test_scalars_written_as_yaml_dump_writes_them(value):
    dumped = yaml.dump({"k": value}, Dumper=yaml.CSafeDumper, allow_unicode=True,
                       default_flow_style=False)
    assert dumped == f"k: {_scalar(value)}\n"


class EveryJob(Callback):
    """A callback acting on each job: the launcher then composes every job through Hydra."""

    def on_job_end(self, config, job_return, **kwargs) -> None:
        pass


def multirun(sweep_dir: Path, *overrides: str) -> list:
    """``train -m OVERRIDES`` with this file's tiny base, in this process."""
    return sweep_runs.multirun(sweep_dir, "hydra.callbacks.sweep_summary.html=false", *TINY,
                               *overrides)


SWEEPS = {
    "grid of floats and ints": ["optimizer.lr=0.01,0.1,1", "seed=0,3", "model.widths=[8]"],
    "choices and values": ["optimizer=sgd,adam", "optimizer.lr=1e-3,0.5,2",
                           "model.hidden_dropout=0,0.25"],
    "random search": ["hydra/sweeper=random", "hydra.sweeper.n_trials=6",
                      "optimizer.lr=tag(log, interval(1e-4, 1))",
                      "init.gain=interval(0.5, 2)", "seeds=tag(int, interval(1, 2))"],
    "words and bools": ["optimizer=momentum", "optimizer.form=classic,ema",
                        "early_stopping.enabled=true,false", "optimizer.lr=1"],
}


# name -> sweep, and how many of its jobs Hydra composes: without a callback on each job (one a
# shape, none when its values are all the master config needs), and with one (all)
SHAPES = {"grid of floats and ints": (6, 0), "choices and values": (12, 2),
          "random search": (6, 0), "words and bools": (4, 0)}


def launchers_job_configs():
    """The JobConfigs class the vectorized launcher uses: Hydra loads plugins as modules of
    their own, not the ones an import gives."""
    from hydra.core.plugins import Plugins

    name = "hydra_plugins.trainlab_launcher.vectorized_launcher.VectorizedLauncher"
    return Plugins.instance().class_name_to_class[name]._jobs.__globals__["JobConfigs"]


@pytest.mark.parametrize("name", SWEEPS)
def test_derived_jobs_equal_hydra_composed_ones(tmp_path, name, monkeypatch):
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from omegaconf import OmegaConf

    jobs, shapes = SHAPES[name]
    hydra_composed = []
    load = ConfigLoaderImpl.load_sweep_config
    monkeypatch.setattr(ConfigLoaderImpl, "load_sweep_config",
                        lambda self, *a, **k: hydra_composed.append(1) or load(self, *a, **k))
    multirun(tmp_path / "derived", *SWEEPS[name])
    assert len(hydra_composed) == shapes

    job_configs = launchers_job_configs()
    compose = job_configs.compose

    def hydras(self, overrides):  # every job as Hydra composes it, and compose's the same
        config = self.loader.load_sweep_config(self.master, list(overrides))
        task = OmegaConf.masked_copy(config, [k for k in config if k != "hydra"])
        ours, ours_task = compose(self, overrides)
        assert OmegaConf.to_container(ours) == OmegaConf.to_container(config), overrides
        assert OmegaConf.to_container(ours_task) == OmegaConf.to_container(task), overrides
        return config, ours_task

    monkeypatch.setattr(job_configs, "compose", hydras)
    multirun(tmp_path / "hydra", *SWEEPS[name],
             f"+hydra.callbacks.every_job._target_={__name__}.EveryJob")
    assert len(hydra_composed) == shapes + jobs + shapes  # compose's own, for its shapes
    derived = sorted(p.parent.parent.relative_to(tmp_path / "derived")
                     for p in (tmp_path / "derived").glob("*/.hydra/hydra.yaml"))
    assert derived, "no job ran"
    for job in derived:
        for name in ("config.yaml", "overrides.yaml"):
            a = (tmp_path / "derived" / job / ".hydra" / name).read_text()
            b = (tmp_path / "hydra" / job / ".hydra" / name).read_text()
            assert a == b, (job, name)
        # hydra.yaml also holds the sweep dir and the callbacks: equal but for those
        a, b = (yaml.safe_load((tmp_path / side / job / ".hydra" / "hydra.yaml").read_text()
                               .replace(str(tmp_path / side), "SWEEP"))["hydra"]
                for side in ("derived", "hydra"))
        assert b["callbacks"].pop("every_job")
        b["overrides"]["hydra"] = [o for o in b["overrides"]["hydra"] if "every_job" not in o]
        assert a == b, job
        sa = json.loads((tmp_path / "derived" / job / "summary.json").read_text())
        sb = json.loads((tmp_path / "hydra" / job / "summary.json").read_text())
        assert sa["config_hash"] == sb["config_hash"]
        assert sa["best_val_loss"] == sb["best_val_loss"]


@pytest.mark.parametrize("name", ["grid of floats and ints", "words and bools"])
def test_derived_jobs_carry_their_static_signature(tmp_path, name, monkeypatch):
    """A derived job differing from its template only in traced numbers takes the template's
    signature (plan then skips computing it, a millisecond a job); any other gets None, or
    its own signature: never a wrong one."""
    from trainlab import plan
    from trainlab.config import static_signature

    seen = []
    group_jobs = plan.group_jobs
    monkeypatch.setattr(plan, "group_jobs", lambda jobs: seen.extend(jobs) or group_jobs(jobs))
    multirun(tmp_path, *SWEEPS[name])
    known = [job for job in seen if job.signature is not None]
    assert all(job.signature == static_signature(job.cfg) for job in known)
    if name == "grid of floats and ints":  # lr and seed are traced: every derived job knows
        assert len(known) == len(seen) - 1  # all but the template, composed by Hydra
    else:  # the form and early stopping change the program: only the template's own values
        assert len({static_signature(job.cfg) for job in seen}) == 4
