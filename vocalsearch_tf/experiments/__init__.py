"""One module per notebook: what the notebook calls, and the papers' own numbers as data."""
