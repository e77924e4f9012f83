"""The scene language: scene definitions in Home Assistant's automation form (API shapes: ``api_schemas``;
the building blocks and triggers live in ``scene_triggers`` and are re-exported here).

A scene is Home Assistant automation data (``triggers`` / ``conditions`` / ``actions`` / ``mode``) with
carloop's own trigger platforms (``proximity``) and actions (``carloop.command``, ``carloop.notify``,
``carloop.send_destination``, ``carloop.run_scene``), plus two carloop keys: ``precision`` (how exactly
the scene may see locations) and ``debounce`` (seconds before the same trigger may fire again).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    model_serializer,
    model_validator,
)

from carloop.ecosystem.kinds import Precision
from carloop.ecosystem.scene_triggers import (
    Duration,
    EntityId,
    Trigger,
    ZoneId,
    _Strict,
    legacy_key,
)
from carloop.ecosystem.templates import check_syntax

# ---- conditions -----------------------------------------------------------------------------------

MAX_REPEAT = 100  # iterations of one repeat (count, or while/until before it gives up)


class AndCondition(_Strict):
    """Every condition holds."""

    condition: Literal["and"]
    conditions: list[Condition]


class OrCondition(_Strict):
    """At least one condition holds."""

    condition: Literal["or"]
    conditions: list[Condition]


class NotCondition(_Strict):
    """None of the conditions holds."""

    condition: Literal["not"]
    conditions: list[Condition]


class StateCondition(_Strict):
    """An entity's state (or attribute) is one of the given values."""

    condition: Literal["state"]
    entity_id: EntityId
    attribute: str = Field(default="state", max_length=40)
    state: Any


class NumericStateCondition(_Strict):
    """A numeric attribute is above and/or below a bound."""

    condition: Literal["numeric_state"]
    entity_id: EntityId
    attribute: str = Field(default="state", max_length=40)
    above: float | None = None
    below: float | None = None


class TimeCondition(_Strict):
    """Now is within a time window (may wrap midnight) and on one of the weekdays."""

    condition: Literal["time"]
    after: str | None = Field(default=None, pattern=r"^\d{1,2}:\d{2}(:\d{2})?$")
    before: str | None = Field(default=None, pattern=r"^\d{1,2}:\d{2}(:\d{2})?$")
    weekday: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] | None = None


class ZoneCondition(_Strict):
    """A vehicle or phone is in a zone."""

    condition: Literal["zone"]
    entity_id: EntityId
    zone: ZoneId


class TriggerCondition(_Strict):
    """The run was started by the trigger with this id."""

    condition: Literal["trigger"]
    id: str


class TemplateCondition(_Strict):
    """A sandboxed Jinja template renders true (``{{ trigger.to_state.battery < 20 }}``)."""

    condition: Literal["template"]
    value_template: Annotated[str, Field(min_length=1), AfterValidator(check_syntax)]


def _condition_kind(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("condition", ""))
    return str(getattr(value, "condition", ""))


Condition = Annotated[
    Annotated[AndCondition, Tag("and")]
    | Annotated[OrCondition, Tag("or")]
    | Annotated[NotCondition, Tag("not")]
    | Annotated[StateCondition, Tag("state")]
    | Annotated[NumericStateCondition, Tag("numeric_state")]
    | Annotated[TimeCondition, Tag("time")]
    | Annotated[ZoneCondition, Tag("zone")]
    | Annotated[TriggerCondition, Tag("trigger")]
    | Annotated[TemplateCondition, Tag("template")],
    Discriminator(_condition_kind),
]

# ---- actions --------------------------------------------------------------------------------------


class Target(_Strict):
    entity_id: EntityId


class CommandData(_Strict):
    command: str = Field(pattern=r"^[a-z_]{2,30}$")
    args: dict[str, Any] = Field(default_factory=dict)


class CommandAction(_Strict):
    """Send a command to a device (turn_on, set_temperature, lock ...)."""

    action: Literal["carloop.command"]
    target: Target
    data: CommandData
    alias: str | None = None


class NotifyData(_Strict):
    message: str = Field(min_length=1, max_length=300)
    title: str | None = Field(default=None, max_length=80)


