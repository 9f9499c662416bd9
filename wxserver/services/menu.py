"""The custom menu (自定义菜单) as a config file: read it, check it, convert it, write it back.

The TOML file mirrors the JSON of ``/cgi-bin/menu/create``: an array of ``[[button]]`` tables,
each either a leaf (``type``, ``name`` and the fields its type needs) or a parent (``name`` and
``[[button.sub_button]]`` tables). Whoever has read WeChat's menu documentation can write it, and
``wxserver menu pull`` writes the live menu in the same form.

The checks are WeChat's own rules, so that a bad menu is refused here with every problem named,
rather than by the platform with a bare errcode: 1 to 3 buttons, 1 to 5 sub-buttons each, names of
at most 16 bytes (sub-buttons 60), keys of at most 128 bytes, URLs of at most 1024, and each type's
required fields. On top of those, ``missing_handlers`` finds the keys of event-bearing buttons
(click, scan code, photo, location picker) that no handler takes, because a user tapping one would
get no answer. A catch-all rule such as the echo set's ``@handlers.event()`` takes every key; a
``fallback()`` does not count, since it stands for "nobody handles this".
"""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from wxserver.protocol.errors import WxServerError

MAX_BUTTONS = 3
MAX_SUB_BUTTONS = 5
NAME_BYTES = 16
SUB_NAME_BYTES = 60
FIELD_BYTES = {"key": 128, "url": 1024}

# The fields each button type requires; a field another type uses is refused as a likely typo.
REQUIRED: dict[str, tuple[str, ...]] = {
    "click": ("key",),
    "view": ("url",),
    "miniprogram": ("url", "appid", "pagepath"),
    "scancode_push": ("key",),
    "scancode_waitmsg": ("key",),
    "pic_sysphoto": ("key",),
    "pic_photo_or_album": ("key",),
    "pic_weixin": ("key",),
    "location_select": ("key",),
    "media_id": ("media_id",),
    "view_limited": ("media_id",),
    "article_id": ("article_id",),
    "article_view_limited": ("article_id",),
}
# The types whose tap pushes an event with the button's key to the server, and that event's name.
EVENT_OF_TYPE: dict[str, str] = {
    "click": "CLICK",
    "scancode_push": "scancode_push",
    "scancode_waitmsg": "scancode_waitmsg",
    "pic_sysphoto": "pic_sysphoto",
    "pic_photo_or_album": "pic_photo_or_album",
    "pic_weixin": "pic_weixin",
    "location_select": "location_select",
}
_FIELD_ORDER = ("type", "name", "key", "url", "appid", "pagepath", "media_id", "article_id")


class MenuError(WxServerError):
    """A menu that cannot be published; ``problems`` lists every reason, each naming the button."""

    def __init__(self, source: str, summary: str, problems: Sequence[str]) -> None:
        self.source = source
        self.summary = summary
        self.problems = tuple(problems)
        super().__init__(f"{source}: {summary}: " + "; ".join(self.problems))

    def report(self) -> str:
        """The error as a headline and one indented line per problem, for a terminal."""
        return f"{self.source}: {self.summary}:\n" + "\n".join(f"  - {p}" for p in self.problems)


class EventRouter(Protocol):
    """What the handler check needs of a ``Router``."""

    def handles_event(self, event: str, key: str) -> bool:
        """Whether a rule takes the event ``event`` with EventKey ``key``."""
        ...


@dataclass(frozen=True, slots=True)
class MenuKey:
    """The key of one event-bearing button: where it is, and the event its tap sends."""

    where: str
    event: str
    key: str


@dataclass(frozen=True, slots=True)
class Menu:
    """A checked menu, held in the JSON form of /cgi-bin/menu/create."""

    buttons: tuple[Mapping[str, Any], ...]

    def to_api(self) -> dict[str, Any]:
        """The body of /cgi-bin/menu/create (a fresh copy, safe to change)."""
        return {"button": [copy.deepcopy(dict(button)) for button in self.buttons]}

    def event_keys(self) -> list[MenuKey]:
        """The keys of every click, scan-code, photo and location-picker button, in menu order."""
        found: list[MenuKey] = []
        for where, button in _leaves(self.buttons):
            event = EVENT_OF_TYPE.get(button["type"])
            if event is not None:
                found.append(MenuKey(where, event, button["key"]))
        return found

    def counts(self) -> tuple[int, int]:
        """(buttons, sub-buttons)."""
        return len(self.buttons), sum(len(b.get("sub_button", ())) for b in self.buttons)


