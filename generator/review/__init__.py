"""Layer 5, the review workflow: ``review`` of a branch, CODEOWNERS, ``new`` records and
``init`` of a school's archive repository."""
