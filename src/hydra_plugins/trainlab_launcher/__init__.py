"""trainlab's vectorized Hydra launcher: a sweep's jobs trained as few compiled programs."""
