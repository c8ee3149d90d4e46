"""Layer 3: printable PDF booklets (WeasyPrint) and their CJK font subsets."""
