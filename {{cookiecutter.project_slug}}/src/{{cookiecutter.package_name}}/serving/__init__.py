"""The FastAPI prediction server: validated input, compiled scoring, a prediction log."""
