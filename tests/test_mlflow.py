"""logger=mlflow read back through MLflow's own client, from a local SQLite store: a run per
job with its overrides as params, every metrics.csv column as a metric by epoch, a child run
per seed. Skipped, saying so, where the mlflow extra is not installed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from report_fixtures import metrics
from trainlab.config import ConfigError, compose
from trainlab.report import loggers
from trainlab.report.loggers import Mlflow

pytest.importorskip("mlflow", reason="the mlflow extra (pip install '.[mlflow]') is missing")
pytest.importorskip("sqlalchemy", reason="MLflow's SQLite store needs sqlalchemy")
from mlflow.tracking import MlflowClient  # noqa: E402

from trainlab.report import mlflow_logger  # noqa: E402

pytestmark = pytest.mark.slow  # a new SQLite store makes its tables first: seconds

OVERRIDES = ["optimizer.lr=0.01", "model.hidden_dropout=0.1", "progress=false"]


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Mlflow:
    """One store for the module: making a new SQLite store's tables takes seconds."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    return Mlflow(tracking_uri=uri, experiment="tests")


def history(store: MlflowClient, run_id: str, table: pd.DataFrame) -> pd.DataFrame:
    """A run's metrics as a table like metrics.csv (epoch, then a column a metric)."""
    columns = {key: pd.Series({m.step: m.value for m in store.get_metric_history(run_id, key)})
               for key in loggers.scalar_columns(table)}
    return pd.DataFrame(columns).rename_axis("epoch").reset_index()


def assert_same_curves(store, run_id, rows: pd.DataFrame):
    logged = history(store, run_id, rows)
    columns = loggers.scalar_columns(rows)
    assert list(logged.epoch) == list(rows.epoch)
    # a float32 number logged as float64, against its 8-digit text in metrics.csv
    np.testing.assert_allclose(logged[columns].to_numpy(float), rows[columns].to_numpy(float),
                               rtol=1e-6, equal_nan=True)


def test_a_job_is_a_run_with_its_overrides_and_curves(settings, tmp_path):
    table = metrics(1e-2, 0.1, [0])
    table["train_acc"] = np.nan  # no values: no metric
    summary = {"status": "ok", "best_val_loss": 0.3, "test_acc": 0.9, "overrides": OVERRIDES}
    run_id = mlflow_logger.write_run(tmp_path / "7", table, summary, settings)
    store = MlflowClient(settings.tracking_uri)
    run = store.get_run(run_id)
    assert run.info.run_name == "7" and run.info.status == "FINISHED"
    assert run.data.params == {"optimizer.lr": "0.01", "model.hidden_dropout": "0.1"}
    assert run.data.tags["trainlab.job_dir"] == str((tmp_path / "7").resolve())
    assert run.data.metrics["summary/best_val_loss"] == 0.3
    assert "train_acc" not in run.data.metrics
    assert_same_curves(store, run_id, table)
    wrong = table.copy()
    wrong.loc[1, "grad_norm/2"] *= 1.001
    with pytest.raises(AssertionError):  # the comparison sees a changed value
        assert_same_curves(store, run_id, wrong)


def test_several_seeds_are_child_runs(settings, tmp_path):
    table = metrics(1e-3, 0.3, [4, 5])
    summary = {"status": "diverged", "overrides": OVERRIDES}
    run_id = mlflow_logger.write_run(tmp_path / "job", table, summary, settings)
    store = MlflowClient(settings.tracking_uri)
    assert store.get_run(run_id).info.status == "FAILED"
    experiment = store.get_experiment_by_name(settings.experiment).experiment_id
    children = store.search_runs([experiment], f"tags.mlflow.parentRunId = '{run_id}'")
    by_seed = {int(r.data.tags["trainlab.seed"]): r.info.run_id for r in children}
    assert sorted(by_seed) == [4, 5]
    for seed, child in by_seed.items():
        assert_same_curves(store, child, table[table.seed == seed])


def test_a_missing_package_is_one_line_before_training(monkeypatch):
    monkeypatch.setattr(Mlflow, "module", "no_such_module_here")
    monkeypatch.setattr(Mlflow, "install", "pip install it")
    with pytest.raises(ConfigError, match=r"logger=mlflow: needs no_such_module_here.*pip"):
        Mlflow().check()


def test_train_with_logger_mlflow(settings, tmp_path):
    from trainlab.plan import Job, train_many

    overrides = ["data=moons", "data.n_samples=200", "epochs=2", "model.widths=[8]",
                 "progress=false", "logger=mlflow", f"logger.tracking_uri={settings.tracking_uri}",
                 f"logger.experiment={settings.experiment}"]
    out_dir = tmp_path / "run"
    [summary] = train_many([Job(compose(overrides), out_dir, overrides)], progress=False)
    store = MlflowClient(settings.tracking_uri)
    experiment = store.get_experiment_by_name(settings.experiment).experiment_id
    [run] = store.search_runs([experiment], f"tags.`trainlab.job_dir` = '{out_dir.resolve()}'")
    assert run.data.params["data"] == "moons" and run.data.params["epochs"] == "2"
    assert run.data.metrics["summary/best_val_loss"] == pytest.approx(summary["best_val_loss"])
    assert_same_curves(store, run.info.run_id, pd.read_csv(out_dir / "metrics.csv"))
