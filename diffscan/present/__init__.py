"""What the front ends show and write: exports (CSV/JSON/Markdown), figures (HTML/PNG), labels, formula text."""
