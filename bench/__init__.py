"""Benchmarks (`make bench`): measured on this machine, in one run, with their baselines."""
