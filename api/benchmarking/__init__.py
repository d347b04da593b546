"""Anonymous peer benchmarks: fixed peer groups, batch snapshots, suppression and coarse precision."""
