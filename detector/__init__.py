"""detector stage."""
