"""Pytest fixtures of the channel conformance kit (loaded as the ``contacthub_conformance`` plugin)."""
