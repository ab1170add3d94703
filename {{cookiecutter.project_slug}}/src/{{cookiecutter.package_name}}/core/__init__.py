"""Pure logic: the data contract, validation, features, models and metrics (no paths, no I/O)."""