class NotifyAction(_Strict):
    """Notify the owner's phone."""

    action: Literal["carloop.notify"]
    data: NotifyData
    alias: str | None = None


class DestinationData(_Strict):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str = Field(default="", max_length=80)


class DestinationAction(_Strict):
    """Send a navigation destination to the car."""

    action: Literal["carloop.send_destination"]
    target: Target
    data: DestinationData
    alias: str | None = None


class RunSceneData(_Strict):
    scene: str = Field(min_length=1, max_length=80)


class RunSceneAction(_Strict):
    """Start another of the owner's scenes (by name)."""

    action: Literal["carloop.run_scene"]
    data: RunSceneData
    alias: str | None = None


class DelayAction(_Strict):
    """Wait; the run is stored and resumes after a restart."""

    delay: Duration
    alias: str | None = None


class WaitAction(_Strict):
    """Wait until one of the triggers fires, or the timeout passes."""

    wait_for_trigger: list[Trigger] = Field(min_length=1)
    timeout: Duration | None = None
    continue_on_timeout: bool = True
    alias: str | None = None


class ChooseOption(_Strict):
    conditions: list[Condition] = Field(default_factory=list)
    sequence: list[Action]


class ChooseAction(_Strict):
    """Run the first option whose conditions hold, else the default."""

    choose: list[ChooseOption] = Field(min_length=1)
    default: list[Action] = Field(default_factory=list)
    alias: str | None = None


class IfAction(_Strict):
    """Run ``then`` when the conditions hold, else ``else``."""

    if_: list[Condition] = Field(alias="if", min_length=1)
    then: list[Action]
    else_: list[Action] = Field(default_factory=list, alias="else")
    alias: str | None = None


class RepeatData(_Strict):
    """``count`` times, or ``while`` the conditions hold (checked first), or ``until`` they hold
    (checked after each round); ``repeat.index`` counts from 1. ``done`` is the runner's own count."""

    count: int | None = Field(default=None, ge=0, le=MAX_REPEAT)
    while_: list[Condition] | None = Field(default=None, alias="while")
    until: list[Condition] | None = None
    sequence: list[Action] = Field(min_length=1)
    done: int = Field(default=0, ge=0, le=MAX_REPEAT)

    @model_serializer(mode="wrap")
    def _without_runner_state(self, handler: Any) -> Any:
        """``done`` is the runner's count: stored in a waiting run, never in the scene's YAML."""
        data = handler(self)
        if isinstance(data, dict) and not data.get("done"):
            data.pop("done", None)
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> RepeatData:
        kinds = [k for k in (self.count, self.while_, self.until) if k is not None]
        if len(kinds) != 1:
            raise ValueError("a repeat needs exactly one of count, while or until")
        return self


class RepeatAction(_Strict):
    """Run a sequence repeatedly."""

    repeat: RepeatData
    alias: str | None = None


class VariablesAction(_Strict):
    """Set run variables (values may be templates) for the actions after it."""

    variables: dict[str, Any] = Field(max_length=20)
    alias: str | None = None


class SequenceAction(_Strict):
    """A group of actions run in order."""

    sequence: list[Action] = Field(min_length=1)
    alias: str | None = None


class ParallelAction(_Strict):
    """Branches started together; the run goes on when every branch has finished. A branch is one
    action or a ``sequence``; branches may not wait (delay, wait_for_trigger) in this version."""

    parallel: list[Action] = Field(min_length=1, max_length=10)
    alias: str | None = None

    @model_validator(mode="after")
    def _no_waiting(self) -> ParallelAction:
        if any(_waits(a) for a in self.parallel):
            raise ValueError("parallel branches cannot use delay or wait_for_trigger")
        return self


class StopAction(_Strict):
    """End the run here (``error: true`` marks it failed)."""

    stop: str = Field(max_length=200)
    error: bool = False
    alias: str | None = None


class EventAction(_Strict):
    """Fire an event that the owner's ``event`` triggers hear (data values may be templates)."""

    event: str = Field(pattern=r"^[a-z0-9_.]{1,60}$")
    event_data: dict[str, Any] = Field(default_factory=dict, max_length=20)
    alias: str | None = None


