"""make fig-fashion at its reduced size (6000 training images, 5 epochs, one seed): the checks
against the Fashion-MNIST benchmark pass, and fail on tables that are deliberately wrong."""

from __future__ import annotations

import pandas as pd
import pytest

import figure_checks
from image_files import needs_fashion
from trainlab.figures import fashion


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return figure_checks.build("fashion", tmp_path_factory.mktemp("fashion"))


@pytest.mark.slow  # two compiled programs, 6000 images
@needs_fashion
def test_fashion_reproduces_the_benchmark_rows(built):
    figure_checks.assert_shows(built)
    f = fashion.finals(built.table)
    assert set(f.benchmark_test_acc) == {0.871, 0.841}
    assert (f.train_samples == 6000).all() and (f.epochs == 5).all()
    acc = f.groupby("model").test_acc.mean()
    assert acc["MLP 784-100-10"] > 0.8 and acc["logistic regression"] > 0.75
    assert len(built.checks) == 3


def _with(table: pd.DataFrame, model: str, test_acc: float) -> pd.DataFrame:
    wrong = table.copy()
    wrong.loc[(wrong.kind == "final") & (wrong.model == model), "test_acc"] = test_acc
    return wrong


@pytest.mark.slow
@needs_fashion
@pytest.mark.parametrize("model, test_acc, failing", [
    # labels misaligned with the images: chance accuracy
    ("MLP 784-100-10", 0.10, ["MLP 784-100-10: test accuracy", "the MLP beats"]),
    # a logistic regression far above its benchmark row, and above the MLP
    ("logistic regression", 0.95, ["logistic regression: test accuracy", "the MLP beats"]),
])
def test_the_check_fails_on_a_wrong_table(built, model, test_acc, failing):
    options = dict(built.experiment.options)
    checks = fashion.check(_with(built.table, model, test_acc), options)
    failed = [c.criterion for c in checks if not c.ok]
    assert len(failed) == len(failing)
    for start, criterion in zip(failing, failed):
        assert criterion.startswith(start)
