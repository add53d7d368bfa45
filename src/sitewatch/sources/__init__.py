"""Format readers: files in, Arrow batches out. One sub-package per kind of data."""
