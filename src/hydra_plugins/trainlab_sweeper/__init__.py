"""trainlab's sweepers for Hydra: grid (the default), random and quasi-random (Sobol', Halton),
successive halving / Hyperband and PBT."""
