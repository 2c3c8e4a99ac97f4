"""The README's ten-minute tour, run as it stands against a real server, and its pages
opened in a real headless Chromium: what a new user does, checked as they would see it.

With ``OUTDIAL_SCREENSHOTS=DIR`` the test also saves the pages' screenshots there (the
README's come from ``OUTDIAL_SCREENSHOTS=docs/screenshots``).
"""

from __future__ import annotations

import html
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from adapters.keys import key_hash, key_id
from adapters.stores import Storage
from domain.calling_window import CallingWindow
from tests.conftest import eventually
from tests.e2e.browser import browsing, colours, open_page, screenshot

README = Path(__file__).parents[2] / "README.md"
TOUR_PORT = "127.0.0.1:8000"
# The pages' colours (api/pages/static/pages.css): drawn only when the style sheet applied.
SUCCESS = (0x2E, 0x85, 0x40)
FAIL = (0xC0, 0x39, 0x2B)
HEADER = (0x1D, 0x24, 0x33)

pytestmark = pytest.mark.slow  # a server, a shell and a browser: for `make test`


def tour_blocks() -> list[str]:
    """The shell blocks the README marks as the tour's, in order."""
    blocks = re.findall(r"<!-- tour -->\n```sh\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) == 4, "the README's tour has four marked blocks"
    return blocks


@dataclass
class Server:
    url: str
    key: str
    workdir: Path
    env: dict[str, str]  # what every command of the tour runs with


@pytest.fixture
def server(store: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """`make run` in a fresh checkout: `outdial serve` on an empty ./var, which prints the
    first key; or on an empty PostgreSQL database named by OUTDIAL_DATABASE_URL, which every
    command of the tour then reads too. The checkout's .venv is the one these tests run in."""
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTDIAL_")}
    if store == "postgres":
        storage: Storage = request.getfixturevalue("postgres_storage")
        assert storage.database_url is not None
        env["OUTDIAL_DATABASE_URL"] = storage.database_url
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [str(tmp_path / ".venv/bin/outdial"), "serve", "--port", str(port)],
            cwd=tmp_path,
            stdout=stdout,
            stderr=stderr,
            env=env,
        )
    try:
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            assert process.poll() is None, err.read_text()
            try:
                return httpx.get(url + "/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        eventually(ready, timeout=60, interval=0.1, what="the server up")
        key = next(line for line in out.read_text().splitlines() if line.startswith("odk_"))
        yield Server(url=url, key=key, workdir=tmp_path, env=env)
    finally:
        process.terminate()
        process.wait(timeout=15)


def run_tour(server: Server) -> str:
    """Every block in one shell, as a user pastes them: only the key and port differ."""
    script = "\n".join(tour_blocks())
    script = re.sub(r"^KEY=odk_\.\.\..*$", f"KEY={server.key}", script, flags=re.M)
    script = script.replace(TOUR_PORT, server.url.removeprefix("http://"))
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=server.workdir,
        capture_output=True,
        text=True,
        timeout=120,
        env=server.env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


# The tour's calling window: weekdays 09:00 to 20:00 where the callee is.
TOUR_WINDOW = CallingWindow.parse(
    {
        "time_zone": "Asia/Seoul",
        "hours": [{"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "20:00"}],
    }
)


def open_in_new_york(at: datetime) -> bool:
    return TOUR_WINDOW.is_open(("America/New_York",), at)


def seen(dom: str) -> str:
    """The text a person reads in a document, without tags."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", dom)).split())


def test_the_tour_reaches_a_targets_timeline_in_a_real_browser(server: Server) -> None:
    before = {path.name for path in server.workdir.iterdir()}
    started = datetime.now(UTC)
    said = run_tour(server)
    # It leaves the reader's checkout as it was (its files go to a directory of their own)
    # and hides no command of the reader's shell behind a function of its own.
    assert {path.name for path in server.workdir.iterdir()} - before <= {"var"}
    defined = re.findall(r"^(\w+)\(\) *\{", "\n".join(tour_blocks()), re.M)
    assert defined
    for name in defined:
        assert shutil.which(name) is None, f"the tour's {name}() hides the command {name}"

    # What the tour's commands print: the page to open, the replay, the export, verify.
    page = re.search(r"^open (http://\S+)$", said, re.M)
    assert page is not None, said
    timeline_url = page.group(1)
    assert "v7  DialFinished" in said
    assert "result=success  reason=answered" in said
    assert "0 difference(s)" in said
    assert "id,outdial_id,outdial_target_id,destination_index" in said  # the export's header
    assert said.count(",done,success,answered,") == 2  # its newest dials: Alice's and Carol's
    # The contact rules: Dave's Seoul number skipped, the pause, New York's window.
    assert "next destination: 1" in said
    assert "OUTDIAL_PAUSED - " in said
    assert "ON_DO_NOT_CALL" not in said
    if not (open_in_new_york(started) or open_in_new_york(datetime.now(UTC))):
        assert "OUTSIDE_CALLING_WINDOW - " in said
        assert "America/New_York" in said
    # Dave erased: one target, read blank.
    assert "erased 1 target(s)" in said
    assert "name: '' destination_1: {'type': 'tel', 'target': ''," in said

    # The browser follows the token's redirect on its cookie and shows Alice's timeline.
    visit = open_page(timeline_url)
    text = seen(visit.dom)
    assert "Sign in" not in text
    assert "Alice" in text
    assert "7 events and 3 dial attempts" in text
    drawing = re.search(r'<svg class="timeline".*?</svg>', visit.dom, re.S)
    assert drawing is not None
    assert drawing.group(0).count('<rect class="bar"') == 3
    for row in (
        "dial tel:+821100000001 (destination 0, try 1) fail · busy",
        "dial tel:+821100000001 (destination 0, try 2) fail · no_answer",
        "dial sip:alice@example.com (destination 1, try 1) success · answered",
    ):
        assert row in text
    assert re.findall(r'<li class="step" id="v(\d)">', visit.dom) == list("1234567")
    assert "progressing → done" in text
    # Nothing on the page broke its own Content-Security-Policy.
    assert "Content Security Policy" not in visit.log, visit.log
    assert "Refused to" not in visit.log, visit.log

    # On the screen: the style sheet applied, green and red bars drawn.
    shot = screenshot(timeline_url, server.workdir / "timeline.png", height=1150)
    drawn = colours(shot)
    assert drawn[HEADER] > 10_000  # the dark navigation bar
    assert drawn[SUCCESS] > 300  # the answered dial
    assert drawn[FAIL] > 600  # the two failed ones

    keep = os.environ.get("OUTDIAL_SCREENSHOTS")
    if keep:
        _save_screenshots(server, timeline_url, shot, Path(keep))


def test_a_page_without_a_key_shows_the_sign_in_form_in_the_browser(server: Server) -> None:
    visit = open_page(server.url + "/ui/outdials")
    text = seen(visit.dom)
    assert "Sign in" in text
    assert "Sign in with an API key to see this page." in text
    assert '<input id="token" name="token" type="password"' in visit.dom
    opened = open_page(server.url + f"/ui/outdials?token={server.key}")
    assert "No outdials yet" in seen(opened.dom)
    assert "Refused to" not in opened.log


def another_customers_key(server: Server) -> str:
    """`outdial keys create` for a new customer, beside the running server."""
    done = subprocess.run(
        [
            str(server.workdir / ".venv/bin/outdial"),
            "keys",
            "create",
            "--customer-id",
            str(uuid4()),
        ],
        cwd=server.workdir,
        capture_output=True,
        text=True,
        timeout=60,
        env=server.env,
        check=True,
    )
    return done.stdout.strip()


@contextmanager
def site_sending_to(url: str) -> Iterator[str]:
    """Another site (another port of the same host: same-site, not same-origin) whose page
    sends the browser on to ``url`` at once, with no script: the attack the pages resist."""
    page = f'<!doctype html><meta http-equiv="refresh" content="0;url={html.escape(url)}">'

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    site = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{site.server_address[1]}/"
    finally:
        site.shutdown()
        site.server_close()


def test_a_link_from_another_site_does_not_swap_the_session(server: Server) -> None:
    """A supervisor signed in opens another site's page that sends them on to the pages
    with the attacker's key: they stay themselves unless they choose the other key."""
    attacker_key = another_customers_key(server)
    for key, name in ((server.key, "supervisor's list"), (attacker_key, "attacker's list")):
        made = httpx.post(
            server.url + "/v1.0/outdials",
            json={"name": name},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert made.status_code == 200, made.text

    def on_outdials(address: str, document: str) -> bool:
        return address == server.url + "/ui/outdials"

    def landed(address: str, document: str) -> bool:
        return address.startswith(server.url + "/")

    def blank(address: str, document: str) -> bool:
        return address == "about:blank"

    with (
        browsing() as tab,
        site_sending_to(f"{server.url}/ui/outdials?token={attacker_key}") as site,
    ):
        signed_in = tab.open(f"{server.url}/ui/outdials?token={server.key}", on_outdials)
        assert "supervisor's list" in signed_in

        # The other site's page lands on the question, not on the attacker's outdials.
        tab.open("about:blank", blank)
        question = tab.open(site, landed)
        text = seen(question)
        assert "Another site sent you here to sign in" in text
        assert key_id(key_hash(attacker_key)) in text
        assert attacker_key not in text
        assert "attacker's list" not in question
        tab.click("a.back")  # no, thanks
        kept = tab.wait(on_outdials)
        assert "supervisor's list" in seen(kept)
        assert "attacker's list" not in kept
        again = tab.open(f"{server.url}/ui/outdials", on_outdials)
        assert "supervisor's list" in seen(again)

        # Only the person's own click on the question signs in with the other key.
        tab.open("about:blank", blank)
        tab.open(site, landed)
        tab.click("form.confirm button")
        chosen = tab.wait(on_outdials)
        assert "attacker's list" in seen(chosen)
        assert "supervisor's list" not in chosen
        assert "token=" not in tab.address()
        assert "Refused to" not in tab.log, tab.log


def _save_screenshots(server: Server, timeline_url: str, timeline: Path, into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    timeline.replace(into / "timeline.png")
    outdial_id = timeline_url.split("/ui/outdials/")[1].split("/")[0]
    token = f"token={server.key}"
    for name, path, height in (
        ("outdials", f"/ui/outdials?{token}", 420),
        ("outdial", f"/ui/outdials/{outdial_id}?{token}", 820),
        ("dials", f"/ui/dials?outdial_id={outdial_id}&result=fail&{token}", 900),
    ):
        screenshot(server.url + path, into / f"{name}.png", height=height)
