"""The scene language's building blocks and its triggers (Home Assistant's trigger platforms plus
carloop's ``proximity``); ``schemas`` re-exports all of it with the conditions, actions and scenes."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    model_validator,
)

ENTITY = r"^(vehicle|phone|climate|light|cover|purifier|water_heater|lock|garage)\.\d+$"
EntityId = Annotated[str, Field(pattern=ENTITY, max_length=40)]
ZoneId = Annotated[str, Field(pattern=r"^zone\.[a-z0-9_]{1,40}$")]
HHMM = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def _seconds(value: Any) -> float:
    """Home Assistant durations: seconds, ``"HH:MM:SS"`` or ``{hours:, minutes:, seconds:}``."""
    if isinstance(value, bool):
        raise ValueError("a duration is seconds, 'HH:MM:SS' or {hours, minutes, seconds}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = HHMM.match(value.strip())
        if not match:
            raise ValueError(f"not a duration: {value!r} (use 'HH:MM:SS')")
        h, m, s = match.groups()
        seconds = int(h) * 3600 + int(m) * 60 + int(s or 0)
    elif isinstance(value, dict):
        unknown = set(value) - {"days", "hours", "minutes", "seconds", "milliseconds"}
        if unknown:
            raise ValueError(f"unknown duration keys: {sorted(unknown)}")
        seconds = (
            float(value.get("days", 0)) * 86400
            + float(value.get("hours", 0)) * 3600
            + float(value.get("minutes", 0)) * 60
            + float(value.get("seconds", 0))
            + float(value.get("milliseconds", 0)) / 1000
        )
    else:
        raise ValueError("a duration is seconds, 'HH:MM:SS' or {hours, minutes, seconds}")
    if seconds < 0 or seconds > 7 * 86400:
        raise ValueError("a duration must be between 0 seconds and 7 days")
    return seconds


def format_duration(seconds: float) -> str:
    """Seconds as Home Assistant's ``HH:MM:SS``."""
    whole = round(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


Duration = Annotated[float, BeforeValidator(_seconds), PlainSerializer(format_duration, return_type=str)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


# ---- triggers -------------------------------------------------------------------------------------


class _Trigger(_Strict):
    id: str | None = Field(default=None, max_length=40)


class ZoneTrigger(_Trigger):
    """A vehicle or phone enters or leaves a zone."""

    trigger: Literal["zone"]
    entity_id: EntityId
    zone: ZoneId
    event: Literal["enter", "leave"] = "enter"
    for_: Duration | None = Field(default=None, alias="for")


class ProximityTrigger(_Trigger):
    """A vehicle or phone approaches (or leaves) a zone and is within a distance or an ETA of it."""

    trigger: Literal["proximity"]
    entity_id: EntityId
    zone: ZoneId
    direction: Literal["approaching", "leaving"] = "approaching"
    below_m: float | None = Field(default=None, gt=0, le=500_000)
    above_m: float | None = Field(default=None, gt=0, le=500_000)
    eta_below_s: float | None = Field(default=None, gt=0, le=86_400)

    @model_validator(mode="after")
    def _threshold(self) -> ProximityTrigger:
        if self.direction == "approaching" and self.below_m is None and self.eta_below_s is None:
            raise ValueError("an approaching proximity trigger needs below_m or eta_below_s")
        if self.direction == "leaving" and self.above_m is None:
            raise ValueError("a leaving proximity trigger needs above_m")
        return self


class StateTrigger(_Trigger):
    """An entity's state (or one attribute) changes, optionally from/to a value and held ``for``."""

    trigger: Literal["state"]
    entity_id: EntityId
    attribute: str = Field(default="state", max_length=40)
    from_: Any = Field(default=None, alias="from")
    to: Any = None
    for_: Duration | None = Field(default=None, alias="for")


class NumericStateTrigger(_Trigger):
    """A numeric attribute crosses into the range (above, below), optionally held ``for``."""

    trigger: Literal["numeric_state"]
    entity_id: EntityId
    attribute: str = Field(default="state", max_length=40)
    above: float | None = None
    below: float | None = None
    for_: Duration | None = Field(default=None, alias="for")

    @model_validator(mode="after")
    def _bound(self) -> NumericStateTrigger:
        if self.above is None and self.below is None:
            raise ValueError("numeric_state needs above or below")
        if self.above is not None and self.below is not None and self.above >= self.below:
            raise ValueError("numeric_state: above must be less than below")
        return self


class TimeTrigger(_Trigger):
    """A time of day in the owner's time zone."""

    trigger: Literal["time"]
    at: str = Field(pattern=r"^\d{1,2}:\d{2}(:\d{2})?$")


class TimePatternTrigger(_Trigger):
    """Every matching hour/minute/second (``"/5"`` means every fifth)."""

    trigger: Literal["time_pattern"]
    hours: str | int | None = None
    minutes: str | int | None = None
    seconds: str | int | None = None

    @model_validator(mode="after")
    def _pattern(self) -> TimePatternTrigger:
        for name, limit in (("hours", 23), ("minutes", 59), ("seconds", 59)):
            value = getattr(self, name)
            if value is None or value == "*":
                continue
            text = str(value)
            number = text[1:] if text.startswith("/") else text
            if not number.isdigit() or int(number) > limit or (text.startswith("/") and int(number) == 0):
                raise ValueError(f"time_pattern {name}: {value!r} is not a value or /interval")
        if self.hours is None and self.minutes is None and self.seconds is None:
            raise ValueError("time_pattern needs hours, minutes or seconds")
        return self


class MqttTrigger(_Trigger):
    """A message on an MQTT topic (wildcards allowed), optionally with an exact payload."""

    trigger: Literal["mqtt"]
    topic: str = Field(min_length=1, max_length=200)
    payload: str | None = None


DEVICE_TRIGGER_STATES = {
    "turned_on": "on",
    "turned_off": "off",
    "opened": "open",
    "closed": "closed",
    "locked": "locked",
    "unlocked": "unlocked",
}


class DeviceTrigger(_Trigger):
    """A device reports a change such as turned_on, opened or locked."""

    trigger: Literal["device"]
    device_id: EntityId
    type: Literal["turned_on", "turned_off", "opened", "closed", "locked", "unlocked"]


class EventTrigger(_Trigger):
    """An event fired by one of the owner's scenes (``event:`` action), optionally with matching data."""

    trigger: Literal["event"]
    event_type: str = Field(pattern=r"^[a-z0-9_.]{1,60}$")
    event_data: dict[str, Any] = Field(default_factory=dict, max_length=20)


def _signed_seconds(value: Any) -> float:
    """An offset such as ``"-00:30:00"``, ``"00:15"`` or ``-900`` as seconds (within a day)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        negative, seconds = value < 0, abs(float(value))
    else:
        text = str(value).strip()
        negative = text.startswith("-")
        seconds = _seconds(text.lstrip("+-"))
    if seconds > 86400:
        raise ValueError("an offset must be within a day")
    return -seconds if negative else seconds


class SunTrigger(_Trigger):
    """Sunrise or sunset at the owner's home, with an offset (``"-00:30:00"``: half an hour before)."""

    trigger: Literal["sun"]
    event: Literal["sunrise", "sunset"]
    offset: Annotated[float, BeforeValidator(_signed_seconds)] = 0.0


def _platform(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("trigger") or value.get("platform") or "")
    return str(getattr(value, "trigger", ""))


def legacy_key(old: str, new: str) -> Callable[[Any], Any]:
    """A validator that reads Home Assistant's older key name (``platform``, ``service``) as the new one."""

    def rename(value: Any) -> Any:
        if isinstance(value, dict) and old in value and new not in value:
            value = {(new if k == old else k): v for k, v in value.items()}
        return value

    return rename


_rename_platform = legacy_key("platform", "trigger")


Trigger = Annotated[
    Annotated[ZoneTrigger, Tag("zone")]
    | Annotated[ProximityTrigger, Tag("proximity")]
    | Annotated[StateTrigger, Tag("state")]
    | Annotated[NumericStateTrigger, Tag("numeric_state")]
    | Annotated[TimeTrigger, Tag("time")]
    | Annotated[TimePatternTrigger, Tag("time_pattern")]
    | Annotated[MqttTrigger, Tag("mqtt")]
    | Annotated[DeviceTrigger, Tag("device")]
    | Annotated[EventTrigger, Tag("event")]
    | Annotated[SunTrigger, Tag("sun")],
    Discriminator(_platform),
    BeforeValidator(_rename_platform),
]
