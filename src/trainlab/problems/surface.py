"""The surface problem (lecture 004): the parameters are a point on a 2-D test function, and
the loss is the function itself, so optimizer trajectories use the very optimizer and schedule
configs a network trains with. An epoch is one step; its row is the loss and the point."""

from __future__ import annotations

import jax.numpy as jnp

from trainlab import surfaces
from trainlab.problems.base import Net, Problem


class SurfaceProblem(Problem):
    def init(self, cfg, key):
        return Net({"point": jnp.asarray(self.cfg.data.start, jnp.dtype(self.cfg.dtype))}, {})

    def objective(self, cfg, params, state, batch, key):
        loss = surfaces.value(cfg.data, params["point"])
        return loss, (state, {"loss": loss}, [])

    def batches(self, key, epoch, data):
        return jnp.zeros((1,), jnp.int32)  # one step a epoch

    def batch(self, item, data):
        return None  # no samples: the point is all there is

    def row(self, cfg, carry, epoch, running, data, optimizer):
        point = carry.net.params["point"]
        return {"train_loss": surfaces.value(cfg.data, point), "train_x": point[0],
                "train_y": point[1]}
