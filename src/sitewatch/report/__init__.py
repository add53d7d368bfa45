"""Reports: one self-contained offline HTML file per site (and a PDF through headless Chromium)."""
