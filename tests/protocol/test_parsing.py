"""Parsing callback bodies: every fixture in tests/data/messages gives its class and fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.protocol.message_bodies import FIXTURE_FILES
from tests.protocol.messages_expected import EXPECTED
from wxserver.protocol.builders import MESSAGE_TYPES
from wxserver.protocol.parsing import message_from_fields, parse_message, parse_xml


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[path.name for path in FIXTURE_FILES])
def test_parse_message_fixture_gives_class_and_fields(path: Path) -> None:
    assert path.name in EXPECTED, f"add the expected class and fields of {path.name}"
    cls, fields = EXPECTED[path.name]
    message = parse_message(path.read_bytes())
    assert type(message) is cls
    assert {name: getattr(message, name) for name in fields} == fields
    assert dict(message.raw).keys() == parse_xml(path.read_bytes()).keys()


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[path.name for path in FIXTURE_FILES])
def test_message_from_fields_rebuilds_a_message_from_its_raw(path: Path) -> None:
    message = parse_message(path.read_bytes())
    assert message_from_fields(message.raw) == message


def test_fixtures_expected_table_names_only_existing_files() -> None:
    assert sorted(EXPECTED) == [path.name for path in FIXTURE_FILES]


def test_fixtures_cover_every_message_type() -> None:
    covered = {type(parse_message(path.read_bytes())) for path in FIXTURE_FILES}
    assert [cls.__name__ for cls in MESSAGE_TYPES if cls not in covered] == []


def test_fixtures_include_bare_text_and_cdata() -> None:
    texts = [path.read_text("utf-8") for path in FIXTURE_FILES]
    assert any("<![CDATA[" not in text for text in texts)
    assert any("<![CDATA[" in text for text in texts)
