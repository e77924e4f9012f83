"""The script runner: a run's actions, one at a time, until it waits, stops or runs out.

After Home Assistant's script helper: ``execute`` takes a run (its remaining actions, variables and
trace) and a host (the engine: effects, other scenes, waiting, the trace store) and carries out each
action with one trace step. Groups (``sequence``, ``parallel``, ``choose``, ``if``, ``repeat``) put
their actions at the front of what remains, so a run that waits inside a repeat is stored and
resumed like any other (``repeat`` carries its own count). ``parallel`` branches may not wait in
this version, so they run one after the other at the same instant. Templates (notification text,
command arguments, ``variables``, ``event_data``) render in the sandbox of ``templates.py``; one
that fails ends the run with outcome ``error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from carloop.ecosystem.rules import World, check_all
from carloop.ecosystem.runs import Effect, LoadedScene, Run
from carloop.ecosystem.schemas import (
    MAX_REPEAT,
    Action,
    ActionList,
    ChooseAction,
    CommandAction,
    DelayAction,
    DestinationAction,
    EventAction,
    IfAction,
    NotifyAction,
    ParallelAction,
    RepeatAction,
    RunSceneAction,
    SequenceAction,
    StopAction,
    TriggerList,
    VariablesAction,
    WaitAction,
)
from carloop.ecosystem.templates import TemplateError, render_value
from carloop.ecosystem.traces import Trace

MAX_SCENE_DEPTH = 5  # carloop.run_scene and event nesting
HIDDEN = ("depth",)  # run variables templates do not see


class Host(Protocol):
    """What the runner needs from the engine."""

    effects: list[Effect]
    pending: dict[str, dict[str, Any] | None]

    def world(self, scene: LoadedScene, at: float, variables: Mapping[str, Any]) -> World: ...
    def effect(
        self, kind: str, run: Run, entity_id: str | None, command: str, args: dict[str, Any]
    ) -> None: ...
    def run_scene(self, run: Run, name: str, at: float) -> bool: ...
    def fire_event(
        self, owner_id: int, event_type: str, data: dict[str, Any], at: float, depth: int
    ) -> None: ...
    def wait(self, run: Run, action: WaitAction, at: float) -> None: ...
    def finish(self, run: Run, at: float, outcome: str) -> None: ...


def template_vars(run: Run) -> dict[str, Any]:
    """The run's variables as templates see them."""
    return {k: v for k, v in run.variables.items() if k not in HIDDEN}


def execute(host: Host, run: Run, at: float) -> None:
    """Carry out the run's actions from where it stands."""
    while run.remaining:
        action = run.remaining.pop(0)
        step: dict[str, Any] = {"at": at}
        run.trace.steps.append(step)
        try:
            outcome = _one(host, run, action, step, at)
        except TemplateError as err:
            step.update(error=str(err))
            host.finish(run, at, "error")
            return
        if outcome == "waiting":
            host.pending[run.run_id] = continuation(run)
            return
        if outcome is not None:
            host.finish(run, at, outcome)
            return
    host.finish(run, at, "finished")


def _world(host: Host, run: Run, at: float) -> World:
    return host.world(run.scene, at, template_vars(run))


