"""The kinds of run the program trains (base.py has the interface)."""

from trainlab.problems.base import Net, Problem, Shapes
from trainlab.problems.closed_form import ClosedFormProblem
from trainlab.problems.network import NetworkProblem
from trainlab.problems.surface import SurfaceProblem


def problem_for(cfg, shapes: Shapes) -> Problem:
    """The problem a static config and its data make: a point on a surface, or a network
    trained by gradient steps or with its output layer solved in closed form."""
    if shapes.task == "surface":
        return SurfaceProblem(cfg, shapes)
    if cfg.optimizer.solver == "closed_form":
        return ClosedFormProblem(cfg, shapes)
    return NetworkProblem(cfg, shapes)


__all__ = ["ClosedFormProblem", "Net", "NetworkProblem", "Problem", "Shapes", "SurfaceProblem",
           "problem_for"]
