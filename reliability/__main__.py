"""``python -m reliability`` (``make reliability``): faults survived with nothing lost.

On each store: the server SIGKILLed at random moments under a mixed write load (on
PostgreSQL also the active projection worker, and the database itself restarted in the
middle of the load); after each round every acknowledged write is checked and `outdial
verify` must pass. Then a 60 s mixed load at the highest rate the machine sustains, and a
schemathesis run over the whole OpenAPI description. The event feed is
followed by a failing webhook receiver and reconnecting stream readers while processes are
killed (reliability/feed.py). Exit 1 when anything was lost,
applied twice, or answered 5xx; the summary line goes to stdout and into
reliability/results/latest.md.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from benchmarks.stores import fresh
from reliability.feed import (
    RECEIVER_DOWN_S,
    FlakyReceiver,
    StreamReader,
    every_position,
    in_order_once,
    wait_for,
)
from reliability.load import Acknowledged, MixedWriters, missing
from reliability.processes import (
    PYTHON,
    Process,
    active_worker_pid,
    first_key,
    postgres,
    verify,
)

RESULTS = Path(__file__).parent / "results" / "latest.md"
OUTAGE_S = 8.0


class Summary:
    def __init__(self) -> None:
        self.kills = 0
        self.checked = 0
        self.lost = 0
        self.twice = 0
        self.five_hundreds = 0
        self.fuzz_cases = 0
        self.lines: list[str] = []
        self.failures: list[str] = []

    def note(self, line: str) -> None:
        print(line, flush=True)
        self.lines.append(line)

    def fail(self, line: str) -> None:
        self.note("FAILED: " + line)
        self.failures.append(line)


def _ready(url: str, timeout: float = 30.0) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return time.monotonic() - began
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    msg = f"{url} not ready after {timeout} s"
    raise RuntimeError(msg)


def _check(
    summary: Summary, store: Any, url: str, key: str, outdial: str, acked: Acknowledged
) -> None:
    _ready(url)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        checked, problems = missing(c, outdial, acked)
    summary.checked += checked
    summary.lost += sum(
        "missing" in p or "not recorded" in p or "has result" in p for p in problems
    )
    summary.twice += sum("times" in p for p in problems)
    for problem in problems[:10]:
        summary.fail(problem)
    code, said = verify(store.storage)
    if code != 0:
        summary.fail(f"verify exited {code}: {said}")
    server_errors = sum(n for status, n in acked.refusals.items() if status >= 500)
    summary.note(
        f"  checked {checked} acknowledged writes: {len(problems)} problems; verify: {said}; "
        f"answers {acked.answers}, refused {dict(acked.refusals)}, no answer {acked.unreachable}"
        f" (5xx while down: {server_errors})"
    )


def _first_outdial(api: Process, key: str, name: str) -> str:
    """Once the server is ready, a new outdial of the key's customer to write under."""
    with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {key}"}) as c:
        _ready(api.url)
        outdial: str = c.post("/v1.0/outdials", json={"name": name}).json()["id"]
        return outdial


def kills(summary: Summary, kind: str, rounds: int) -> None:
    """The server (and on PostgreSQL the active projection worker) SIGKILLed at random
    moments under the mixed write load."""
    chosen = random.Random(11)
    with fresh(kind) as store:
        if kind == "postgres":
            api = Process(store.storage, "serve", ("--no-run-projections",)).start()
            workers = [Process(store.storage, "project").start() for _ in range(2)]
        else:
            api, workers = Process(store.storage, "serve").start(), []
        try:
            api.until_up()
            key = first_key(store.storage)
            outdial = _first_outdial(api, key, "faults")
            acked = Acknowledged()
            with MixedWriters(lambda: api.url, key, outdial, acked):
                for n in range(rounds):
                    time.sleep(chosen.uniform(0.3, 1.5))
                    if workers and n % 2:
                        pid = active_worker_pid(store.storage)
                        victim = next((w for w in workers if w.popen and w.popen.pid == pid), None)
                        if victim is None:
                            continue
                        victim.kill()
                        victim.start()
                        what = "active projection worker"
                    else:
                        api.kill()
                        api.start()
                        api.until_up()
                        what = "server"
                    summary.kills += 1
                    summary.note(f"[{kind}] kill {n + 1}: SIGKILL of the {what}")
                time.sleep(1.0)
            _check(summary, store, api.url, key, outdial, acked)
        finally:
            for process in (api, *workers):
                process.stop()


