"""Layer 5, the build: its stages in order (``stages.run_build``), the MkDocs plugin whose
hooks run the same stages, and the atomic publish."""
