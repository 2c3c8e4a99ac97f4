"""Follow the outdial service's event stream and keep a tally of dial results.

    python follow_dials.py --url http://127.0.0.1:8000 --key "$KEY" --state tally.json

Each finished dial adds one to its result (``success`` or ``fail``) and to its reason. The
tally and the position it counts up to are saved together, atomically, after every event
(and every checkpoint), so a restart resumes after the last event counted: nothing is
counted twice or missed. Stop it with Ctrl-C; start it again with the same ``--state``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

import httpx


def load(state: Path) -> dict:
    if state.exists():
        return json.loads(state.read_text())
    return {"last_event_id": "0", "results": {}, "reasons": {}}


def save(state: Path, tally: dict) -> None:
    draft = state.with_suffix(".tmp")
    draft.write_text(json.dumps(tally, indent=2, sort_keys=True))
    os.replace(draft, state)  # the old tally or the new one, never half of either


def count(tally: dict, event: dict) -> None:
    result, reason = event["data"]["result"], event["data"]["reason"] or "-"
    tally["results"][result] = tally["results"].get(result, 0) + 1
    tally["reasons"][reason] = tally["reasons"].get(reason, 0) + 1


def follow(url: str, key: str, state: Path, outdial_id: str | None) -> None:
    tally = load(state)
    params = {"types": "Target.DialFinished"}
    if outdial_id:
        params["outdial_id"] = outdial_id
    while True:
        headers = {"Authorization": f"Bearer {key}", "Last-Event-ID": tally["last_event_id"]}
        try:
            with httpx.stream(
                "GET", f"{url}/v1.0/events/stream", params=params, headers=headers, timeout=60
            ) as response:
                response.raise_for_status()
                event_id, kind, data = "", "message", ""
                for line in response.iter_lines():
                    if line.startswith("id:"):
                        event_id = line[3:].strip()
                    elif line.startswith("event:"):
                        kind = line[6:].strip()
                    elif line.startswith("data:"):
                        data = line[5:].strip()
                    elif line == "" and event_id:
                        if kind == "Target.DialFinished":
                            count(tally, json.loads(data))
                        tally["last_event_id"] = event_id  # an event or a checkpoint
                        save(state, tally)
                        print(json.dumps(tally["results"], sort_keys=True), flush=True)
                        event_id, kind, data = "", "message", ""
        except httpx.HTTPStatusError as error:
            if error.response.status_code < 500:
                sys.exit(f"refused: {error.response.status_code} {error.response.text}")
        except httpx.HTTPError:
            pass  # the service restarted or the network dropped: resume below
        time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--key", default=os.environ.get("OUTDIAL_KEY", ""))
    parser.add_argument("--state", type=Path, default=Path("tally.json"))
    parser.add_argument("--outdial-id")
    arguments = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        follow(arguments.url, arguments.key, arguments.state, arguments.outdial_id)


if __name__ == "__main__":
    main()
