"""Layer 4, the site's pages: each student's page (rendered in the worker that read the
student) and the index pages."""
