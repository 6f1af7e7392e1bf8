"""Settings of the memory channel: the ``[plugins.memory]`` section."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.errors import ConfigError


class MemoryConfig(BaseModel):
    """What ``[plugins.memory]`` may say; anything else is a configuration error."""

    model_config = ConfigDict(extra="forbid")

    peer: str = "default"
    """The address the peer listens at (see ``client.listen``)."""
    retry_min: float = Field(0.1, gt=0)
    """First pause, in seconds, before trying a lost peer again; it doubles up to ``retry_max``."""
    retry_max: float = Field(5.0, gt=0)

    @classmethod
    def from_settings(cls, section: dict[str, Any]) -> MemoryConfig:
        """Validate the section; a mistake stops start-up with one line saying what to fix."""
        try:
            return cls(**section)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ConfigError(f"[plugins.memory] {where}: {first['msg']}") from err
