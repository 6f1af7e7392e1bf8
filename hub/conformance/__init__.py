"""The channel conformance kit: fixtures and contract tests every channel plugin passes."""
