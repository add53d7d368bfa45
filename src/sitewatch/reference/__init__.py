"""Reference data: airports (``airportsdata``), the bundled World Port Index, type tables."""
