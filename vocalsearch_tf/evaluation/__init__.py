"""How rankings are scored: metrics, ranking with cached towers, fusion, baselines."""
