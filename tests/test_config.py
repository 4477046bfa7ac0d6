"""The config system: the registry of choices, checks that live with their fields, the YAML
files written from the classes, and unknown keys (``+key`` included) refused by name."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from trainlab.config import GROUPS, ConfigError, compose
from trainlab.config.fields import check_of
from trainlab.config.yamls import expected, main


def test_every_committed_yaml_is_what_its_class_writes():
    stale = [str(path) for path, text in expected().items()
             if not path.is_file() or path.read_text() != text]
    assert stale == [], "run `make yamls`"
    assert main(["--check"]) == 0


def test_a_default_changed_in_the_class_shows_in_the_check(monkeypatch, tmp_path):
    # The agreement test can fail: a file that says lr 1.0 where its class says 0.001.
    path, text = next((p, t) for p, t in expected().items() if p.name == "adam.yaml")
    monkeypatch.setattr(path.__class__, "read_text", lambda self: text.replace("0.001", "1.0"))
    assert main(["--check"]) == 1


@pytest.mark.parametrize("group", list(GROUPS))
def test_each_file_holds_its_class_defaults(group):
    for name, cls in GROUPS[group].items():
        body = yaml.safe_load(expected()[next(p for p in expected()
                                             if p.parent.name == group and p.stem == name)])
        assert body.pop("defaults") == [f"/schema/{group}/{name}@_here_", "_self_"]
        defaults = cls()
        for key, value in body.items():
            assert getattr(defaults, key) == value or value == "???", (group, name, key)


def test_choices_registered_by_their_name():
    for group, choices in GROUPS.items():
        assert choices, group
        for name, cls in choices.items():
            assert cls().name == name and cls.group == group


@pytest.mark.parametrize("group, name", [("optimizer", "lion"), ("activation", "selu"),
                                         ("init", "lecun_uniform")])
def test_choices_added_as_one_class_each(group, name):
    cfg = compose([f"{group}={name}"])
    assert getattr(cfg, group).name == name


def test_a_check_lives_with_its_field_not_its_name():
    # Two fields named `every`: the schedule's (units between drops) and early stopping's.
    step = GROUPS["schedule"]["step"]
    assert check_of(step, "every").allowed == "an integer >= 1"
    # A subclass that only changes a default keeps the base class's check.
    assert check_of(GROUPS["optimizer"]["rmsprop"], "lr").allowed == "a number > 0"
    with pytest.raises(ConfigError, match="optimizer.lr=-1.0: must be a number > 0"):
        compose(["optimizer=rmsprop", "optimizer.lr=-1"])
    # A field without a check elsewhere is not checked by another's name.
    assert check_of(GROUPS["data"]["circles"], "factor") is None


@pytest.mark.parametrize("overrides, message", [
    (["+unknown_key=1"], "unknown_key: not a key of the config"),
    (["optimizer=momentum", "+optimizer.momentun=0.5"],
     "optimizer.momentun: not a key of optimizer=momentum"),
    (["+early_stopping.patiense=3"], "did you mean patience?"),
    (["optimizer.lrr=0.1"], "did you mean lr?"),
    (["optimizer.learning_rate=0.1"], "did you mean lr?"),
    (["optimizer.momentum=0.5"], "optimizer=momentum, nesterov take it"),
    (["regularizer.kappa=1e-4"], "choose one first"),
    (["optimizer.name=sgd"], "write optimizer=sgd"),
])
def test_unknown_keys_are_refused_with_what_to_write(overrides, message):
    with pytest.raises(ConfigError, match=message.replace("?", r"\?")):
        compose(overrides)


def test_every_choice_is_a_dataclass_with_a_name_default():
    for choices in GROUPS.values():
        for cls in choices.values():
            fields = {f.name: f for f in dataclasses.fields(cls)}
            assert fields["name"].default == cls().name


def test_as_dict_is_dataclasses_asdict():
    from trainlab.config.signature import as_dict

    for choices in GROUPS.values():
        for cls in choices.values():
            assert as_dict(cls()) == dataclasses.asdict(cls())
    cfg = compose(["model.widths=[3,4]", "optimizer=adamw", "schedule=step"])
    assert as_dict(cfg) == dataclasses.asdict(cfg)
