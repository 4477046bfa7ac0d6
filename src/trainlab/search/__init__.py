"""Adaptive search inside the compiled program: successive halving and Hyperband
(halving.py), population-based training (pbt.py). Each is a driver the vectorized launcher
hands a group of jobs to (its sweeper sets it), training them with trials.Trials."""
