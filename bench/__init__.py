"""Benchmarks of wxserver against its peers and against what its framework costs anyway."""
