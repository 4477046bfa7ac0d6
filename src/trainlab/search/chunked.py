"""A search's trials trained to an epoch in chunks of the group's call size: what halving and
PBT both do between their rungs or intervals."""

from __future__ import annotations

import numpy as np

from trainlab.trials import State, Trials


def train_chunked(group, state: State | None, values: dict, seeds: np.ndarray, until: int):
    """The trials (rows of ``values`` and ``seeds``, or of ``state`` when resuming from it)
    trained to epoch ``until``, in chunks of the group's size, the last padded. Returns their
    State, their Outcome and the trial-epochs trained (padding included)."""
    from trainlab.outcome import concat
    from trainlab.plan import pad_trials
    from trainlab.trial_plan import even

    n = len(seeds)
    size = even(group.chunk, n, len(group.devices))
    states, outcomes, keep, trial_epochs = [], [], [], 0
    for start in range(0, n, size):
        part = np.arange(start, min(start + size, n))
        index = np.concatenate([part, np.full(size - len(part), part[-1])])  # padded
        if state is None:
            chunk = Trials(group.program, *pad_trials({k: v[part] for k, v in values.items()},
                                                seeds[part], size), group.data,
                           mesh=group.mesh())
        else:
            chunk = Trials.from_state(group.program, state.take(index), group.data,
                                      mesh=group.mesh())
        trial_epochs += size * (until - chunk.epoch)
        chunk.train(until)
        outcomes.append(chunk.outcome())
        states.append(chunk.state().take(np.arange(len(part))))
        keep.append(len(part))
        group.seconds["compile"] += chunk.compile_s
        group.seconds["train"] += chunk.run_s
    return State.concat(states), concat(outcomes, keep), trial_epochs
