"""Benchmarks: each prints our rate beside a baseline measured in the same run (`make bench`)."""
