"""Code generator: spec/coupontools.yaml → coupontools_async/_generated/ (see README)."""
