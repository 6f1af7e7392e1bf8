"""The hub will not drive a switch that anyone could drive: FreeSWITCH's default Event Socket
password and a non-loopback Event Socket each need a setting that says they are meant."""

from __future__ import annotations

import pytest

from hub.errors import ConfigError
from plugins.voice.config import VoiceConfig


def test_without_a_password_no_switch_is_configured() -> None:
    assert not VoiceConfig.from_settings({}).configured


def test_the_default_password_stops_start_up_with_what_to_fix() -> None:
    with pytest.raises(ConfigError) as err:
        VoiceConfig.from_settings({"esl_password": "ClueCon"})
    assert str(err.value).startswith("[plugins.voice] esl_password is FreeSWITCH's default 'ClueCon'")
    assert "event_socket.conf.xml" in str(err.value)


def test_the_default_password_is_accepted_when_a_lab_says_so() -> None:
    config = VoiceConfig.from_settings({"esl_password": "ClueCon", "allow_default_password": True})
    assert config.configured


def test_a_remote_switch_needs_an_explicit_setting() -> None:
    with pytest.raises(ConfigError, match=r"esl_host '10\.0\.0\.5' is not loopback"):
        VoiceConfig.from_settings({"esl_host": "10.0.0.5", "esl_password": "s3cret"})
    config = VoiceConfig.from_settings({"esl_host": "10.0.0.5", "esl_password": "s3cret",
                                        "allow_remote_esl": True})
    assert config.esl_host == "10.0.0.5"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_switches_need_only_a_real_password(host: str) -> None:
    assert VoiceConfig.from_settings({"esl_host": host, "esl_password": "s3cret"}).esl_host == host


def test_listening_for_call_control_off_loopback_needs_the_same_setting() -> None:
    with pytest.raises(ConfigError, match=r"outbound_host '0\.0\.0\.0' is not loopback"):
        VoiceConfig.from_settings({"esl_password": "s3cret", "outbound_host": "0.0.0.0"})


def test_the_password_never_shows_in_the_settings_it_is_part_of() -> None:
    config = VoiceConfig.from_settings({"esl_password": "s3cret"})
    assert "s3cret" not in repr(config) and "s3cret" not in str(config.model_dump())
