"""The ecosystem's vocabularies (device kinds, pairing states, location precision), standard library only.

Tables (``models.py``), shapes (``schemas.py``), the pure rules and the scene engine all use them; they
live here so that none of the pure modules has to import the tables.
"""

from __future__ import annotations

from enum import StrEnum


class DeviceKind(StrEnum):
    """What a device is; the first part of its entity id (``vehicle.7``)."""

    VEHICLE = "vehicle"  # the owner's car, linked when it is delivered
    PHONE = "phone"  # the owner's phone running the app
    CLIMATE = "climate"  # an air conditioner
    LIGHT = "light"  # a light or a group of lights
    COVER = "cover"  # curtains or blinds
    PURIFIER = "purifier"  # an air purifier
    WATER_HEATER = "water_heater"  # a water heater
    LOCK = "lock"  # a door lock
    GARAGE = "garage"  # a garage door


class DeviceStatus(StrEnum):
    """Where a device is in its pairing life."""

    PENDING = "pending"  # created, waiting for the device to present its one-time code
    PAIRED = "paired"  # paired: holds credentials and takes part in scenes
    REVOKED = "revoked"  # unpaired: credentials and location grants are gone


class Precision(StrEnum):
    """How precisely a scene may see a location."""

    ZONE = "zone"  # only whether the device is in one of the owner's zones
    KM = "km"  # coordinates rounded to about one kilometre
    EXACT = "exact"  # coordinates as the device reports them
