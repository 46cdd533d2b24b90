"""validate_event: the contract ``ctx.events`` enforces before an event reaches any sink."""

from __future__ import annotations

from typing import Any

import pytest

from harmony._events import EVENTS, validate_event
from harmony.errors import EventValidationError, HarmonyError, InvalidInputError

_REQUIRED_PAIRS = [(name, field) for name, spec in EVENTS.items() for field in spec.required]


def _complete(event: str) -> dict[str, Any]:
    """Every required field of a registered event, with a valid value."""
    return {field: {} if field == "meta" else "x" for field in EVENTS[event].required}


@pytest.mark.parametrize(
    "name", ["", "nodot", "Upper.case", ".x", "x.", "a..b", "1a.b", "a.b-c", "a b.c", "a.B"]
)
def test_invalid_event_name_is_rejected_and_named_in_the_message(name: str) -> None:
    with pytest.raises(EventValidationError) as info:
        validate_event(name, {})
    assert repr(name) in str(info.value)


def test_non_string_event_name_is_rejected() -> None:
    with pytest.raises(EventValidationError):
        validate_event(42, {})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name", ["a.b", "orchestrator.custom_metric", "worker.playlists.cache.warm", "a1.b_2"]
)
def test_lowercase_dotted_event_names_are_accepted(name: str) -> None:
    assert dict(validate_event(name, {"status": "ok"})) == {"status": "ok"}


def test_a_field_called_event_is_rejected_and_named() -> None:
    with pytest.raises(EventValidationError) as info:
        validate_event("test.event", {"event": 1})
    assert "'event'" in str(info.value)


@pytest.mark.parametrize(
    "field", ["msg", "name", "args", "message", "asctime", "module", "lineno", "process"]
)
def test_logging_record_attribute_names_are_ordinary_fields_in_the_contract(field: str) -> None:
    assert dict(validate_event("test.event", {field: 1})) == {field: 1}


@pytest.mark.parametrize("field", ["Upper", "with-dash", "1st", "", "camelCase", "a.b"])
def test_field_name_that_is_not_a_lowercase_identifier_is_rejected(field: str) -> None:
    with pytest.raises(EventValidationError) as info:
        validate_event("test.event", {field: 1})
    assert repr(field) in str(info.value)


@pytest.mark.parametrize(
    "value",
    [[1], {"a": 1}, {1}, (1,), float("nan"), float("inf"), float("-inf"), b"x", object()],
    ids=["list", "dict", "set", "tuple", "nan", "inf", "-inf", "bytes", "object"],
)
def test_non_flat_value_outside_meta_is_rejected_and_field_named(value: Any) -> None:
    with pytest.raises(EventValidationError) as info:
        validate_event("test.event", {"status": "ok", "payload": value})
    assert "'payload'" in str(info.value)


@pytest.mark.parametrize("value", ["s", "", 0, -1, 2**63, 1.5, True, False, None])
def test_flat_json_values_are_accepted(value: Any) -> None:
    assert validate_event("test.event", {"payload": value})["payload"] == value


def test_meta_may_hold_nested_json() -> None:
    meta = {"ids": [1, 2, 3], "nested": {"a": None, "b": [True, "x"]}}
    assert validate_event("test.event", {"meta": meta})["meta"] == meta


@pytest.mark.parametrize("meta", [[1, 2], "text", 1, None], ids=["list", "str", "int", "none"])
def test_meta_that_is_not_a_mapping_is_rejected(meta: Any) -> None:
    with pytest.raises(EventValidationError) as info:
        validate_event("test.event", {"meta": meta})
    assert "'meta'" in str(info.value)


def test_meta_with_non_string_keys_is_rejected() -> None:
    with pytest.raises(EventValidationError) as info:
        validate_event("test.event", {"meta": {1: "x"}})
    assert "'meta'" in str(info.value)


@pytest.mark.parametrize(
    "meta",
    [{"when": object()}, {"x": float("nan")}, {"s": {1, 2}}, {"deep": {"b": b"x"}}],
    ids=["object", "nan", "set", "nested-bytes"],
)
def test_meta_that_is_not_json_serialisable_is_rejected(meta: dict[str, Any]) -> None:
    with pytest.raises(EventValidationError) as info:
        validate_event("test.event", {"meta": meta})
    assert "'meta'" in str(info.value)


@pytest.mark.parametrize(("event", "missing"), _REQUIRED_PAIRS)
def test_registered_event_missing_a_required_field_is_rejected_naming_it(
    event: str, missing: str
) -> None:
    fields = _complete(event)
    del fields[missing]
    with pytest.raises(EventValidationError) as info:
        validate_event(event, fields)
    message = str(info.value)
    assert repr(event) in message
    assert missing in message


@pytest.mark.parametrize("event", sorted(EVENTS))
def test_registered_event_with_all_required_fields_is_accepted(event: str) -> None:
    fields = _complete(event)
    assert dict(validate_event(event, fields)) == fields


def test_registered_event_accepts_extra_fields() -> None:
    fields = {**_complete("credentials.clear"), "attempt": 2}
    assert validate_event("credentials.clear", fields)["attempt"] == 2


def test_unregistered_event_needs_no_fields() -> None:
    assert dict(validate_event("custom.thing", {})) == {}


def test_validated_fields_are_returned_read_only() -> None:
    checked = validate_event("test.event", {"status": "ok"})
    with pytest.raises(TypeError):
        checked["status"] = "changed"  # type: ignore[index]


def test_validated_fields_are_a_copy_of_the_input() -> None:
    fields: dict[str, Any] = {"status": "ok"}
    checked = validate_event("test.event", fields)
    fields["status"] = "changed"
    assert checked["status"] == "ok"


def test_validation_error_is_caught_as_invalid_input_and_harmony_error() -> None:
    with pytest.raises(EventValidationError) as info:
        validate_event("bad", {})
    assert isinstance(info.value, InvalidInputError)
    assert isinstance(info.value, HarmonyError)
    assert isinstance(info.value, ValueError)
