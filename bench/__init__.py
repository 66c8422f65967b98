"""Benchmarks of coupontools_async (not tests): ``python -m bench.run`` writes bench/RESULTS.md.

See bench/README.md for what each part measures and how to read the figures.
"""
