"""The plugin manager: one per hub, loaded from the ``contacthub.plugins`` entry points."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

import pluggy

from hub import hookspecs
from hub.errors import ConfigError

log = logging.getLogger("contacthub.plugins")
ENTRY_POINT_GROUP = "contacthub.plugins"


def create_plugin_manager(
    *, blocked: Iterable[str] = (), load_entry_points: bool = True, extra: Iterable[object] = ()
) -> pluggy.PluginManager:
    """A fresh manager with the hook specs, the installed plugins (minus ``blocked``) and
    any ``extra`` plugin objects (tests pass the ones they want)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in blocked:
        pm.set_blocked(name)
    if load_entry_points:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if pm.is_blocked(ep.name):
                continue
            if pm.get_plugin(ep.name) is not None:
                raise ConfigError(f"two plugins are registered under the name {ep.name!r}")
            pm.register(ep.load(), name=ep.name)
    for plugin in extra:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        if pm.get_plugin(name) is not None:
            raise ConfigError(f"two plugins are registered under the name {name!r}")
        pm.register(plugin, name=name)
    return pm


def plugin_name(pm: pluggy.PluginManager, plugin: object) -> str:
    return pm.get_name(plugin) or repr(plugin)


async def call_all(pm: pluggy.PluginManager, hook: str, **kwargs: Any) -> list[Any]:
    """Call every implementation, await what is awaitable; a failure is logged with the
    plugin's name and does not stop the others."""
    results = []
    for impl in reversed(getattr(pm.hook, hook).get_hookimpls()):
        try:
            results.append(await _invoke(impl, kwargs))
        except Exception:
            log.exception("plugin %r failed in %s", impl.plugin_name, hook)
    return results


async def first_result(pm: pluggy.PluginManager, hook: str, **kwargs: Any) -> Any:
    """Ask implementations one by one (last registered first); the first non-None wins.

    A failing implementation is logged with its plugin's name and skipped.
    """
    for impl in reversed(getattr(pm.hook, hook).get_hookimpls()):
        try:
            result = await _invoke(impl, kwargs)
        except Exception:
            log.exception("plugin %r failed in %s", impl.plugin_name, hook)
            continue
        if result is not None:
            return result
    return None


def call_register(pm: pluggy.PluginManager, hook: str) -> list[tuple[str, Any]]:
    """Run a ``hub_register_*`` hook; returns (plugin name, registered object) pairs.

    A failing plugin stops start-up: a half-registered plugin is worse than none.
    """
    collected: list[tuple[str, Any]] = []
    for impl in reversed(getattr(pm.hook, hook).get_hookimpls()):
        def register(*args: Any, _plugin: str = impl.plugin_name) -> None:
            collected.append((_plugin, args[0] if len(args) == 1 else args))
        try:
            impl.function(register=register)
        except Exception as err:
            raise ConfigError(f"plugin {impl.plugin_name!r} failed in {hook}: {err}") from err
    return collected


async def _invoke(impl: pluggy.HookImpl, kwargs: dict[str, Any]) -> Any:
    args = {name: kwargs[name] for name in impl.argnames}
    result = impl.function(**args)
    if inspect.isawaitable(result):
        result = await result
    return result


def describe(pm: pluggy.PluginManager) -> list[dict[str, Any]]:
    """Loaded plugins with the hooks each implements, for ``contacthub plugins``."""
    rows = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: str(item[0])):
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__module__
        rows.append({"name": name, "module": module, "hooks": hooks})
    return rows
