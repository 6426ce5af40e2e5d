"""Helpers used by several transformer folders; no transformer lives here."""
