"""Benchmarks: each bench_*.py has main() printing our rate, the peer's, and the ratio."""
