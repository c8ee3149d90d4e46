"""Layer 2: the ledger (台账) and teachers' summaries as spreadsheets, and the ledger import."""