def _leaves(buttons: Sequence[Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any]]]:
    leaves: list[tuple[str, Mapping[str, Any]]] = []
    for i, button in enumerate(buttons, 1):
        where = _where(i, button)
        subs = button.get("sub_button") or []
        if not subs:
            leaves.append((where, button))
        leaves.extend(
            (f"{where} > {_where(j, sub, 'sub_button')}", sub) for j, sub in enumerate(subs, 1)
        )
    return leaves


def _where(index: int, button: Mapping[str, Any], kind: str = "button") -> str:
    name = button.get("name")
    return f"{kind} {index} {name!r}" if isinstance(name, str) and name else f"{kind} {index}"


# --- reading and checking ----------------------------------------------------------------------


def load_menu(path: str | Path) -> Menu:
    """Read and check the menu file at ``path``; raise MenuError naming every problem."""
    source = str(path)
    try:
        with Path(path).open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise MenuError(
            source,
            "no menu file",
            ["write one (see config/menu.toml) or fetch the live menu with `wxserver menu pull`"],
        ) from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MenuError(source, "cannot be read", [str(exc)]) from None
    return parse_menu(data, source)


def parse_menu(data: Mapping[str, Any], source: str = "menu") -> Menu:
    """Check ``data`` ({"button": [...]}) against WeChat's rules and return it as a Menu."""
    problems: list[str] = [
        f"unknown top-level key {k!r} (only 'button')" for k in data if k != "button"
    ]
    buttons = data.get("button")
    if not isinstance(buttons, list) or not all(isinstance(b, Mapping) for b in buttons):
        problems.append("'button' must be an array of [[button]] tables")
        raise MenuError(source, "is not a valid menu", problems)
    if not 1 <= len(buttons) <= MAX_BUTTONS:
        problems.append(f"there are {len(buttons)} buttons; WeChat takes 1 to {MAX_BUTTONS}")
    checked = []
    for i, raw in enumerate(buttons, 1):
        checked.append(_check_top(raw, _where(i, raw), problems))
    if problems:
        raise MenuError(source, "is not a valid menu", problems)
    return Menu(tuple(checked))


def _check_top(raw: Mapping[str, Any], where: str, problems: list[str]) -> dict[str, Any]:
    subs = raw.get("sub_button")
    if subs is None or subs == []:
        # A leaf; menu/get writes "sub_button": [] on those, which means the same.
        leaf = {k: v for k, v in raw.items() if k != "sub_button"}
        return _check_leaf(leaf, where, NAME_BYTES, problems)
    out: dict[str, Any] = {"name": _name(raw, where, NAME_BYTES, problems)}
    extra = sorted(set(raw) - {"name", "sub_button"})
    if extra:
        problems.append(f"{where}: a button with sub-buttons takes only a name, not {extra}")
    if not isinstance(subs, list) or not all(isinstance(s, Mapping) for s in subs):
        problems.append(f"{where}: 'sub_button' must be an array of [[button.sub_button]] tables")
        return out
    if len(subs) > MAX_SUB_BUTTONS:
        problems.append(f"{where}: {len(subs)} sub-buttons; WeChat takes 1 to {MAX_SUB_BUTTONS}")
    out["sub_button"] = []
    for j, sub in enumerate(subs, 1):
        sub_where = f"{where} > {_where(j, sub, 'sub_button')}"
        if sub.get("sub_button"):
            problems.append(f"{sub_where}: menus have two levels; a sub-button has no sub-buttons")
        leaf = {k: v for k, v in sub.items() if k != "sub_button"}
        out["sub_button"].append(_check_leaf(leaf, sub_where, SUB_NAME_BYTES, problems))
    return out


def _name(raw: Mapping[str, Any], where: str, limit: int, problems: list[str]) -> str:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        problems.append(f"{where}: 'name' is missing")
        return ""
    size = len(name.encode())
    if size > limit:
        problems.append(f"{where}: the name is {size} bytes; the limit is {limit} (UTF-8)")
    return name


