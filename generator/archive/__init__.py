"""Layer 1, the archive: its schema (the one source of field names and rules), loading
with line numbers, validation, the immutable model, the four ones, provenance from git,
photo preparation. ``read.read_archive`` reads a whole archive."""
