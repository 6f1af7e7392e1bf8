"""Every hook is documented and tested; every facade member is documented.

Adding a hook to hub.hookspecs without a ``## <hook>`` section in docs/plugins/hooks.md and a
test in tests/core/test_hooks.py fails here.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from hub import hookspecs
from hub.facade import Hub

ROOT = Path(__file__).resolve().parents[2]
HOOKS_DOC = ROOT / "docs" / "plugins" / "hooks.md"
FACADE_DOC = ROOT / "docs" / "plugins" / "facade.md"
HOOK_TESTS = Path(__file__).with_name("test_hooks.py")

HOOKS = sorted(name for name, fn in vars(hookspecs).items()
               if callable(fn) and hasattr(fn, f"{hookspecs.PROJECT}_spec"))
FACADE = sorted([*(name for name, _ in inspect.getmembers(Hub) if not name.startswith("_")), "scope", "log"])


def test_hookspecs_are_found() -> None:
    assert "hub_register_channels" in HOOKS and len(HOOKS) >= 7


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docs_section(hook: str) -> None:
    assert re.search(rf"^## {hook}$", HOOKS_DOC.read_text(), re.MULTILINE), (
        f"docs/plugins/hooks.md has no '## {hook}' section"
    )


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook: str) -> None:
    assert hook in HOOK_TESTS.read_text(), f"tests/core/test_hooks.py never mentions {hook}"


def test_docs_describe_no_missing_hook() -> None:
    documented = re.findall(r"^## (hub_\w+)$", HOOKS_DOC.read_text(), re.MULTILINE)
    assert sorted(documented) == HOOKS


@pytest.mark.parametrize("member", FACADE)
def test_facade_member_is_documented(member: str) -> None:
    assert re.search(rf"^### `{member}\b", FACADE_DOC.read_text(), re.MULTILINE), (
        f"docs/plugins/facade.md has no '### `{member}...`' entry"
    )
