"""The pager, re-exported from the kernel (where generated ``iter`` methods find it)."""

from ._kernel._pager import AsyncPager, Page, items_at

__all__ = ["AsyncPager", "Page", "items_at"]
