"""The address table of docs/api.md: accepted types and their target rules."""

from __future__ import annotations

import pytest

from domain.address import Address
from domain.errors import InvalidValue

UUID_TEXT = "1b3d7a92-7146-466d-90f5-4bc701ada4c0"


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("tel", "+821100000001"),
        ("tel", "+1234567"),
        ("whatsapp", "+123456789012345"),
        ("sip", "alice@example.com"),
        ("email", "bob.smith+tag@example.co.uk"),
        ("extension", "2001"),
        ("line", "support"),
        ("agent", UUID_TEXT),
        ("conference", UUID_TEXT),
        ("webchat", UUID_TEXT),
        ("web_session", UUID_TEXT),
    ],
)
def test_accepted_addresses(kind: str, target: str) -> None:
    address = Address.parse({"type": kind, "target": target}, "destination_0")
    assert address == Address(type=kind, target=target)


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("tel", "821100000001"),
        ("tel", "+123456"),
        ("tel", "+1234567890123456"),
        ("whatsapp", "+82-11"),
        ("sip", "alice"),
        ("sip", "@example.com"),
        ("email", "bob@"),
        ("email", "not an email"),
        ("extension", ""),
        ("line", "   "),
        ("agent", "not-a-uuid"),
        ("conference", ""),
        ("webchat", "123"),
        ("web_session", "x"),
    ],
)
def test_rejected_targets_name_the_target_field(kind: str, target: str) -> None:
    with pytest.raises(InvalidValue) as error:
        Address.parse({"type": kind, "target": target}, "destination_2")
    assert error.value.field == "destination_2.target"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"type": "fax", "target": "+821100000001"}, "destination_1.type"),
        ({"target": "alice@example.com"}, "destination_1.type"),
        ({"type": "", "target": "01012345678"}, "destination_1.type"),
        ({"type": "tel"}, "destination_1.target"),
        ({"type": "tel", "target": 5}, "destination_1.target"),
        ({"type": "tel", "target": "+821100000001", "name": "n" * 256}, "destination_1.name"),
        ({"type": "tel", "target": "+821100000001", "colour": "red"}, "destination_1.colour"),
        ("tel:+821100000001", "destination_1"),
    ],
)
def test_malformed_addresses_name_the_field(raw: object, field: str) -> None:
    with pytest.raises(InvalidValue) as error:
        Address.parse(raw, "destination_1")
    assert error.value.field == field


def test_a_number_without_a_type_is_a_tel_address() -> None:
    for raw in [{"target": "+821100000001"}, {"type": "", "target": "+821100000001"}]:
        assert Address.parse(raw, "destination_0") == Address("tel", "+821100000001")


@pytest.mark.parametrize(
    "raw", [None, {}, {"type": "", "target": ""}, {"target": "", "name": None, "detail": ""}]
)
def test_an_empty_destination_is_unset(raw: object) -> None:
    assert Address.parse_destination(raw, "destination_4") is None


def test_a_destination_with_any_field_given_is_parsed_as_an_address() -> None:
    assert Address.parse_destination({"target": "+821100000001"}, "destination_0") == Address(
        "tel", "+821100000001"
    )
    with pytest.raises(InvalidValue) as error:
        Address.parse_destination({"name": "home"}, "destination_2")
    assert error.value.field == "destination_2.type"


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("tel", "+821100000077\n"),
        ("whatsapp", "+821100000077\n"),
        ("tel", "\n+821100000077"),
        ("sip", "a@b.c\n"),
        ("sip", "u\u202eb@b.c"),
        ("email", "bob@example.com\n"),
        ("email", "bob\u200e@example.com"),
        ("extension", "20 01"),
        ("extension", "2001\t"),
        ("line", "support\u2066"),
        ("line", "sup\u0085port"),
        ("agent", "1b3d7a92-7146-466d-90f5-4bc701ada4c0\n"),
    ],
)
def test_a_target_holds_no_whitespace_control_or_bidirectional_formatting(
    kind: str, target: str
) -> None:
    """The pattern must match the whole value: a dialer would get the newline, and an
    audit search for the number would miss it."""
    with pytest.raises(InvalidValue) as error:
        Address.parse({"type": kind, "target": target}, "destination_0")
    assert error.value.field == "destination_0.target"


def test_a_bare_number_with_a_newline_is_no_tel_address() -> None:
    with pytest.raises(InvalidValue) as error:
        Address.parse({"target": "+821100000077\n"}, "destination_0")
    assert error.value.field == "destination_0.type"
