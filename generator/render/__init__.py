"""Layer 2: the one Jinja environment that pages and booklets share (macros, filters,
labels) and the values templates read."""
