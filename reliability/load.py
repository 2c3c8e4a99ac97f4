"""A mixed write load that remembers every write the service acknowledged, and the check
that each is there afterwards, as acknowledged, and nothing twice."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

TEL = "+821100000001"
NOT_DELETED = "9999-01-01 00:00:00.000000"


@dataclass
class Acknowledged:
    """What the service answered 200 to; what must be there after any crash."""

    targets: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    finished: dict[str, tuple[str, str]] = field(default_factory=dict)  # dial -> target, result
    answers: int = 0
    refusals: Counter[int] = field(default_factory=Counter)  # status -> count
    unreachable: int = 0  # the server was down: no answer at all
    lock: threading.Lock = field(default_factory=threading.Lock)


class MixedWriters:
    """``count`` threads writing through ``url()`` (which may change as servers restart):
    targets one at a time and in batches, dial starts and finishes, deletes."""

    def __init__(
        self, url: Callable[[], str], key: str, outdial: str, acked: Acknowledged, count: int = 4
    ) -> None:
        self._url = url
        self._headers = {"Authorization": f"Bearer {key}"}
        self._outdial = outdial
        self.acked = acked
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._write, args=(n,), daemon=True) for n in range(count)
        ]

    def __enter__(self) -> MixedWriters:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _post(self, client: httpx.Client, path: str, body: Any) -> Any:
        return self._send(client, "POST", path, body)

    def _send(self, client: httpx.Client, method: str, path: str, body: Any = None) -> Any:
        try:
            answer = client.request(method, self._url() + path, json=body, headers=self._headers)
        except httpx.HTTPError:
            with self.acked.lock:
                self.acked.unreachable += 1
            time.sleep(0.05)
            return None
        with self.acked.lock:
            if answer.status_code == 200:
                self.acked.answers += 1
            else:
                self.acked.refusals[answer.status_code] += 1
        return answer.json() if answer.status_code == 200 else None

    def _write(self, n: int) -> None:
        chosen = random.Random(n)
        targets = f"/v1.0/outdials/{self._outdial}/targets"
        tel = {"destination_0": {"target": TEL}, "destination_1": {"target": TEL}}
        mine: list[str] = []
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                roll = chosen.random()
                if roll < 0.35 or not mine:
                    made = self._post(client, targets, tel)
                    if made:
                        mine.append(made["id"])
                        with self.acked.lock:
                            self.acked.targets.add(made["id"])
                elif roll < 0.45:
                    made = self._post(client, targets + "/batch", {"targets": [tel] * 10})
                    if made:
                        ids = [t["id"] for t in made["result"]]
                        mine += ids
                        with self.acked.lock:
                            self.acked.targets.update(ids)
                elif roll < 0.9:
                    target = chosen.choice(mine)
                    dial = self._post(client, f"{targets}/{target}/dials", {})
                    if dial:
                        result = chosen.choice(["fail", "success"])
                        path = f"{targets}/{target}/dials/{dial['id']}"
                        if self._send(client, "PUT", path, {"result": result, "reason": "busy"}):
                            with self.acked.lock:
                                self.acked.finished[dial["id"]] = (target, result)
                else:
                    target = mine.pop(chosen.randrange(len(mine)))
                    if self._send(client, "DELETE", f"{targets}/{target}"):
                        with self.acked.lock:
                            self.acked.deleted.add(target)


def missing(client: httpx.Client, outdial: str, acked: Acknowledged) -> tuple[int, list[str]]:
    """(writes checked, what is wrong): every acknowledged target listed once, deleted ones
    deleted, every acknowledged finish recorded with its result, no dial twice."""
    problems: list[str] = []
    listed: Counter[str] = Counter()
    rows: dict[str, Any] = {}
    token = ""
    path = f"/v1.0/outdials/{outdial}/targets"
    while True:
        page = client.get(
            path, params={"page_size": 100, "page_token": token, "include_deleted": True}
        ).json()
        for row in page["result"]:
            listed[row["id"]] += 1
            rows[row["id"]] = row
        token = page["next_page_token"]
        if not token:
            break
    problems += [f"target {t} listed {n} times" for t, n in listed.items() if n > 1]
    problems += [f"acknowledged target {t} missing" for t in acked.targets - listed.keys()]
    problems += [
        f"acknowledged delete of {t} not recorded"
        for t in acked.deleted
        if t in rows and rows[t]["tm_delete"] == NOT_DELETED
    ]
    dials: dict[str, Any] = {}
    for target in {t for t, _ in acked.finished.values()}:
        found = client.get(f"{path}/{target}/dials", params={"page_size": 100}).json()["result"]
        ids = Counter(d["id"] for d in found)
        problems += [f"dial {d} of {target} listed {n} times" for d, n in ids.items() if n > 1]
        dials.update({d["id"]: d for d in found})
    for dial, (_, result) in acked.finished.items():
        if dial not in dials:
            problems.append(f"acknowledged dial {dial} missing")
        elif dials[dial]["result"] != result:
            problems.append(f"dial {dial} has result {dials[dial]['result']!r}, not {result!r}")
    checked = len(acked.targets) + len(acked.deleted) + len(acked.finished)
    return checked, problems
