"""Turning a catalog version file's tables into a checked, frozen ``Catalog``.

``compile_catalog`` checks the raw tables once (unknown keys, dangling codes, money, defaults,
rules that cannot be met on a trim) and precomputes what pricing needs. A broken data file is a
programming error: it raises ``ValueError`` naming the place.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from carloop.catalog.compiled import SINGLE_CHOICE, CarModel, Catalog, Edition, Group, Incentive, Option, Trim
from carloop.catalog.schemas import DepositPolicy, GroupMode, PriceLine
from carloop.money import yuan


def version_key(version: str) -> tuple[int, ...]:
    """Sort key of a version string such as ``2025.07`` (numeric parts compared as numbers)."""
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        raise ValueError(f"catalog version {version!r} must be dot-separated numbers") from None


def compile_catalog(raw: Mapping[str, Any]) -> Catalog:
    """Check a version file's tables and turn them into a frozen, indexed ``Catalog``."""
    _keys(raw, "catalog", required={"version", "published", "models"})
    version = _str(raw, "version", "catalog")
    version_key(version)
    published = _moment(raw, "published", "catalog")
    models_raw = raw["models"]
    if not isinstance(models_raw, Mapping) or not models_raw:
        raise ValueError("catalog: `models` must be a non-empty table")
    models = {code: _model(code, table, f"model {code!r}") for code, table in models_raw.items()}
    editions: dict[str, Edition] = {}
    for model in models.values():
        for trim in model.trims.values():
            if trim.edition is not None:
                if trim.edition.code in editions:
                    raise ValueError(f"catalog: edition {trim.edition.code!r} appears twice")
                editions[trim.edition.code] = trim.edition
    return Catalog(version, published, MappingProxyType(models), MappingProxyType(editions))


def _model(code: str, raw: Any, where: str) -> CarModel:
    _keys(
        raw,
        where,
        required={"name_en", "name_zh", "deposit", "trims", "groups", "options"},
        optional={"body_en", "body_zh", "tagline_en", "tagline_zh", "launched", "incentives"},
    )
    deposit_raw = raw["deposit"]
    groups = {g.code: g for g in (_group(t, f"{where} group") for t in _list(raw, "groups", where))}
    options: dict[str, Option] = {}
    for table in _list(raw, "options", where):
        option = _option(table, groups, f"{where} option")
        if option.code in options:
            raise ValueError(f"{where}: option {option.code!r} appears twice")
        options[option.code] = option
    options = _link_rules(options, where)
    trim_codes = {t.get("code") for t in _list(raw, "trims", where) if isinstance(t, Mapping)}
    for option in options.values():
        unknown = (option.trims or frozenset()) - trim_codes
        if unknown:
            raise ValueError(f"{where} option {option.code!r}: unknown trims {sorted(unknown)}")
    members: dict[str, list[str]] = {g: [] for g in groups}
    for option in options.values():
        members[option.group].append(option.code)
    groups = {
        code: Group(g.code, g.mode, g.name_en, g.name_zh, g.default, tuple(members[code]))
        for code, g in groups.items()
    }
    for group in groups.values():
        if group.default is not None and group.default not in group.options:
            raise ValueError(f"{where} group {group.code!r}: default {group.default!r} is not in the group")
    trims: dict[str, Trim] = {}
    for table in _list(raw, "trims", where):
        trim = _trim(table, deposit_raw, groups, options, f"{where} trim")
        if trim.code in trims:
            raise ValueError(f"{where}: trim {trim.code!r} appears twice")
        trims[trim.code] = trim
    incentives_raw = raw.get("incentives", [])
    if not isinstance(incentives_raw, list):
        raise ValueError(f"{where}: `incentives` must be a list")
    incentives = tuple(_incentive(t, trims, options, f"{where} incentive") for t in incentives_raw)
    order = [c for g in groups.values() for c in g.options]
    return CarModel(
        code=code,
        name_en=_str(raw, "name_en", where),
        name_zh=_str(raw, "name_zh", where),
        body_en=str(raw.get("body_en", "")),
        body_zh=str(raw.get("body_zh", "")),
        tagline_en=str(raw.get("tagline_en", "")),
        tagline_zh=str(raw.get("tagline_zh", "")),
        launched=_date(raw, "launched", where),
        deposit=_deposit(deposit_raw, f"{where} deposit"),
        trims=MappingProxyType(trims),
        groups=MappingProxyType(groups),
        options=MappingProxyType(options),
        incentives=incentives,
        single_groups=tuple(g for g in groups.values() if g.mode in SINGLE_CHOICE),
        position=MappingProxyType({c: i for i, c in enumerate(order)}),
    )