def database_restart(summary: Summary) -> None:
    """PostgreSQL stopped for 8 s in the middle of the load: new writes meanwhile are 503
    (never 500, never a hang), and the service writes again by itself within 10 s of the
    database coming back."""
    with fresh("postgres") as store:
        api = Process(store.storage, "serve").start()
        try:
            api.until_up()
            key = first_key(store.storage)
            headers = {"Authorization": f"Bearer {key}"}
            outdial = _first_outdial(api, key, "outage")
            acked = Acknowledged()
            during: Counter[int] = Counter()
            with MixedWriters(lambda: api.url, key, outdial, acked):
                time.sleep(2)
                postgres("stop")
                # New writes while it is down (the load's own may be stuck in flight).
                down_until = time.monotonic() + OUTAGE_S
                with httpx.Client(base_url=api.url, headers=headers, timeout=3) as c:
                    while time.monotonic() < down_until:
                        try:
                            during[c.post("/v1.0/outdials", json={}).status_code] += 1
                        except httpx.HTTPError:
                            during[0] += 1  # no answer within 3 s
                        time.sleep(0.5)
                postgres("start")
                back = time.monotonic()
                recovered = None
                with httpx.Client(base_url=api.url, headers=headers, timeout=5) as c:
                    while time.monotonic() - back < 30:
                        try:
                            if c.post("/v1.0/outdials", json={}).status_code == 200:
                                recovered = time.monotonic() - back
                                break
                        except httpx.HTTPError:
                            pass
                        time.sleep(0.2)
                time.sleep(1)
            odd = {s: n for s, n in during.items() if s != 503}
            summary.note(
                f"[postgres] database down {OUTAGE_S:.0f} s: new writes meanwhile answered "
                f"{dict(during)} (0: no answer in 3 s); writes again "
                f"{recovered if recovered is None else round(recovered, 1)} s after it came back"
            )
            if odd:
                summary.fail(f"during the outage new writes answered other than 503: {odd}")
            if recovered is None or recovered > 10:
                summary.fail(f"not writing again within 10 s of the database ({recovered})")
            acked.refusals = Counter({s: n for s, n in acked.refusals.items() if s != 503})
            _check(summary, store, api.url, key, outdial, acked)
        finally:
            api.stop()


