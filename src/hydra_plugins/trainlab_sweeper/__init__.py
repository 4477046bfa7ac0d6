"""trainlab's random and quasi-random (Sobol', Halton) sweepers for Hydra."""