def _one(host: Host, run: Run, action: Action, step: dict[str, Any], at: float) -> str | None:
    """One action; ``"waiting"``, an outcome that ends the run, or None to go on."""
    if isinstance(action, CommandAction):
        args = render_value(dict(action.data.args), _world(host, run, at).template_vars())
        step.update(step="command", entity_id=action.target.entity_id, command=action.data.command)
        host.effect("command", run, action.target.entity_id, action.data.command, args)
    elif isinstance(action, NotifyAction):
        text = render_value(
            {"message": action.data.message, "title": action.data.title},
            _world(host, run, at).template_vars(),
        )
        step.update(step="notify", message=text["message"])
        host.effect("notify", run, None, "notify", text)
    elif isinstance(action, DestinationAction):
        step.update(step="send_destination", entity_id=action.target.entity_id, name=action.data.name)
        host.effect("destination", run, action.target.entity_id, "navigate", action.data.model_dump())
    elif isinstance(action, RunSceneAction):
        found = host.run_scene(run, action.data.scene, at)
        step.update(step="run_scene", scene=action.data.scene, found=found)
    elif isinstance(action, DelayAction):
        run.resume_at = at + action.delay
        step.update(step="delay", seconds=action.delay, until=run.resume_at)
        return "waiting"
    elif isinstance(action, WaitAction):
        step.update(step="wait_for_trigger", timeout=action.timeout)
        host.wait(run, action, at)
        return "waiting"
    elif isinstance(action, ChooseAction):
        world = _world(host, run, at)
        chosen = next((i for i, o in enumerate(action.choose) if check_all(o.conditions, world)[0]), None)
        step.update(step="choose", chosen="default" if chosen is None else chosen)
        run.remaining[0:0] = action.default if chosen is None else action.choose[chosen].sequence
    elif isinstance(action, IfAction):
        ok = check_all(action.if_, _world(host, run, at))[0]
        step.update(step="if", result=ok)
        run.remaining[0:0] = action.then if ok else action.else_
    elif isinstance(action, RepeatAction):
        _repeat(host, run, action, step, at)
    elif isinstance(action, VariablesAction):
        values = render_value(dict(action.variables), _world(host, run, at).template_vars())
        run.variables.update({k: v for k, v in values.items() if k not in (*HIDDEN, "trigger")})
        step.update(step="variables", names=sorted(values))
    elif isinstance(action, SequenceAction):
        step.update(step="sequence", actions=len(action.sequence))
        run.remaining[0:0] = action.sequence
    elif isinstance(action, ParallelAction):
        step.update(step="parallel", branches=len(action.parallel))
        run.remaining[0:0] = action.parallel  # branches cannot wait: one after the other, same instant
    elif isinstance(action, StopAction):
        step.update(step="stop", reason=action.stop, error=action.error)
        return "error" if action.error else "stopped"
    elif isinstance(action, EventAction):
        data = render_value(dict(action.event_data), _world(host, run, at).template_vars())
        depth = int(run.variables.get("depth", 0)) + 1
        step.update(step="event", event=action.event, fired=depth <= MAX_SCENE_DEPTH)
        if depth <= MAX_SCENE_DEPTH:
            host.fire_event(run.scene.owner_id, action.event, data, at, depth)
    else:  # pragma: no cover - the schema admits no other action
        raise TypeError(f"unknown action {action!r}")
    return None


def _repeat(host: Host, run: Run, action: RepeatAction, step: dict[str, Any], at: float) -> None:
    """One round of a repeat: its sequence, then the repeat again with its count moved on."""
    data = action.repeat
    index = data.done + 1
    if data.count is not None:
        again = data.done < data.count
    elif data.while_ is not None:
        run.variables["repeat"] = {"index": index, "first": index == 1}  # the round about to run
        again = data.done < MAX_REPEAT and check_all(data.while_, _world(host, run, at))[0]
    else:
        assert data.until is not None  # the round just run decides
        finished = data.done > 0 and check_all(data.until, _world(host, run, at))[0]
        again = not finished and data.done < MAX_REPEAT
    run.variables["repeat"] = {"index": index, "first": index == 1}
    step.update(step="repeat", index=index, again=again)
    if again:
        following = RepeatAction(repeat=data.model_copy(update={"done": index}), alias=action.alias)
        run.remaining[0:0] = [*data.sequence, following]
    else:
        run.variables.pop("repeat", None)


def continuation(run: Run) -> dict[str, Any]:
    """What to store of a waiting run so it resumes after a restart (JSON)."""
    return {
        "scene_id": run.scene.id,
        "run_id": run.run_id,
        "remaining": ActionList.dump_python(run.remaining, mode="json", by_alias=True, exclude_none=True),
        "variables": run.variables,
        "resume_at": run.resume_at,
        "waiting": None
        if run.waiting is None
        else {
            "triggers": TriggerList.dump_python(
                run.waiting.wait_for_trigger, mode="json", by_alias=True, exclude_none=True
            ),
            "continue_on_timeout": run.waiting.continue_on_timeout,
        },
        "trace": {"started_at": run.trace.started_at, "trigger": run.trace.trigger, "steps": run.trace.steps},
        "cause": dict(run.cause),
    }


def restored(scene: LoadedScene, saved: Mapping[str, Any], at: float | None) -> tuple[Run, WaitAction | None]:
    """A stored run taken back (its trace notes the restart) and what it was waiting for, if anything."""
    kept = saved["trace"]
    trace = Trace(scene.id, saved["run_id"], kept["started_at"], kept["trigger"], list(kept["steps"]))
    trace.steps.append({"at": at, "step": "restored"})
    run = Run(
        scene,
        saved["run_id"],
        ActionList.validate_python(saved["remaining"]),
        dict(saved["variables"]),
        trace,
        dict(saved.get("cause") or {}),
        resume_at=saved.get("resume_at"),
    )
    waiting = saved.get("waiting")
    if not waiting:
        return run, None
    action = WaitAction(
        wait_for_trigger=TriggerList.validate_python(waiting["triggers"]),
        continue_on_timeout=waiting["continue_on_timeout"],
    )
    return run, action