def _group(raw: Any, where: str) -> Group:
    _keys(raw, where, required={"code", "mode", "name_en", "name_zh"}, optional={"default"})
    code = _str(raw, "code", where)
    try:
        mode = GroupMode(raw["mode"])
    except ValueError:
        raise ValueError(f"{where} {code!r}: mode must be one of {[m.value for m in GroupMode]}") from None
    default = raw.get("default")
    if default is not None and mode is GroupMode.ANY:
        raise ValueError(f"{where} {code!r}: an 'any' group has no default (use a trim's `included`)")
    return Group(code, mode, _str(raw, "name_en", where), _str(raw, "name_zh", where), default, ())


def _option(raw: Any, groups: Mapping[str, Group], where: str) -> Option:
    _keys(
        raw,
        where,
        required={"code", "group", "name_en", "name_zh", "price_yuan"},
        optional={"trims", "requires", "excludes"},
    )
    code = _str(raw, "code", where)
    if raw["group"] not in groups:
        raise ValueError(f"{where} {code!r}: unknown group {raw['group']!r}")
    trims = frozenset(_codes(raw, "trims", where)) if "trims" in raw else None
    return Option(
        code=code,
        group=raw["group"],
        name_en=_str(raw, "name_en", where),
        name_zh=_str(raw, "name_zh", where),
        price_fen=_money(raw, "price_yuan", f"{where} {code!r}"),
        trims=trims,
        requires=frozenset(_codes(raw, "requires", where)),
        excludes=frozenset(_codes(raw, "excludes", where)),
    )


def _link_rules(options: dict[str, Option], where: str) -> dict[str, Option]:
    """Check that rules name real options and make ``excludes`` symmetric."""
    excluded_by: dict[str, set[str]] = {code: set() for code in options}
    for option in options.values():
        for other in option.requires | option.excludes:
            if other not in options:
                raise ValueError(f"{where} option {option.code!r}: unknown option {other!r} in its rules")
        if option.code in option.requires | option.excludes:
            raise ValueError(f"{where} option {option.code!r}: names itself in its rules")
        for other in option.excludes:
            excluded_by[other].add(option.code)
    linked = {}
    for code, option in options.items():
        excludes = option.excludes | excluded_by[code]
        linked[code] = Option(
            option.code,
            option.group,
            option.name_en,
            option.name_zh,
            option.price_fen,
            option.trims,
            option.requires,
            frozenset(excludes),
        )
    return linked


def _trim(
    raw: Any, model_deposit: Any, groups: Mapping[str, Group], options: Mapping[str, Option], where: str
) -> Trim:
    _keys(
        raw,
        where,
        required={"code", "name_en", "name_zh", "price_yuan"},
        optional={"included", "defaults", "deposit", "edition", "highlights_en", "highlights_zh"},
    )
    code = _str(raw, "code", where)
    where = f"{where} {code!r}"
    available = frozenset(c for c, o in options.items() if o.trims is None or code in o.trims)
    included = frozenset(_codes(raw, "included", where))
    if included - available:
        raise ValueError(f"{where}: includes options it does not offer: {sorted(included - available)}")
    for option_code in available:
        requires = options[option_code].requires
        if requires and not requires & available:
            raise ValueError(f"{where}: offers {option_code!r} but none of the options it requires")
    defaults = _fills(raw.get("defaults", {}), groups, options, available, included, where)
    deposit_raw = {**_table(model_deposit, where), **_table(raw.get("deposit", {}), where)}
    edition_raw = raw.get("edition")
    edition = None
    if edition_raw is not None:
        _keys(edition_raw, f"{where} edition", required={"code", "units"}, optional={"numbered"})
        units = edition_raw["units"]
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"{where} edition: units must be a positive integer")
        edition = Edition(_str(edition_raw, "code", where), units, bool(edition_raw.get("numbered", True)))
    name_en, name_zh = _str(raw, "name_en", where), _str(raw, "name_zh", where)
    price_fen = _money(raw, "price_yuan", where)
    option_lines = {
        c: PriceLine(
            kind="option",
            code=c,
            label_en=options[c].name_en,
            label_zh=options[c].name_zh,
            amount_fen=0 if c in included else options[c].price_fen,
            included=c in included,
        )
        for c in options
        if c in available
    }
    return Trim(
        code=code,
        name_en=name_en,
        name_zh=name_zh,
        price_fen=price_fen,
        included=included,
        defaults=MappingProxyType(defaults),
        deposit=_deposit(deposit_raw, f"{where} deposit"),
        edition=edition,
        highlights_en=tuple(_codes(raw, "highlights_en", where)),
        highlights_zh=tuple(_codes(raw, "highlights_zh", where)),
        available=available,
        always=frozenset(c for c in included if groups[options[c].group].mode is GroupMode.ANY),
        base_line=PriceLine(kind="base", code=code, label_en=name_en, label_zh=name_zh, amount_fen=price_fen),
        option_lines=MappingProxyType(option_lines),
    )


