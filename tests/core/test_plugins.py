"""The plugin manager: entry points, blocked plugins, duplicate names, describe()."""

from __future__ import annotations

from typing import Any

import pytest

import hub.plugins
from hub.conformance import reference
from hub.core import create_hub
from hub.errors import ConfigError
from hub.hookspecs import hookimpl
from hub.plugins import create_plugin_manager, describe


class FakeEntryPoint:
    def __init__(self, name: str, plugin: object) -> None:
        self.name = name
        self.plugin = plugin
        self.loaded = False

    def load(self) -> object:
        self.loaded = True
        return self.plugin


class Observer:
    @hookimpl
    def hub_on_ticket(self, event: Any) -> None:
        pass


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeEntryPoint]:
    """Pretend two plugins are installed under the ``contacthub.plugins`` group."""
    points = {
        "memory": FakeEntryPoint("memory", reference),
        "observer": FakeEntryPoint("observer", Observer()),
    }

    def entry_points(group: str) -> list[FakeEntryPoint]:
        assert group == "contacthub.plugins"
        return list(points.values())

    monkeypatch.setattr(hub.plugins, "entry_points", entry_points)
    return points


def test_entry_points_are_loaded_by_name(installed: dict[str, FakeEntryPoint]) -> None:
    pm = create_plugin_manager()
    assert pm.get_plugin("memory") is reference and pm.get_plugin("observer") is installed["observer"].plugin


def test_blocked_plugin_is_never_imported(installed: dict[str, FakeEntryPoint], hub_settings: Any) -> None:
    core = create_hub(hub_settings(blocked_plugins=["memory"]))
    assert core.pm.get_plugin("memory") is None and not installed["memory"].loaded
    assert core.channels == {}
    assert core.pm.get_plugin("observer") is not None


def test_blocked_extra_plugin_is_not_registered(hub_settings: Any) -> None:
    core = create_hub(hub_settings(blocked_plugins=[reference.__name__]), plugins=[reference],
                      load_entry_points=False)
    assert core.channels == {}


def test_same_plugin_name_twice_stops_start_up(installed: dict[str, FakeEntryPoint]) -> None:
    with pytest.raises(ConfigError, match="two plugins are registered under the name 'Observer'"):
        create_plugin_manager(load_entry_points=False, extra=[Observer(), Observer()])


def test_describe_lists_plugins_with_their_hooks(installed: dict[str, FakeEntryPoint]) -> None:
    rows = describe(create_plugin_manager(extra=[Observer()]))
    assert rows == [
        {"name": "Observer", "module": __name__, "hooks": ["hub_on_ticket"]},
        {"name": "memory", "module": "hub.conformance.reference", "hooks": ["hub_register_channels"]},
        {"name": "observer", "module": __name__, "hooks": ["hub_on_ticket"]},
    ]
