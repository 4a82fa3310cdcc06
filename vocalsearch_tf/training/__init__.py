"""How models are fitted: the recipes, pretraining, the resumable multi-run runner and its fingerprints."""