def feed(summary: Summary, kind: str, seconds: float) -> None:
    """A webhook whose receiver fails a fifth of deliveries and goes away for 3 s, and
    three stream readers that hang up and reconnect, during the mixed write load, with
    the server (on PostgreSQL also the active worker) killed twice: every event delivered
    at least once and in order, every reader sees each event exactly once."""
    chosen = random.Random(23)
    with fresh(kind) as store:
        private = ("--webhook-allow-private",)
        if kind == "postgres":
            api = Process(store.storage, "serve", ("--no-run-projections", *private)).start()
            workers = [Process(store.storage, "project", private).start() for _ in range(2)]
        else:
            api, workers = Process(store.storage, "serve", private).start(), []
        receiver = FlakyReceiver(seed=5)
        readers: list[StreamReader] = []
        try:
            api.until_up()
            key = first_key(store.storage)
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=api.url, headers=headers, timeout=30) as c:
                _ready(api.url)
                hooked = c.put("/v1.0/webhook", json={"url": receiver.url})
                hooked.raise_for_status()
            outdial = _first_outdial(api, key, "feed")
            readers = [StreamReader(lambda: api.url, key, seed=n) for n in range(3)]
            acked = Acknowledged()
            with MixedWriters(lambda: api.url, key, outdial, acked):
                began = time.monotonic()
                time.sleep(seconds / 4)
                receiver.stop()
                time.sleep(RECEIVER_DOWN_S)
                receiver.start()
                for n in range(2):
                    time.sleep(chosen.uniform(0.5, 1.5))
                    victim = api
                    if workers and n % 2:
                        pid = active_worker_pid(store.storage)
                        victim = next((w for w in workers if w.popen and w.popen.pid == pid), api)
                    victim.kill()
                    victim.start()
                    victim.until_up()
                time.sleep(max(0.0, seconds - (time.monotonic() - began)))
            _ready(api.url)
            every = every_position(api.url, key)
            arrived = wait_for(
                lambda: (
                    set(receiver.positions) >= set(every)
                    and all(len(r.positions) >= len(every) for r in readers)
                ),
                timeout=60,
            )
            for reader in readers:
                reader.stop()
            delivered = in_order_once(receiver.positions)
            summary.note(
                f"[{kind}] feed: {len(every)} events; webhook {receiver.deliveries} deliveries "
                f"({receiver.failed} answered 500, down {RECEIVER_DOWN_S:.0f} s), "
                f"{len(receiver.positions) - len(delivered)} events delivered again; "
                f"3 stream readers, {sum(r.reconnects for r in readers)} reconnects"
            )
            if not arrived:
                summary.fail(f"[{kind}] feed: not everything arrived within 60 s")
            if delivered != sorted(delivered) or set(delivered) != set(every):
                missed = len(set(every) - set(delivered))
                summary.fail(f"[{kind}] webhook: {missed} events missed, or out of order")
            for n, reader in enumerate(readers):
                if reader.positions != every:
                    twice = len(reader.positions) - len(set(reader.positions))
                    missed = len(set(every) - set(reader.positions))
                    summary.fail(f"[{kind}] stream reader {n}: {missed} missed, {twice} twice")
            _check(summary, store, api.url, key, outdial, acked)
        finally:
            for reader in readers:
                reader.stop()
            receiver.stop()
            for process in (api, *workers):
                process.stop()


def sustained(summary: Summary, kind: str, seconds: float) -> None:
    """Creates, dispatches, finishes, reads and audit searches from 8 clients for
    ``seconds`` at the highest rate they get, then verify."""
    with fresh(kind) as store:
        api = Process(store.storage, "serve").start()
        try:
            api.until_up()
            key = first_key(store.storage)
            headers = {"Authorization": f"Bearer {key}"}
            outdial = _first_outdial(api, key, "load")
            latencies: list[float] = []
            statuses: Counter[int] = Counter()
            lock = threading.Lock()
            stop = threading.Event()

            def client(n: int) -> None:
                chosen = random.Random(n)
                targets = f"/v1.0/outdials/{outdial}/targets"
                tel = {"destination_0": {"target": "+821100000001"}}
                with httpx.Client(base_url=api.url, headers=headers, timeout=30) as http:
                    while not stop.is_set():
                        roll = chosen.random()
                        began = time.perf_counter()
                        if roll < 0.3:
                            answer = http.post(targets, json=tel)
                        elif roll < 0.5:
                            answer = http.post(
                                f"/v1.0/outdials/{outdial}/dispatch", json={"limit": 5}
                            )
                            for dial in (
                                answer.json().get("result", []) if answer.status_code == 200 else []
                            ):
                                http.put(
                                    f"{targets}/{dial['outdial_target_id']}/dials/{dial['id']}",
                                    json={"result": chosen.choice(["fail", "success"])},
                                )
                        elif roll < 0.8:
                            answer = http.get(targets, params={"page_size": 20})
                        else:
                            answer = http.get(
                                "/v1.0/dials", params={"outdial_id": outdial, "result": "fail"}
                            )
                        with lock:
                            latencies.append((time.perf_counter() - began) * 1000)
                            statuses[answer.status_code] += 1

            threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
            began = time.monotonic()
            for thread in threads:
                thread.start()
            time.sleep(seconds)
            stop.set()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - began
            _ready(api.url)
            code, said = verify(store.storage)
            errors = sum(n for s, n in statuses.items() if s >= 500)
            summary.five_hundreds += errors
            p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 100 else 0.0
            summary.note(
                f"[{kind}] {seconds:.0f} s mixed load, 8 clients: {len(latencies) / elapsed:.0f} "
                f"requests/s, p99 {p99:.0f} ms, statuses {dict(statuses)}; verify: {said}"
            )
            summary.lines.append(f"load:{kind}:{len(latencies) / elapsed:.0f}:{p99:.0f}")
            if errors:
                summary.fail(f"[{kind}] {errors} answers 5xx under load")
            if code != 0:
                summary.fail(f"[{kind}] verify after the load exited {code}: {said}")
        finally:
            api.stop()


