"""Layer 2, protection: reader accounts and rights, sealing the site, the audit."""