def _waits(action: Any) -> bool:
    """Whether an action (or anything inside it) waits."""
    if isinstance(action, DelayAction | WaitAction):
        return True
    inner: list[Any] = []
    if isinstance(action, SequenceAction):
        inner = action.sequence
    elif isinstance(action, RepeatAction):
        inner = action.repeat.sequence
    elif isinstance(action, ParallelAction):
        inner = action.parallel
    elif isinstance(action, IfAction):
        inner = [*action.then, *action.else_]
    elif isinstance(action, ChooseAction):
        inner = [*action.default, *(a for o in action.choose for a in o.sequence)]
    return any(_waits(a) for a in inner)


ACTION_KEYS = (
    "delay",
    "wait_for_trigger",
    "choose",
    "if",
    "repeat",
    "variables",
    "sequence",
    "parallel",
    "stop",
    "event",
)
ACTION_CLASSES: dict[type, str] = {}  # filled below: model class -> discriminator tag


def _action_kind(value: Any) -> str:
    if isinstance(value, dict):
        value = _rename_service(value)
        if "action" in value:
            return str(value["action"])
        return next((k for k in ACTION_KEYS if k in value), "")
    tag = ACTION_CLASSES.get(type(value))
    return tag if tag is not None else str(getattr(value, "action", ""))


_rename_service = legacy_key("service", "action")


Action = Annotated[
    Annotated[CommandAction, Tag("carloop.command")]
    | Annotated[NotifyAction, Tag("carloop.notify")]
    | Annotated[DestinationAction, Tag("carloop.send_destination")]
    | Annotated[RunSceneAction, Tag("carloop.run_scene")]
    | Annotated[DelayAction, Tag("delay")]
    | Annotated[WaitAction, Tag("wait_for_trigger")]
    | Annotated[ChooseAction, Tag("choose")]
    | Annotated[IfAction, Tag("if")]
    | Annotated[RepeatAction, Tag("repeat")]
    | Annotated[VariablesAction, Tag("variables")]
    | Annotated[SequenceAction, Tag("sequence")]
    | Annotated[ParallelAction, Tag("parallel")]
    | Annotated[StopAction, Tag("stop")]
    | Annotated[EventAction, Tag("event")],
    Discriminator(_action_kind),
    BeforeValidator(_rename_service),
]
ACTION_CLASSES.update(
    {
        DelayAction: "delay",
        WaitAction: "wait_for_trigger",
        ChooseAction: "choose",
        IfAction: "if",
        RepeatAction: "repeat",
        VariablesAction: "variables",
        SequenceAction: "sequence",
        ParallelAction: "parallel",
        StopAction: "stop",
        EventAction: "event",
    }
)


class SceneDefinition(_Strict):
    """A whole scene, validated; ``model_dump(by_alias=True, exclude_none=True)`` is its stored form."""

    alias: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=500)
    mode: Literal["single", "restart", "queued", "parallel"] = "single"
    max: int = Field(default=10, ge=1, le=100)
    precision: Precision = Precision.ZONE
    debounce: Duration = 30.0
    triggers: list[Trigger] = Field(min_length=1, max_length=20)
    conditions: list[Condition] = Field(default_factory=list, max_length=20)
    actions: list[Action] = Field(min_length=1, max_length=50)

    @model_validator(mode="before")
    @classmethod
    def _home_assistant_keys(cls, data: Any) -> Any:
        """Accept HA's older singular keys (``trigger:``/``condition:``/``action:``) and ``id``."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        data.pop("id", None)
        for old, new in (("trigger", "triggers"), ("condition", "conditions"), ("action", "actions")):
            if old in data and new not in data:
                value = data.pop(old)
                data[new] = value if isinstance(value, list) else [value]
        return data


ActionList = TypeAdapter(list[Action])
TriggerList = TypeAdapter(list[Trigger])


def dump_scene(definition: SceneDefinition) -> dict[str, Any]:
    """The stored (and exported) form of a scene: aliases, no empty values."""
    return definition.model_dump(mode="json", by_alias=True, exclude_none=True)


for _model in (
    AndCondition,
    OrCondition,
    NotCondition,
    ChooseOption,
    ChooseAction,
    IfAction,
    RepeatData,
    RepeatAction,
    SequenceAction,
    ParallelAction,
    SceneDefinition,
):
    _model.model_rebuild()
