"""The models VoIPbin's Go SDK (`voipbin-go`, generated from VoIPbin's OpenAPI description)
decodes outdial answers into, and a check that an answer decodes into them as Go's
`encoding/json` would.

Every field of these models is a pointer with `omitempty`, so `null` decodes to nil and a
missing key is fine; what breaks a Go client is a value of the wrong JSON type (a number
where it wants a string, say). Enum types are plain strings to Go, so any string decodes;
the check also reports values outside the SDK's constants, which its callers compare with.
"""

from __future__ import annotations

from typing import Any

# Go model name -> {json key: Go type}; "*" marks a pointer (null allowed).
MODELS: dict[str, dict[str, str]] = {
    "CommonAddress": {
        "detail": "*string",
        "name": "*string",
        "target": "*string",
        "target_name": "*string",
        "type": "*CommonAddressType",
    },
    "OutdialManagerOutdial": {
        "campaign_id": "*string",
        "customer_id": "*string",
        "data": "*string",
        "detail": "*string",
        "id": "*string",
        "name": "*string",
        "tm_create": "*string",
        "tm_delete": "*string",
        "tm_update": "*string",
    },
    "OutdialManagerOutdialtarget": {
        "data": "*string",
        **{f"destination_{n}": "*CommonAddress" for n in range(5)},
        "detail": "*string",
        "id": "*string",
        "name": "*string",
        "outdial_id": "*string",
        "status": "*OutdialManagerOutdialtargetStatus",
        "tm_create": "*string",
        "tm_delete": "*string",
        "tm_update": "*string",
        **{f"try_count_{n}": "*int" for n in range(5)},
    },
    # The anonymous JSON200 structs of GetOutdials and GetOutdialsIdTargets.
    "OutdialList": {"next_page_token": "*string", "result": "*[]OutdialManagerOutdial"},
    "OutdialtargetList": {"next_page_token": "*string", "result": "*[]OutdialManagerOutdialtarget"},
}

LIST_ITEMS = {
    "OutdialList": "OutdialManagerOutdial",
    "OutdialtargetList": "OutdialManagerOutdialtarget",
}

# String enums and their constants. The SDK's address types: the newer SDK added email.
ENUMS: dict[str, frozenset[str]] = {
    "CommonAddressType": frozenset(
        {"", "agent", "conference", "email", "extension", "line", "sip", "tel"}
    ),
    "OutdialManagerOutdialtargetStatus": frozenset({"done", "idle", "progressing"}),
}


def decode_problems(value: Any, go_type: str, where: str = "$") -> list[str]:
    """What Go's encoding/json would refuse (or an SDK caller not expect) in ``value``."""
    pointer = go_type.startswith("*")
    base = go_type.removeprefix("*")
    if value is None:
        return [] if pointer else [f"{where}: null for non-pointer {base}"]
    if base.startswith("[]"):
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__} for {base}"]
        return [
            p
            for n, item in enumerate(value)
            for p in decode_problems(item, base[2:], f"{where}[{n}]")
        ]
    if base == "string" or base in ENUMS:
        if not isinstance(value, str):
            return [f"{where}: {type(value).__name__} for {base}"]
        if base in ENUMS and value not in ENUMS[base]:
            return [f"{where}: {value!r} is not a constant of {base}"]
        return []
    if base == "int":
        # Go's int takes a JSON integer only: not 1.5, not 1.0, not true.
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{where}: {value!r} for int"]
    fields = MODELS[base]
    if not isinstance(value, dict):
        return [f"{where}: {type(value).__name__} for struct {base}"]
    # Go matches keys to fields by tag, case-insensitively; unknown keys are ignored.
    by_key = {key.lower(): key for key in fields}
    problems: list[str] = []
    for key, item in value.items():
        field = by_key.get(key.lower())
        if field is not None:
            problems += decode_problems(item, fields[field], f"{where}.{key}")
    return problems


def missing_fields(value: dict[str, Any], model: str) -> set[str]:
    """The model's fields the answer leaves out (the SDK would leave them nil)."""
    return set(MODELS[model]) - set(value)
