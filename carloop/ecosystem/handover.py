"""Handing cars from one bridge to another: what the giving bridge forgets, in what order.

A sharded bridge gives a partition up in this order: it forgets the partition's owners (their scenes,
waiting runs, devices, zones and positions) under the engine's lock, so a message still on its way is
ignored; it unsubscribes their topics; it writes what it has not saved yet (the last states, the
continuations of waiting runs, traces) to the database; and only then releases the partition. The
taking bridge loads the owners from the database as they were left — a car already inside its home zone
stays inside without a new arrival — restores the waiting runs, and subscribes, receiving each car's
retained state, so an arrival during the hand-over fires once, at the taking bridge.
"""

from __future__ import annotations

from carloop.ecosystem.engine import Engine


def owners_of(engine: Engine) -> set[int]:
    """Every owner the engine knows: of a device, a zone or a scene."""
    return (
        set(engine.entity_owner.values())
        | set(engine.owner_zones)
        | {s.owner_id for s in engine.scenes.values()}
    )


def forget_owners(engine: Engine, owners: set[int]) -> tuple[set[str], set[int]]:
    """Take owners out of the engine without ending their runs (the continuations already saved, or
    waiting in ``engine.pending`` to be, are the next bridge's to restore); (entity ids, scene ids)."""
    scenes = {scene_id for scene_id, scene in engine.scenes.items() if scene.owner_id in owners}
    for scene_id in scenes:
        scene = engine.scenes.pop(scene_id)
        for watch in scene.watches:
            engine._detach(watch)
        for run_id in scene.active:
            run = engine.runs.pop(run_id, None)
            for watch in run.wait_watches if run is not None else ():
                engine._detach(watch)
    entities = {entity for entity, owner in engine.entity_owner.items() if owner in owners}
    for entity in entities:
        engine.entity_owner.pop(entity)
        engine.states.pop(entity, None)
        engine.zones_of.pop(entity, None)
        engine.by_entity.pop(entity, None)
    for key in [k for k in engine.tracks if k[0] in entities]:
        del engine.tracks[key]
    for owner in owners:
        engine.owner_zones.pop(owner, None)
    return entities, scenes
