"""Layer 0: what every stage uses and that imports nothing of the project: errors and
problems, atomic file writes, the one git helper, the build cache, cryptography."""