def _fills(
    overrides: Any,
    groups: Mapping[str, Group],
    options: Mapping[str, Option],
    available: frozenset[str],
    included: frozenset[str],
    where: str,
) -> dict[str, str]:
    """Per single-choice group, the option a trim gets when the buyer chose none there."""
    overrides = _table(overrides, where)
    for group_code, option_code in overrides.items():
        group = groups.get(group_code)
        if group is None or group.mode not in SINGLE_CHOICE:
            raise ValueError(f"{where}: defaults name {group_code!r}, which is not a one-choice group")
        if option_code not in group.options or option_code not in available:
            raise ValueError(f"{where}: default {option_code!r} is not in {group_code!r} on this trim")
    fills: dict[str, str] = {}
    for group in groups.values():
        if group.mode not in SINGLE_CHOICE:
            continue
        inside = [c for c in group.options if c in included]
        if len(inside) > 1:
            raise ValueError(f"{where}: includes {inside}, all in one-choice group {group.code!r}")
        if group.code in overrides:
            fills[group.code] = overrides[group.code]
        elif inside:
            fills[group.code] = inside[0]
        elif group.default is not None:
            if group.default not in available:
                raise ValueError(f"{where}: {group.code!r} default {group.default!r} is not offered here")
            fills[group.code] = group.default
    return fills


def _incentive(raw: Any, trims: Mapping[str, Trim], options: Mapping[str, Option], where: str) -> Incentive:
    _keys(
        raw,
        where,
        required={"code", "name_en", "name_zh", "amount_yuan", "valid_from", "valid_until"},
        optional={"trims", "options"},
    )
    code = _str(raw, "code", where)
    where = f"{where} {code!r}"
    amount = _money(raw, "amount_yuan", where)
    valid_from, valid_until = _moment(raw, "valid_from", where), _moment(raw, "valid_until", where)
    if amount <= 0 or valid_until <= valid_from:
        raise ValueError(f"{where}: needs a positive amount and valid_from before valid_until")
    on_trims = frozenset(_codes(raw, "trims", where)) if "trims" in raw else None
    on_options = frozenset(_codes(raw, "options", where)) if "options" in raw else None
    if on_trims is not None and on_trims - trims.keys():
        raise ValueError(f"{where}: unknown trims {sorted(on_trims - trims.keys())}")
    if on_options is not None and on_options - options.keys():
        raise ValueError(f"{where}: unknown options {sorted(on_options - options.keys())}")
    if on_options is None and amount >= min(t.price_fen for t in trims.values()):
        raise ValueError(f"{where}: a flat reduction must be smaller than every trim price")
    name_en, name_zh = _str(raw, "name_en", where), _str(raw, "name_zh", where)
    line = PriceLine(kind="incentive", code=code, label_en=name_en, label_zh=name_zh, amount_fen=-amount)
    return Incentive(code, name_en, name_zh, amount, on_trims, on_options, valid_from, valid_until, line)


def _deposit(raw: Mapping[str, Any], where: str) -> DepositPolicy:
    _keys(raw, where, required={"amount_yuan", "refundable_hours"}, optional={"auto_lock", "lock_at_payment"})
    try:
        return DepositPolicy(
            amount_fen=_money(raw, "amount_yuan", where),
            refundable_hours=raw["refundable_hours"],
            auto_lock=raw.get("auto_lock", True),
            lock_at_payment=raw.get("lock_at_payment", False),
        )
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None


def _keys(raw: Any, where: str, *, required: set[str], optional: set[str] | None = None) -> None:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected a table")
    missing = required - raw.keys()
    unknown = raw.keys() - required - (optional or set())
    if missing:
        raise ValueError(f"{where}: missing {sorted(missing)}")
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")


def _table(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected a table")
    return dict(raw)


def _list(raw: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not value:
        raise ValueError(f"{where}: `{key}` must be a non-empty list")
    return value


def _str(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}: `{key}` must be a non-empty string")
    return value


def _codes(raw: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{where}: `{key}` must be a list of strings")
    return value


def _money(raw: Mapping[str, Any], key: str, where: str) -> int:
    value = raw.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{where}: `{key}` must be a whole number of yuan, zero or more")
    return yuan(value)


def _date(raw: Mapping[str, Any], key: str, where: str) -> date:
    value = raw.get(key, date.min)
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValueError(f"{where}: `{key}` must be a date")
    return value


def _moment(raw: Mapping[str, Any], key: str, where: str) -> datetime:
    value = raw.get(key)
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{where}: `{key}` must be a date-time with a UTC offset")
    return value
