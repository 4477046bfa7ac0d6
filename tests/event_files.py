"""logger=tensorboard's files read back with TensorBoard's own event reader (the
``tensorboard`` package, dev extra): scalars as a table like metrics.csv, the HParams
plugin's records, and the check that the scalars are the table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainlab.report import loggers, tensorboard


def read(event_dir):
    """TensorBoard's own reader over one event dir, every event loaded."""
    from tensorboard.backend.event_processing import event_accumulator

    events = event_accumulator.EventAccumulator(
        str(event_dir), size_guidance={event_accumulator.SCALARS: 0,
                                       event_accumulator.TENSORS: 0})
    return events.Reload()


def scalars(event_dir) -> pd.DataFrame:
    """Every scalar of an event dir as a table like metrics.csv: epoch, then one column a tag."""
    events = read(event_dir)
    columns = {tag: pd.Series({e.step: e.value for e in events.Scalars(tag)})
               for tag in events.Tags()["scalars"]}
    return pd.DataFrame(columns).rename_axis("epoch").reset_index()


def hparams_data(event_dir) -> dict:
    """The HParams plugin's records of an event dir (HParamsPluginData), by tag."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = read(event_dir).PluginTagToContent("hparams")
    return {tag: plugin_data_pb2.HParamsPluginData.FromString(data)
            for tag, data in content.items()}


def assert_same_scalars(event_dir, rows: pd.DataFrame):
    """The event dir's per-epoch scalars (those of HParams aside) are the table's columns."""
    written = scalars(event_dir)
    written = written[[c for c in written if not c.startswith(tensorboard.METRIC_PREFIX)]]
    written = written.dropna(how="all", subset=[c for c in written if c != "epoch"])
    columns = loggers.scalar_columns(rows)
    assert sorted(written.columns) == sorted(["epoch", *columns])
    assert list(written.epoch) == list(rows.epoch)
    # float32 in the events (TensorBoard's simple_value); NaN and inf kept as they were
    np.testing.assert_allclose(written[columns].to_numpy(float), rows[columns].to_numpy(float),
                               rtol=1e-6, equal_nan=True)
