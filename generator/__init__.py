"""yidang (一生一档): turns a school's special-care case files into a site and booklets.

The package is split by pipeline stage: ``load`` → ``validate`` → ``model`` →
``analyse`` → ``render`` → ``plugin``/``build``; ``cli`` is the only module that
prints or exits.
"""