def _check_leaf(
    raw: Mapping[str, Any], where: str, name_limit: int, problems: list[str]
) -> dict[str, Any]:
    name = _name(raw, where, name_limit, problems)
    kind = raw.get("type")
    if kind not in REQUIRED:
        what = "is missing" if kind is None else f"{kind!r} is not a menu button type"
        problems.append(f"{where}: 'type' {what}; use one of {', '.join(REQUIRED)}")
        return {"name": name}
    out: dict[str, Any] = {"type": kind, "name": name}
    for field in REQUIRED[kind]:
        value = raw.get(field)
        if not isinstance(value, str) or not value:
            problems.append(f"{where}: a {kind} button needs '{field}' (text)")
            continue
        limit = FIELD_BYTES.get(field)
        if limit is not None and len(value.encode()) > limit:
            problems.append(
                f"{where}: '{field}' is {len(value.encode())} bytes; the limit is {limit}"
            )
        out[field] = value
    for field in sorted(set(raw) - {"type", "name", *REQUIRED[kind]}):
        problems.append(f"{where}: a {kind} button takes no '{field}'")
    return {k: out[k] for k in _FIELD_ORDER if k in out}


def menu_from_api(answer: Mapping[str, Any]) -> Menu:
    """The default menu of a /cgi-bin/menu/get answer, without the fields menu/create refuses."""
    menu = answer.get("menu")
    if not isinstance(menu, Mapping):
        raise MenuError("menu/get", "answered without a menu", [f"fields: {sorted(answer)}"])
    known = {*_FIELD_ORDER, "sub_button"}

    def keep(button: Any) -> Any:
        if not isinstance(button, Mapping):
            return button
        kept = {k: v for k, v in button.items() if k in known}
        if isinstance(kept.get("sub_button"), list):
            kept["sub_button"] = [keep(sub) for sub in kept["sub_button"]]
        return kept

    buttons = menu.get("button")
    return parse_menu(
        {"button": [keep(b) for b in buttons] if isinstance(buttons, list) else buttons}, "menu/get"
    )


# --- handlers ----------------------------------------------------------------------------------


def missing_handlers(menu: Menu, router: EventRouter) -> list[MenuKey]:
    """The event-bearing keys of ``menu`` that no rule of ``router`` takes (fallbacks aside)."""
    return [item for item in menu.event_keys() if not router.handles_event(item.event, item.key)]


def check_handlers(menu: Menu, router: EventRouter, source: str, sets: Sequence[str]) -> None:
    """Raise MenuError listing every key without a handler in the handler sets named ``sets``."""
    missing = missing_handlers(menu, router)
    if not missing:
        return
    loaded = ", ".join(sets) or "none"
    problems = [f"{m.where}: {m.event} key {m.key!r}" for m in missing]
    problems.append(
        'register them, e.g. @handlers.event("CLICK", key="...") in one of the handler sets '
        "(WX_PLUGINS), or remove them from the menu"
    )
    count = f"{len(missing)} key reaches" if len(missing) == 1 else f"{len(missing)} keys reach"
    raise MenuError(source, f"{count} no handler (handler sets: {loaded})", problems)


# --- writing -----------------------------------------------------------------------------------


def _toml_string(text: str) -> str:
    # JSON's escapes (\" \\ \n \uXXXX ...) are all valid in a TOML basic string; TOML also
    # forbids a raw DEL, which JSON leaves alone.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_table(header: str, button: Mapping[str, Any]) -> list[str]:
    lines = [header]
    lines.extend(f"{k} = {_toml_string(button[k])}" for k in _FIELD_ORDER if k in button)
    return lines


def menu_to_toml(menu: Menu, comment: str = "") -> str:
    """The menu as a TOML document that ``load_menu`` reads back to the same menu."""
    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    for button in menu.buttons:
        lines.append("")
        lines.extend(_toml_table("[[button]]", button))
        for sub in button.get("sub_button", ()):
            lines.append("")
            lines.extend(_toml_table("[[button.sub_button]]", sub))
    return "\n".join(lines).lstrip("\n") + "\n"
