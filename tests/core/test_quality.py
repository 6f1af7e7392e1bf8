"""The channel quality scale: what a machine can check of the level each plugin states."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.conformance.quality import check

ROOT = Path(__file__).resolve().parents[2]
BUILT_IN = sorted(p for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists())


@pytest.mark.parametrize("plugin", BUILT_IN, ids=lambda p: p.name)
def test_every_built_in_plugin_reaches_the_level_it_states(plugin: Path) -> None:
    report = check(plugin, ROOT / "tests" / "plugins" / plugin.name, ROOT / "bench")

    assert report.stated, f"{plugin.name}: its README states no quality level"
    assert report.missing == ()


def make_plugin(tmp_path: Path, level: str, contract_body: str = "pass") -> tuple[Path, Path, Path]:
    plugin, tests, bench = tmp_path / "fax", tmp_path / "tests", tmp_path / "bench"
    for folder in (plugin, tests, bench):
        folder.mkdir()
    for name in ("__init__.py", "channel.py", "config.py"):
        (plugin / name).write_text("")
    (plugin / "README.md").write_text(f"# Fax\n\n**Quality level:** {level}\n\n## Bad input\n")
    (tests / "test_contract.py").write_text(
        "from hub.conformance import ChannelContract\n\n"
        f"class TestFax(ChannelContract):\n    {contract_body}\n")
    return plugin, tests, bench


def test_a_silver_plugin_may_not_switch_off_the_outage_contract(tmp_path: Path) -> None:
    report = check(*make_plugin(tmp_path, "silver", "supports_outage = False"))

    assert report.missing == ("silver: contract switched off: supports_outage",)


def test_a_contract_a_peer_cannot_physically_honour_may_be_off_at_silver(tmp_path: Path) -> None:
    assert check(*make_plugin(tmp_path, "silver", "supports_offline_inbound = False")).ok


def test_gold_needs_a_benchmark_of_the_channel(tmp_path: Path) -> None:
    plugin, tests, bench = make_plugin(tmp_path, "gold")
    assert check(plugin, tests, bench).missing == ("gold: no benchmark under "
                                                   f"{bench} names the 'fax' channel",)

    (bench / "fax.py").write_text("print('figures')\n")
    assert check(plugin, tests, bench).ok


def test_no_contract_tests_or_no_stated_level_is_reported(tmp_path: Path) -> None:
    plugin, tests, bench = make_plugin(tmp_path, "bronze")
    (tests / "test_contract.py").unlink()
    (plugin / "README.md").write_text("# Fax\n")

    assert set(check(plugin, tests, bench).missing) == {
        "README: no '**Quality level:** bronze|silver|gold' line",
        f"tests: no ChannelContract subclass under {tests}",
    }
