"""Adapters at the edge: files in and out, model persistence, plots."""
