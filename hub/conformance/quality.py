"""The machine-checkable part of the channel quality scale (docs/plugins/quality.md).

A plugin states its level in its README (``**Quality level:** silver``); ``check`` reads the
plugin's folder, its tests and the benchmarks and lists what the stated level needs and is
missing. What no machine can judge (are secrets really redacted, are the failure modes
described well) stays with review.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

LEVELS = ("bronze", "silver", "gold")
LAYOUT = ("__init__.py", "channel.py", "config.py", "README.md")
# Contracts a peer may physically be unable to honour (a browser tab keeps no store and
# has no link to watch); switching off any other contract caps the plugin at bronze.
PHYSICAL_SKIPS = frozenset({"supports_offline_inbound", "health_follows_peer"})
# A channel without text (calls) switches the text contracts off; it is checked instead by the
# live-contact contracts, which run when its test's peer places live contacts. Without them the
# text contracts are off with nothing in their place, which caps it at bronze too.
NO_TEXT = "carries_text"
LIVE_PEER_METHOD = "start_live_contact"
LEVEL_LINE = re.compile(r"\*\*Quality level:\*\*\s*(bronze|silver|gold)", re.IGNORECASE)
FAILURE_HEADINGS = re.compile(r"^##+ .*(bad input|failure|limits)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Report:
    """A plugin's stated level and what that level needs that is missing."""

    plugin: str
    stated: str
    missing: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return bool(self.stated) and not self.missing


def check(plugin_dir: Path, tests_dir: Path, bench_dir: Path) -> Report:
    """Check ``plugin_dir`` against the level its README states."""
    name = plugin_dir.name
    readme = plugin_dir / "README.md"
    text = readme.read_text() if readme.exists() else ""
    found = LEVEL_LINE.search(text)
    stated = found.group(1).lower() if found else ""
    missing = [f"layout: no {f}" for f in LAYOUT if not (plugin_dir / f).exists()]
    if not stated:
        missing.append("README: no '**Quality level:** bronze|silver|gold' line")
    skips = _contract_skips(tests_dir)
    if skips is None:
        missing.append(f"tests: no ChannelContract subclass under {tests_dir}")
    elif NO_TEXT in skips and "supports_live_contact" not in skips and _places_live_contacts(tests_dir):
        skips.discard(NO_TEXT)  # the live-contact contracts run in place of the text ones
    if stated in ("silver", "gold") and skips:
        missing += [f"silver: contract switched off: {s}" + (
                        " (and no live-contact peer in its place)" if s == NO_TEXT else "")
                    for s in sorted(skips - PHYSICAL_SKIPS)]
    if stated == "gold":
        # bench/<name>.py, or bench/<name>_<what>.py where the plain name would shadow a
        # standard library module (email.py would hide ``email`` from every benchmark).
        if not any(p.stem == name or p.stem.startswith(f"{name}_") or f"/channels/{name}/" in p.read_text()
                   for p in bench_dir.glob("*.py")):
            missing.append(f"gold: no benchmark under {bench_dir} names the {name!r} channel")
        if not FAILURE_HEADINGS.search(text):
            missing.append("gold: README has no section on failure modes or bad input")
    return Report(name, stated, tuple(missing))


def _contract_skips(tests_dir: Path) -> set[str] | None:
    """Contract attributes set to False in the plugin's ChannelContract subclasses; None
    when no test module subclasses ChannelContract."""
    skips: set[str] | None = None
    for module in sorted(tests_dir.glob("test_*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ClassDef) and any(_named(b, "ChannelContract") for b in node.bases):
                skips = (skips or set()) | _false_attributes(node)
    return skips


def _places_live_contacts(tests_dir: Path) -> bool:
    """Whether a test module gives the kit a peer that places live contacts (a ``LivePeerDriver``
    with ``start_live_contact``)."""
    return any(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == LIVE_PEER_METHOD
               for module in sorted(tests_dir.glob("test_*.py"))
               for node in ast.walk(ast.parse(module.read_text())))


def _named(base: ast.expr, name: str) -> bool:
    return (isinstance(base, ast.Name) and base.id == name) or \
        (isinstance(base, ast.Attribute) and base.attr == name)


def _false_attributes(cls: ast.ClassDef) -> set[str]:
    found = set()
    for stmt in cls.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant) \
                and stmt.value.value is False:
            found |= {t.id for t in stmt.targets if isinstance(t, ast.Name) and t.id.startswith(
                ("supports_", "health_", "carries_"))}
    return found