def fuzz(summary: Summary, kind: str, examples: int) -> None:
    """schemathesis over the whole description, stateful where its links allow."""
    with fresh(kind) as store:
        # The unauthenticated checks expect 401 every time: no throttle in this run.
        api = Process(store.storage, "serve", ("--auth-failures-allowed", "0")).start()
        try:
            api.until_up()
            key = first_key(store.storage)
            done = subprocess.run(
                [
                    PYTHON, "-m", "schemathesis.cli", "run", f"{api.url}/openapi.json",
                    "--checks", "all",
                    # Page tokens and type-dependent address targets: a 400 for values the
                    # description cannot rule out is right (as in tests/e2e/test_fuzz.py).
                    "--exclude-checks", "positive_data_acceptance",
                    "--max-examples", str(examples),
                    "--header", f"Authorization: Bearer {key}",
                    "--workers", "2",
                    # The event stream never ends by itself; the feed round reads it.
                    "--exclude-path", "/v1.0/events/stream",
                ],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            out = done.stdout + done.stderr
            cases = _cases(out)
            summary.fuzz_cases += cases
            summary.note(f"[{kind}] schemathesis: {cases} cases, exit {done.returncode}")
            if done.returncode != 0:
                summary.five_hundreds += 1
                summary.fail(f"[{kind}] schemathesis found a failure:\n{out[-3000:]}")
        finally:
            api.stop()


def _cases(output: str) -> int:
    found = re.findall(r"(\d+) generated", output) or re.findall(r"(\d+) test cases", output)
    return sum(int(n) for n in found)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability")
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--load-seconds", type=float, default=60.0)
    parser.add_argument("--fuzz-examples", type=int, default=30)
    parser.add_argument("--feed-seconds", type=float, default=15.0)
    args = parser.parse_args()
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    summary = Summary()
    started = time.monotonic()
    for kind in stores:
        kills(summary, kind, args.kills)
        if kind == "postgres":
            database_restart(summary)
        feed(summary, kind, args.feed_seconds)
        sustained(summary, kind, args.load_seconds)
        fuzz(summary, kind, args.fuzz_examples)
    loads = [line.split(":") for line in summary.lines if line.startswith("load:")]
    load_text = ", ".join(f"{k} {rate} req/s p99 {p99} ms" for _, k, rate, p99 in loads)
    line = (
        f"kills survived {summary.kills}, acknowledged writes checked {summary.checked}, "
        f"lost {summary.lost}, applied twice {summary.twice}, fuzz cases {summary.fuzz_cases}, "
        f"5xx {summary.five_hundreds}, load {load_text}, "
        f"failed checks {len(summary.failures)}"
    )
    print(line)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    body = [line for line in summary.lines if not line.startswith("load:")]
    RESULTS.write_text(
        "# make reliability\n\n"
        f"{line}\n\nTook {time.monotonic() - started:.0f} s.\n\n```\n" + "\n".join(body) + "\n```\n"
    )
    return 1 if summary.failures else 0


if __name__ == "__main__":
    sys.exit(main())
