"""HTTP routes, one module per audience: predictions, compatible protocols, operations."""
