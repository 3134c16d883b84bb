"""Benchmarks: every hot path measured side by side in one run (`make bench`)."""
