"""Async client for the Coupontools API."""
