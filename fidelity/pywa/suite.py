#!/usr/bin/env python3
"""pywa against `wasim serve`: a real Cloud API client library as an acceptance suite.

pywa (https://pypi.org/project/pywa/, pinned in requirements.txt) talks to
https://graph.facebook.com through the httpx client it is given (`session=`);
the transports below send those requests to wasim instead:

- `GraphToWasim` keeps every path and header and only rewrites scheme, host and
  port: pywa speaks to wasim's Cloud API surface exactly as it would to Meta.
- `GraphTo360dialog` is an *adapter*: it maps pywa's Graph requests to
  360dialog's messaging API (`/messages`, `/v1/configs/templates`, the number's
  `D360-API-KEY` instead of the bearer token) and reshapes 360dialog's template
  answers into Graph's. No 360dialog client library exists on PyPI, npm or crates.io, so
  that surface can only be exercised this way, and is labelled as such.

Webhooks come back through pywa's own receiving code: `WhatsApp(server=Flask app)`
registers pywa's routes (the `hub.*` challenge, the `X-Hub-Signature-256`
validator with the app secret, the update parser and handler dispatch), served
on a loopback port that wasim's callback URL points at.

Usage: suite.py --wasim http://127.0.0.1:PORT   (fidelity/pywa/run.sh does it all)
Ends with `N passed, N failed`; exit 1 if any check failed, 2 if it could not run.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import flask
import httpx
import pywa
from pywa import WhatsApp, errors, handlers, types
from pywa.types import Button, Contact, MessageStatusType, Section, SectionList, SectionRow
from pywa.types import templates as tpl
from werkzeug.serving import make_server

GRAPH_HOST = "graph.facebook.com"
VERSION_SEGMENT = re.compile(r"^v\d+\.\d+$")

# Named recipients of the default world (README "The default world").
ANA = "5511987654321"  # BR
PRIYA = "919812345678"  # IN
SAM = "14155550123"  # US
LENA = "4915112345678"  # DE
# Magic recipients (README "Magic recipients").
DELIVERED_THEN_READ = "999000000"
DELIVERED_NEVER_READ = "999000001"
MAGIC_131049 = "999131049"
MAGIC_130429 = "999130429"

BSUID_HINT = (
    "pywa 4.5.0 needs Meta's 2026 business-scoped user ids on the wire: "
    "value.contacts[].user_id on inbound messages, and a value.contacts array on "
    "status updates (see docs/platform-rules.md); serve wasim with `--policy 2026-04`"
)


# --------------------------------------------------------------------------- transports


def _forward(
    inner: httpx.BaseTransport, request: httpx.Request, url: httpx.URL, headers: dict[str, str]
) -> httpx.Response:
    """Sends `request` to `url` with `headers` (Host and Content-Length recomputed)."""
    forwarded = httpx.Request(request.method, url, headers=headers, content=request.read())
    return inner.handle_request(forwarded)


def _kept_headers(request: httpx.Request, drop: tuple[str, ...] = ()) -> dict[str, str]:
    skip = {"host", "content-length", *drop}
    return {k: v for k, v in request.headers.items() if k.lower() not in skip}


class GraphToWasim(httpx.BaseTransport):
    """pywa's Graph API requests, sent to wasim's Cloud API surface unchanged but for
    scheme, host and port. A media URL wasim answered already points at wasim (as
    Meta's point at Meta's media host) and is fetched as it is."""

    def __init__(self, wasim: httpx.URL):
        self.wasim = wasim
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # A media URL or a `paging.next` URL names wasim itself (the Host it was
        # asked on): pywa follows it as it is.
        if (request.url.host, request.url.port) == (self.wasim.host, self.wasim.port):
            return _forward(self.inner, request, request.url, _kept_headers(request))
        if request.url.host != GRAPH_HOST:
            raise RuntimeError(f"pywa called {request.url}, outside the Graph API")
        url = request.url.copy_with(
            scheme=self.wasim.scheme, host=self.wasim.host, port=self.wasim.port
        )
        return _forward(self.inner, request, url, _kept_headers(request))

    def close(self) -> None:
        self.inner.close()


_D360_STATUS = {
    "approved": "APPROVED",
    "submitted": "PENDING",
    "rejected": "REJECTED",
    "paused": "PAUSED",
    "disabled": "DISABLED",
    "deleted": "DELETED",
}


class GraphTo360dialog(httpx.BaseTransport):
    """A Cloud-API-to-360dialog adapter, as an integration moving from Meta to
    360dialog would write one: `POST /{phone-number-id}/messages` goes to
    `POST /messages`, `GET|POST /{waba-id}/message_templates` to
    `/v1/configs/templates`, with the number's (or the WABA's first number's)
    `D360-API-KEY` instead of `Authorization: Bearer`. Template answers are
    reshaped into Graph's (`data` + `summary`; `{id, status, category}` on
    create); everything else, errors included, is passed back as 360dialog sent it.
    """

    def __init__(self, wasim: httpx.URL, key_of_phone: dict[str, str], key_of_waba: dict[str, str]):
        self.wasim = wasim
        self.key_of_phone = key_of_phone
        self.key_of_waba = key_of_waba
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != GRAPH_HOST:
            raise RuntimeError(f"pywa called {request.url}, outside the Graph API")
        segments = [s for s in request.url.path.split("/") if s]
        if segments and VERSION_SEGMENT.match(segments[0]):
            segments = segments[1:]
        headers = _kept_headers(request, drop=("authorization",))
        match segments:
            case [phone_id, "messages"] if request.method == "POST":
                headers["D360-API-KEY"] = self.key_of_phone.get(phone_id, "")
                return self._send(request, "/messages", headers)
            case [waba_id, "message_templates"] if request.method in ("GET", "POST"):
                headers["D360-API-KEY"] = self.key_of_waba.get(waba_id, "")
                response = self._send(request, "/v1/configs/templates", headers)
                return self._graph_templates(request.method, response)
            case _:
                return httpx.Response(
                    501,
                    json={
                        "error": {
                            "code": 3,
                            "message": f"(adapter) no 360dialog equivalent for "
                            f"{request.method} {request.url.path}",
                        }
                    },
                )

    def _send(self, request: httpx.Request, path: str, headers: dict[str, str]) -> httpx.Response:
        url = self.wasim.copy_with(path=path, query=None)
        return _forward(self.inner, request, url, headers)

    @staticmethod
    def _graph_templates(method: str, response: httpx.Response) -> httpx.Response:
        response.read()
        if response.status_code >= 300:
            return httpx.Response(
                response.status_code, headers=response.headers, content=response.content
            )
        body = response.json()
        if method == "POST":
            graph = {
                "id": body["id"],
                "status": _D360_STATUS.get(body.get("status", ""), "PENDING"),
                "category": body["category"],
            }
            return httpx.Response(200, json=graph)
        data = []
        for t in body["waba_templates"]:
            item = {
                # 360dialog lists templates by name and language, without Meta's id.
                "id": t.get("id") or f"{t['name']}:{t['language']}",
                "name": t["name"],
                "language": t["language"],
                "status": _D360_STATUS.get(t["status"], t["status"].upper()),
                "category": t["category"],
                "parameter_format": t.get("parameter_format", "POSITIONAL"),
                "components": t.get("components", []),
            }
            quality = t.get("quality_score") or {}
            if "score" in quality and "date" in quality:
                item["quality_score"] = quality
            data.append(item)
        summary = {
            "total_count": body.get("total", len(data)),
            "message_template_count": body.get("count", len(data)),
            "message_template_limit": 250,
            "are_translations_complete": True,
        }
        return httpx.Response(200, json={"data": data, "summary": summary})

    def close(self) -> None:
        self.inner.close()


# --------------------------------------------------------------------------- receiver


@dataclass
class Post:
    """One webhook POST as pywa's Flask route saw it."""

    body: Any
    signature: str | None
    status: int = 0
    pywa_errors: list[str] = field(default_factory=list)


class _Capture(logging.Handler):
    """Keeps pywa's error and warning log records, per request thread."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[tuple[int, str]] = []
        self.guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text += f": {type(exc).__name__}({exc})"
        with self.guard:
            self.records.append((record.thread or 0, text))


class Receiver:
    """pywa's own webhook handling, on Flask, on a loopback port."""

    def __init__(self, world: dict) -> None:
        self.app = flask.Flask("pywa_fidelity")
        waba = world["wabas"][0]
        self.wa = WhatsApp(
            server=self.app,
            webhook_endpoint="/webhook",
            verify_token=world["verify_token"],
            app_secret=world["app_secret"],
            validate_updates=True,
            waba_id=waba["id"],
        )
        self.cond = threading.Condition()
        self.messages: list = []
        self.statuses: list = []
        self.template_statuses: list = []
        self.template_qualities: list = []
        self.posts: list[Post] = []
        self.challenges: list[tuple[dict, int, str]] = []
        self.capture = _Capture()
        pywa_logger = logging.getLogger("pywa")
        pywa_logger.setLevel(logging.WARNING)
        pywa_logger.propagate = False
        pywa_logger.addHandler(self.capture)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)

        self.wa.add_handlers(
            handlers.MessageHandler(self._keep(self.messages)),
            handlers.MessageStatusHandler(self._keep(self.statuses)),
            handlers.TemplateStatusUpdateHandler(self._keep(self.template_statuses)),
            handlers.TemplateQualityUpdateHandler(self._keep(self.template_qualities)),
        )
        self.app.before_request(self._before)
        self.app.after_request(self._after)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _keep(self, into: list) -> Callable:
        def callback(_client: WhatsApp, update: Any) -> None:
            with self.cond:
                into.append(update)
                self.cond.notify_all()

        return callback

    def _before(self) -> None:
        request = flask.request
        flask.g.log_start = len(self.capture.records)
        if request.method == "POST":
            raw = request.get_data(cache=True)
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
            flask.g.post = Post(body=body, signature=request.headers.get("X-Hub-Signature-256"))

    def _after(self, response: flask.Response) -> flask.Response:
        request = flask.request
        me = threading.get_ident()
        with self.capture.guard:
            logged = [
                t for (thread, t) in self.capture.records[flask.g.log_start :] if thread == me
            ]
        if request.method == "GET":
            self.challenges.append(
                (dict(request.args), response.status_code, response.get_data(as_text=True))
            )
        elif (post := getattr(flask.g, "post", None)) is not None:
            post.status = response.status_code
            post.pywa_errors = logged
            with self.cond:
                self.posts.append(post)
                self.cond.notify_all()
        return response

    def wait(self, what: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Waits until `what()` is truthy (webhooks land on other threads)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = what()
                if found or time.monotonic() >= deadline:
                    return found
                self.cond.wait(timeout=max(0.0, deadline - time.monotonic()))

    def status_of(self, wamid: str, status: MessageStatusType, timeout: float = 5.0):
        return self.wait(
            lambda: next((s for s in self.statuses if s.id == wamid and s.status == status), None),
            timeout,
        )

    def template_status_of(self, name: str, status=None, timeout: float = 5.0):
        """The first template status update for `name` (with `status`, if given)."""
        return self.wait(
            lambda: next(
                (
                    u
                    for u in self.template_statuses
                    if u.template_name == name and (status is None or u.new_status == status)
                ),
                None,
            ),
            timeout,
        )

    def why_missing(self, what: str, carried: Callable[[Any], bool]) -> str:
        """Why pywa produced no typed update for something: what wasim posted and
        what pywa said about it."""
        posts = [p for p in self.posts if isinstance(p.body, dict) and _safe(carried, p.body)]
        if not posts:
            return f"{what}: wasim posted no webhook carrying it"
        refused = [p for p in posts if p.status >= 300]
        accepted = [p for p in posts if p.status < 300]
        if refused and not accepted:
            return (
                f"{what}: pywa answered HTTP {refused[-1].status} to wasim's post "
                f"(signature {refused[-1].signature!r}); {'; '.join(refused[-1].pywa_errors)}"
            )
        posts = accepted
        said = "; ".join(e for p in posts for e in p.pywa_errors) or "nothing logged"
        hint = ""
        if "'contacts'" in said or "'user_id'" in said:
            hint = f" — {BSUID_HINT}"
        value = posts[-1].body["entry"][0]["changes"][0]["value"]
        shape = f"value keys {sorted(value)}"
        if "contacts" in value:
            shape += f", contacts[0] keys {sorted(value['contacts'][0])}"
        return (
            f"{what}: wasim posted it and pywa accepted it (200), but pywa built no "
            f"update from it ({shape}); pywa logged: {said}{hint}"
        )

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


def _safe(pred: Callable[[Any], bool], body: Any) -> bool:
    try:
        return bool(pred(body))
    except (KeyError, IndexError, TypeError):
        return False


def _value(body: dict) -> dict:
    return body["entry"][0]["changes"][0]["value"]


def carries_status(wamid: str, status: str) -> Callable[[Any], bool]:
    return lambda b: any(
        s["id"] == wamid and s["status"] == status for s in _value(b).get("statuses", [])
    )


def carries_message(text: str) -> Callable[[Any], bool]:
    return lambda b: any(
        m.get("text", {}).get("body") == text for m in _value(b).get("messages", [])
    )


# --------------------------------------------------------------------------- the suite


class Failed(Exception):
    pass


# Known ways wasim's answers differ from what pywa sends, by a fragment of the
# error's details: printed with the failure so it says where to look.
KNOWN_GAPS = {
    "got 'BODY'": "pywa 4.5.0 sends template component types in upper case only "
    "(`BODY`, `HEADER`, `BUTTON`) and its users send templates to Meta so; wasim's send "
    "validation (sim/src/model/send.rs) accepts only the lower case of Meta's spec",
}


def describe(e: errors.WhatsAppError) -> str:
    """A pywa API error in one line, with the known gap it points at."""
    text = f"pywa.errors.{type(e).__name__} (code {e.code}, HTTP {e.status_code}): {e.message}" + (
        f" — {e.details}" if e.details else ""
    )
    for fragment, gap in KNOWN_GAPS.items():
        if fragment in text:
            text += f" [{gap}]"
    return text


def expect(condition: Any, message: str) -> None:
    if not condition:
        raise Failed(message)


def expect_raises(exc_class: type[errors.WhatsAppError], code: int, call: Callable[[], Any]):
    try:
        result = call()
    except errors.WhatsAppError as e:
        expect(
            type(e) is exc_class and e.code == code,
            f"{describe(e)}; expected {exc_class.__name__} ({code})",
        )
        return e
    raise Failed(
        f"no error raised; pywa returned {result!r}; expected {exc_class.__name__} ({code})"
    )


def english_template(
    name: str, category: tpl.TemplateCategory, param_format: tpl.ParamFormat, components: list
) -> tpl.Template:
    """A template in en_US, as pywa builds one for create_template."""
    return tpl.Template(
        name=name,
        category=category,
        language=tpl.TemplateLanguage.ENGLISH_US,
        parameter_format=param_format,
        components=components,
    )


def send_with_parameter(wa: WhatsApp, name: str, parameter: str) -> str:
    """Sends template `name`, its one body parameter filled, to a recipient who
    never reads; the check's result names the wamid."""
    sent = wa.send_template(
        to=DELIVERED_NEVER_READ,
        name=name,
        language=tpl.TemplateLanguage.ENGLISH_US,
        params=[tpl.BodyText.params(parameter)],
    )
    expect(sent.id.startswith("wamid."), f"sent template id {sent.id!r}")
    return f"id {sent.id}"


class Suite:
    def __init__(self, wasim: str) -> None:
        self.wasim = httpx.URL(wasim)
        self.control = httpx.Client(base_url=wasim, timeout=60)
        self.passed = 0
        self.failed = 0
        self.world = self.get("/_wasim/world")
        self.receiver = Receiver(self.world)
        waba = self.world["wabas"][0]
        self.waba_id = waba["id"]
        phones = waba["phone_numbers"]
        self.phone = {p["country"]: p["id"] for p in phones}
        self.key_of_phone = {p["id"]: p["d360_api_key"] for p in phones}
        self.clients: list[httpx.Client] = []

    # ---- control API (the harness's own: not pywa)

    def get(self, path: str) -> Any:
        response = self.control.get(path)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict | None = None) -> Any:
        response = self.control.post(path, json=body if body is not None else {})
        if response.status_code >= 300:
            raise Failed(f"control POST {path} answered {response.status_code}: {response.text}")
        return response.json()

    def advance(self, seconds: int) -> None:
        self.post("/_wasim/clock/advance", {"seconds": seconds})

    def inbound(self, wa_id: str, text: str, phone_number_id: str | None = None) -> str:
        body = {"from": wa_id, "text": text}
        if phone_number_id:
            body["phone_number_id"] = phone_number_id
        return self.post("/_wasim/inbound", body)["id"]

    def trace_records(self, kind: str) -> list[dict]:
        text = self.control.get("/_wasim/trace").text
        return [r for r in map(json.loads, filter(None, text.splitlines())) if r.get("kind") == kind]

    def trace_requests(self) -> list[dict]:
        return self.trace_records("request")

    # ---- pywa clients

    def graph_client(self, token: str | None = None, phone_id: str | None = None) -> WhatsApp:
        session = httpx.Client(transport=GraphToWasim(self.wasim), timeout=30)
        self.clients.append(session)
        return WhatsApp(
            phone_id=phone_id or self.phone["US"],
            token=token or self.world["access_token"],
            session=session,
            waba_id=self.waba_id,
        )

    def d360_client(
        self, phone_id: str | None = None, key_of_phone: dict[str, str] | None = None
    ) -> WhatsApp:
        keys = key_of_phone or self.key_of_phone
        first = self.world["wabas"][0]["phone_numbers"][0]["id"]
        transport = GraphTo360dialog(self.wasim, keys, {self.waba_id: keys.get(first, "")})
        session = httpx.Client(transport=transport, timeout=30)
        self.clients.append(session)
        return WhatsApp(
            phone_id=phone_id or self.phone["US"],
            # pywa wants a token; the adapter presents the number's D360-API-KEY instead.
            token="unused-by-the-360dialog-adapter",
            session=session,
            waba_id=self.waba_id,
        )

    # ---- running checks

    def check(self, name: str, body: Callable[[], Any]) -> None:
        try:
            note = body()
        except Failed as e:
            self.failed += 1
            print(f"  FAIL  {name}\n        {e}", flush=True)
        except errors.WhatsAppError as e:  # an API error no check expected
            self.failed += 1
            print(f"  FAIL  {name}\n        unexpected {describe(e)}", flush=True)
        except Exception as e:  # a crash in pywa or in the check is a failure too
            self.failed += 1
            tb = traceback.format_exception_only(type(e), e)[-1].strip()
            print(f"  FAIL  {name}\n        unexpected {tb}", flush=True)
        else:
            self.passed += 1
            print(f"  PASS  {name}" + (f" ({note})" if note else ""), flush=True)

    def reset(self) -> None:
        self.post("/_wasim/reset")
        self.post("/_wasim/webhooks/faults", {})

    # ---- the checks both surfaces share

    def status_checks(self, wa: WhatsApp, label: str) -> None:
        r = self.receiver
        sent: dict[str, str] = {}

        def text_in_window():
            self.inbound(ANA, f"hello from Ana ({label})")  # opens the service window
            msg = wa.send_message(to=ANA, text=f"Thanks Ana ({label})")
            expect(msg.id.startswith("wamid."), f"sent message id {msg.id!r}")
            expect(msg.input == ANA, f"contacts[0].input {msg.input!r}")
            sent["text"] = msg.id
            return f"id {msg.id}"

        def template_accepted():
            msg = wa.send_template(
                to=DELIVERED_THEN_READ, name="spring_sale", language=tpl.TemplateLanguage.ENGLISH_US
            )
            expect(msg.id.startswith("wamid."), f"sent template id {msg.id!r}")
            sent["template"] = msg.id
            return f"id {msg.id}"

        def template_with_parameter():
            return send_with_parameter(wa, "order_update", "A-1001")

        self.check(f"send text inside the service window ({label})", text_in_window)
        self.check(f"send template spring_sale ({label})", template_accepted)
        self.check(
            f"send template order_update with a body parameter ({label})", template_with_parameter
        )

        def statuses():
            wamid = sent.get("template")
            expect(wamid, "no template was sent")
            self.advance(3600)
            got = []
            for status in (
                MessageStatusType.SENT,
                MessageStatusType.DELIVERED,
                MessageStatusType.READ,
            ):
                s = r.status_of(wamid, status)
                expect(
                    s,
                    r.why_missing(
                        f"the {status} status of {wamid}", carries_status(wamid, str(status))
                    ),
                )
                expect(s.error is None, f"{status} status carries an error {s.error!r}")
                got.append(f"{status} at {s.timestamp:%H:%M:%S}")
            return ", ".join(got)

        self.check(f"status updates sent, delivered, read parsed by pywa ({label})", statuses)

    def message_type_checks(self, wa: WhatsApp, label: str) -> None:
        """Every message type pywa sends, and read receipts, taken by wasim."""
        received: dict[str, str] = {}

        def types_in_window():
            received["id"] = self.inbound(ANA, f"Can you send my receipt? ({label})")
            sent = [
                wa.send_image(to=ANA, image="https://cdn.example.com/receipt.png", caption="Receipt"),
                wa.send_document(
                    to=ANA, document="https://cdn.example.com/invoice.pdf", filename="invoice.pdf"
                ),
                wa.send_message(
                    to=ANA,
                    text="Change or cancel your order?",
                    footer="Lucky Shrub",
                    buttons=[Button("Change", "change"), Button("Cancel", "cancel")],
                    reply_to_message_id=received["id"],
                ),
                wa.send_message(
                    to=ANA,
                    text="Pick a delivery slot",
                    buttons=SectionList(
                        button_title="Slots",
                        sections=[
                            Section(
                                title="Tomorrow",
                                rows=[SectionRow("Morning", "am"), SectionRow("Evening", "pm")],
                            )
                        ],
                    ),
                ),
                wa.send_location(to=ANA, latitude=-23.55, longitude=-46.63, name="Shop"),
                wa.request_location(to=ANA, text="Where should we deliver?"),
                wa.send_contact(
                    to=ANA,
                    contact=Contact(name=Contact.Name(formatted_name="Support", first_name="Support")),
                ),
                wa.send_reaction(to=ANA, emoji="\U0001F44D", message_id=received["id"]),
                wa.remove_reaction(to=ANA, message_id=received["id"]),
            ]
            ids = [m.id for m in sent]
            expect(all(i.startswith("wamid.") for i in ids), f"message ids {ids}")
            traced = [
                r["message_type"]
                for r in self.trace_records("message_accepted")
                if r.get("message_id") in ids
            ]
            expect(len(traced) == len(ids), f"{len(traced)} of {len(ids)} sends traced as accepted")
            return ", ".join(traced)

        self.check(f"image, document, buttons, list, location, contact, reaction ({label})", types_in_window)

        def read_receipts():
            wamid = received.get("id")
            expect(wamid, "no inbound message to mark read")
            first = wa.mark_message_as_read(message_id=wamid)
            typing = wa.indicate_typing(message_id=wamid)
            expect(first.success and typing.success, f"answers {first!r} {typing!r}")
            marked = [
                r for r in self.trace_records("message_marked_read") if r.get("message_id") == wamid
            ]
            expect(
                [r.get("typing") for r in marked] == [False, True],
                f"message_marked_read records {marked}",
            )
            return "mark_message_as_read and indicate_typing answered success"

        self.check(f"mark as read and typing indicator ({label})", read_receipts)

        def read_own_message():
            msg = wa.send_message(to=ANA, text="ours")
            e = expect_raises(
                errors.InvalidParameter, 131009, lambda: wa.mark_message_as_read(message_id=msg.id)
            )
            return f"{type(e).__name__} {e.code}"

        self.check(f"marking the business's own message read is refused ({label})", read_own_message)

    def error_checks(self, wa: WhatsApp, label: str) -> None:
        r = self.receiver

        def rate_limit():
            e = expect_raises(
                errors.RateLimitHit,
                130429,
                lambda: wa.send_template(
                    to=MAGIC_130429, name="spring_sale", language=tpl.TemplateLanguage.ENGLISH_US
                ),
            )
            return f"HTTP {e.status_code}"

        def marketing_limit(to: str, how: str) -> Callable[[], str]:
            def run():
                if to == PRIYA:
                    self.post("/_wasim/ecosystem/marketing", {"to": PRIYA, "count": 2})
                msg = wa.send_template(
                    to=to,
                    name="spring_sale",
                    language=tpl.TemplateLanguage.ENGLISH_US,
                    sender=self.phone["TR"],
                )
                self.advance(60)
                s = r.status_of(msg.id, MessageStatusType.FAILED)
                expect(
                    s,
                    r.why_missing(
                        f"the failed status of {msg.id}", carries_status(msg.id, "failed")
                    ),
                )
                expect(
                    type(s.error) is errors.MessageUndeliverableDueToHealthyEcosystemEngagement
                    and s.error.code == 131049,
                    f"status error {s.error!r}; expected "
                    "MessageUndeliverableDueToHealthyEcosystemEngagement (131049)",
                )
                return f"{how}: accepted with 200, failed by webhook"

            return run

        def reengagement():
            self.inbound(SAM, f"hi ({label})")
            self.advance(25 * 3600)
            msg = wa.send_message(to=SAM, text=f"Are you still there? ({label})")
            self.advance(60)
            s = r.status_of(msg.id, MessageStatusType.FAILED)
            expect(
                s, r.why_missing(f"the failed status of {msg.id}", carries_status(msg.id, "failed"))
            )
            expect(
                type(s.error) is errors.ReEngagementMessage and s.error.code == 131047,
                f"status error {s.error!r}; expected ReEngagementMessage (131047)",
            )
            return "free-form text 25 h after the user wrote"

        def paused():
            self.post("/_wasim/templates/spring_sale", {"pause": True})
            try:
                e = expect_raises(
                    errors.TemplatePaused,
                    132015,
                    lambda: wa.send_template(
                        to=ANA, name="spring_sale", language=tpl.TemplateLanguage.ENGLISH_US
                    ),
                )
            finally:
                self.post("/_wasim/templates/spring_sale", {"unpause": True})
            return f"HTTP {e.status_code}"

        def empty_text():
            e = expect_raises(errors.WhatsAppError, 100, lambda: wa.send_message(to=ANA, text=""))
            expect(
                e.message == "(#100) The parameter text['body'] is required.",
                f"message {e.message!r}; expected the live API's",
            )
            return f"HTTP {e.status_code}: {e.message}"

        self.check(f"130429 throughput limit raises pywa's RateLimitHit ({label})", rate_limit)
        self.check(
            f"an empty text body is refused as the live API refuses it: 100 naming text['body'] ({label})",
            empty_text,
        )
        self.check(
            f"131049 per-user marketing limit arrives as a failed status whose error is "
            f"pywa's MessageUndeliverableDueToHealthyEcosystemEngagement ({label})",
            marketing_limit(PRIYA, "Priya capped through POST /_wasim/ecosystem/marketing"),
        )
        self.check(
            f"131049 for the magic recipient {MAGIC_131049} ({label})",
            marketing_limit(MAGIC_131049, "magic recipient"),
        )
        self.check(
            f"131047 outside the 24 h window arrives as pywa's ReEngagementMessage ({label})",
            reengagement,
        )
        self.check(f"132015 paused template raises pywa's TemplatePaused ({label})", paused)

    # ---- Cloud API surface

    def cloud(self) -> None:
        print("\nCloud API surface (pywa's Graph requests, host rewritten to wasim)", flush=True)
        r = self.receiver
        self.reset()
        start = len(self.trace_requests())
        wa = self.graph_client()

        def handshake():
            answer = self.post("/_wasim/webhooks/config", {"callback_url": r.url})
            at_set = answer.get("verification", {})
            verify = self.post("/_wasim/webhooks/verify")
            expect(
                verify.get("echoed") is True and verify.get("http_status") == 200,
                f"wasim's verification: {verify}; pywa saw {r.challenges}",
            )
            args, status, body = r.challenges[-1]
            expect(
                {"hub.mode", "hub.challenge", "hub.verify_token"} <= set(args),
                f"handshake parameters {sorted(args)}",
            )
            expect(
                status == 200 and body == args["hub.challenge"], f"pywa answered {status} {body!r}"
            )
            return (
                f"callback set: echoed={at_set.get('echoed')}; "
                f"{len(r.challenges)} challenge(s) answered by pywa"
            )

        self.check(
            "webhook handshake: wasim's hub.* GET answered by pywa's challenge handler", handshake
        )

        def inbound():
            wamid = self.inbound(ANA, "Hi, is my order on its way?")
            m = r.wait(lambda: next((m for m in r.messages if m.id == wamid), None))
            expect(
                m,
                r.why_missing(
                    f"inbound message {wamid}", carries_message("Hi, is my order on its way?")
                ),
            )
            expect(m.text == "Hi, is my order on its way?", f"text {m.text!r}")
            expect(m.from_user.wa_id == ANA, f"from_user.wa_id {m.from_user.wa_id!r}")
            expect(
                m.metadata.phone_number_id == self.phone["US"],
                f"metadata.phone_number_id {m.metadata.phone_number_id!r}",
            )
            return f"from_user bsuid {m.from_user.bsuid!r}, name {m.from_user.name!r}"

        self.check(
            "inbound text message parsed by pywa (signed, validated, typed Message)", inbound
        )
        self.status_checks(wa, "Graph")
        self.message_type_checks(wa, "Graph")
        self.error_checks(wa, "Graph")

        def bad_token():
            bad = self.graph_client(token="not_a_valid_token")
            e = expect_raises(
                errors.ExpiredAccessToken, 190, lambda: bad.send_message(to=ANA, text="never sent")
            )
            expect(e.status_code == 401, f"HTTP {e.status_code}")
            return "HTTP 401"

        self.check("190 bad access token raises pywa's ExpiredAccessToken", bad_token)
        self.template_checks(wa, "Graph")

        def template_webhooks():
            self.post("/_wasim/templates/spring_sale", {"pause": True})
            self.post("/_wasim/templates/spring_sale", {"unpause": True})
            self.post("/_wasim/templates/order_update", {"quality": "YELLOW"})
            # The pause, then the unpause: each a status update pywa parsed.
            for status, event, what in [
                (tpl.TemplateStatus.PAUSED, "PAUSED", "PAUSED"),
                (tpl.TemplateStatus.APPROVED, "APPROVED", "APPROVED (unpaused)"),
            ]:
                update = r.template_status_of("spring_sale", status)
                expect(
                    update,
                    r.why_missing(
                        f"spring_sale's {what} status update",
                        lambda b, event=event: _value(b).get("event") == event,
                    ),
                )
            back = update  # the last one: APPROVED, the unpause
            quality = r.wait(
                lambda: next(
                    (u for u in r.template_qualities if u.template_name == "order_update"), None
                )
            )
            expect(
                quality,
                r.why_missing(
                    "order_update's quality update", lambda b: "new_quality_score" in _value(b)
                ),
            )
            expect(
                quality.new_quality_score == tpl.QualityScoreType.YELLOW
                and quality.previous_quality_score == tpl.QualityScoreType.GREEN,
                f"quality {quality.previous_quality_score} -> {quality.new_quality_score}",
            )
            return f"PAUSED, then APPROVED ({back.other_info!r}); quality GREEN -> YELLOW"

        self.check("template status and quality updates parsed by pywa", template_webhooks)

        def media():
            jpeg = b"\xff\xd8\xff\xe0 a wasim pywa check \xff\xd9"
            uploaded = wa.upload_media(media=jpeg, mime_type="image/jpeg", filename="photo.jpg")
            url = wa.get_media_url(uploaded.id)
            expect(url.id == uploaded.id, f"id {url.id!r}, uploaded {uploaded.id!r}")
            expect(url.mime_type == "image/jpeg", f"mime_type {url.mime_type!r}")
            expect(url.file_size == len(jpeg), f"file_size {url.file_size!r}")
            expect(url.sha256 == hashlib.sha256(jpeg).hexdigest(), f"sha256 {url.sha256!r}")
            got = wa.get_media_bytes(url.url)
            expect(got == jpeg, f"downloaded {len(got)} bytes, not the {len(jpeg)} uploaded")
            expect(bool(wa.delete_media(uploaded.id)), "delete_media did not succeed")
            expect_raises(errors.WhatsAppError, 100, lambda: wa.get_media_url(uploaded.id))
            gif = lambda: wa.upload_media(media=b"GIF89a", mime_type="image/gif", filename="a.gif")
            e = expect_raises(errors.WhatsAppError, 100, gif)
            expect("Received file of type 'image/gif'" in e.message, f"message {e.message!r}")
            return f"uploaded, read ({url.file_size} bytes), downloaded from {httpx.URL(url.url).path}, deleted"

        self.check(
            "media uploaded, read, downloaded and deleted through pywa (Graph)", media
        )

        def inbound_image():
            png = b"\x89PNG\r\n\x1a\n a wasim pywa check"
            wamid = self.post(
                "/_wasim/inbound",
                {
                    "from": ANA,
                    "image": {
                        "mime_type": "image/png",
                        "data": base64.b64encode(png).decode(),
                        "caption": "Is this broken?",
                    },
                },
            )["id"]
            m = r.wait(lambda: next((m for m in r.messages if m.id == wamid), None))
            expect(m, r.why_missing(f"inbound image {wamid}", lambda b: "image" in json.dumps(b)))
            expect(m.image is not None, f"no image on {m!r}")
            expect(m.caption == "Is this broken?", f"caption {m.caption!r}")
            expect(m.image.mime_type == "image/png", f"mime_type {m.image.mime_type!r}")
            expect(m.image.sha256 == hashlib.sha256(png).hexdigest(), f"sha256 {m.image.sha256!r}")
            # The receiving client has no token: the sending one reads the id.
            got = wa.get_media_bytes(wa.get_media_url(m.image.id).url)
            expect(got == png, f"downloaded {len(got)} bytes, not the {len(png)} sent")
            return f"image {m.image.id} parsed and downloaded"

        self.check("inbound image parsed by pywa and downloaded through its id", inbound_image)

        def inbound_kinds():
            ours = wa.send_message(to=ANA, text="Your order shipped")
            kinds = {
                "document": {"caption": "the invoice", "filename": "invoice.pdf"},
                "audio": {"voice": True},
                "video": {"caption": "unboxing"},
                "sticker": {"animated": False},
                "location": {"latitude": -23.55, "longitude": -46.63, "name": "Home"},
                "contacts": [{"name": {"formatted_name": "Bea", "first_name": "Bea"}}],
                "reaction": {"message_id": ours.id, "emoji": "\U0001F44D"},
            }
            parsed = []
            for kind, content in kinds.items():
                wamid = self.post("/_wasim/inbound", {"from": ANA, kind: content})["id"]
                m = r.wait(lambda: next((m for m in r.messages if m.id == wamid), None))
                expect(m, r.why_missing(f"inbound {kind} {wamid}", lambda b: kind in json.dumps(b)))
                expect(str(m.type) == kind, f"{kind}: pywa typed it {m.type!r}")
                got = getattr(m, kind)
                expect(got is not None, f"{kind}: pywa read no {kind} on {m!r}")
                if kind == "location":
                    expect((got.latitude, got.name) == (-23.55, "Home"), f"location {got!r}")
                elif kind == "contacts":
                    name = got[0].name.formatted_name
                    expect(name == "Bea", f"contact name {name!r}")
                elif kind == "reaction":
                    expect(got.message_id == ours.id, f"reaction to {got.message_id!r}")
                else:
                    expect(got.id and got.sha256 and got.mime_type, f"{kind} media {got!r}")
                parsed.append(kind)
            return ", ".join(parsed)

        self.check(
            "inbound document, audio, video, sticker, location, contacts and reaction parsed by pywa",
            inbound_kinds,
        )

        def register():
            de = self.phone["DE"]
            done = wa.register_phone_number(pin="246810", phone_id=de)
            expect(done, f"register answered {done!r}")
            try:
                wa.register_phone_number(pin="000000", phone_id=de)
            except errors.WhatsAppError as e:
                expect(e.code == 133005, f"a wrong PIN raised {type(e).__name__}({e.code})")
                return "then a wrong PIN is refused with 133005 (pywa maps no class to it)"
            raise Failed("registering again with a wrong PIN was not refused")

        self.check("register a number with a PIN (register_phone_number)", register)
        self.number_checks(wa)

        def forged():
            self.post("/_wasim/webhooks/faults", {"forged": "1/1"})
            before = self.get("/_wasim/webhooks")["counters"]
            refused_before = sum(1 for p in r.posts if p.status == 403)
            text = "a message to forge"
            self.inbound(LENA, text)
            self.advance(60)
            self.post("/_wasim/webhooks/faults", {})
            after = self.get("/_wasim/webhooks")["counters"]
            got = [m for m in r.messages if getattr(m, "text", None) == text]
            refused = sum(1 for p in r.posts if p.status == 403) - refused_before
            expect(after["forged"] > before["forged"], f"wasim forged nothing: {after}")
            expect(
                after["forged_accepted"] == 0,
                f"pywa accepted {after['forged_accepted']} forged post(s)",
            )
            expect(refused >= 1, "pywa refused no post with 403")
            expect(
                len(got) == 1,
                r.why_missing("the genuine inbound message", carries_message(text))
                if not got
                else f"pywa handled {len(got)} copies of the message",
            )
            return f"{refused} forged post(s) refused with 403, the genuine one handled once"

        self.check(
            "signature validator: forged copies refused (403), genuine posts accepted", forged
        )

        def all_acknowledged():
            counters = self.get("/_wasim/webhooks")["counters"]
            genuine_refused = [p for p in r.posts if p.status >= 300 and p.status != 403]
            expect(
                not genuine_refused,
                f"pywa refused genuine posts: {[p.status for p in genuine_refused]}",
            )
            bad = [p for p in r.posts if p.status == 403]
            expect(
                len(bad) == counters["forged"],
                f"{len(bad)} posts refused by pywa's validator, {counters['forged']} forged",
            )
            return f"{counters['acknowledged']} posts acknowledged"

        self.check("every genuine signed webhook validated by pywa (app secret)", all_acknowledged)
        self.check(
            "pywa's requests all reached wasim's Cloud API surface (wasim trace)",
            self.surface_check(start, "graph"),
        )

    def surface_check(self, start: int, surface: str) -> Callable[[], str]:
        """Every request since trace record `start` reached `surface`."""

        def run():
            requests = self.trace_requests()[start:]
            surfaces = {r["surface"] for r in requests}
            shapes = sorted(
                {
                    "/".join("{id}" if s.isdigit() else s for s in r["path"].split("/"))
                    for r in requests
                }
            )
            expect(surfaces == {surface}, f"requests reached surfaces {surfaces}: {shapes}")
            return f"{len(requests)} requests: {', '.join(shapes)}"

        return run

    def number_checks(self, wa: WhatsApp) -> None:
        """The number, the WABA, the business profile and the WABA's callback override,
        read and changed through pywa's own calls."""
        r = self.receiver
        us, de, tr = self.phone["US"], self.phone["DE"], self.phone["TR"]

        def phone_number():
            number = wa.get_business_phone_number()
            seen = (
                f"{number.display_phone_number} {number.quality_rating} {number.status} "
                f"{number.platform_type} {number.throughput} "
                f"{number.whatsapp_business_manager_messaging_limit}"
            )
            expect(number.id == us and number.display_phone_number == "+1 555-010-0001", seen)
            expect(number.quality_rating == "GREEN" and number.status == "CONNECTED", seen)
            expect(number.platform_type == "CLOUD_API", seen)
            expect(number.throughput == {"level": "STANDARD"}, seen)
            expect(number.whatsapp_business_manager_messaging_limit == "TIER_10K", seen)
            self.post("/_wasim/account", {"incident": "quality", "quality": "RED"})
            flagged = wa.get_business_phone_number()
            self.post("/_wasim/account", {"incident": "quality", "quality": "GREEN"})
            expect(
                flagged.quality_rating == "RED" and flagged.status == "FLAGGED",
                f"after a RED quality incident: {flagged.quality_rating} {flagged.status}",
            )
            return f"{seen}; RED and FLAGGED after a quality incident"

        self.check("read the number (get_business_phone_number)", phone_number)

        def phone_numbers():
            first = wa.get_business_phone_numbers(pagination=types.Pagination(limit=2))
            ids = [n.id for n in first]
            expect(ids == [us, de], f"first page {ids}")
            expect(first.has_next and first.after, "a next page and its cursor")
            rest = first.next()
            more = [n.id for n in rest]
            expect(more == [tr] and not rest.has_next, f"next page {more}")
            return f"{ids}, then {more} through paging.next"

        self.check("list the numbers page by page (get_business_phone_numbers)", phone_numbers)

        def business_account():
            waba = wa.get_business_account()
            seen = f"{waba.name!r} timezone {waba.timezone_id} {waba.currency} {waba.account_review_status}"
            expect(waba.id == self.waba_id and waba.name == "Wasim Demo Shop", seen)
            expect(waba.timezone_id == "1" and waba.message_template_namespace, seen)
            apps = waba.subscribed_apps or ()
            expect(len(apps) == 1 and apps[0].id and apps[0].link, f"subscribed apps {apps}")
            return f"{seen}, subscribed app {apps[0].name!r}"

        self.check("read the WABA (get_business_account)", business_account)

        def business_profile():
            done = wa.update_business_profile(
                about="Succulent specialists!",
                email="lucky@luckyshrub.test",
                websites=["https://luckyshrub.test/"],
                industry=types.Industry.RETAIL,
            )
            expect(done, f"update answered {done!r}")
            profile = wa.get_business_profile()
            expect(
                profile.about == "Succulent specialists!"
                and profile.email == "lucky@luckyshrub.test"
                and profile.websites == ("https://luckyshrub.test/",)
                and profile.industry == types.Industry.RETAIL,
                f"read back {profile}",
            )
            try:
                wa.update_business_profile(about="a" * 140)
            except errors.WhatsAppError as e:
                expect(e.code == 100, f"a 140-character about raised {describe(e)}")
                return "updated and read back; a 140-character about refused with 100"
            raise Failed("a 140-character about was accepted")

        self.check(
            "update and read the business profile (update_business_profile, get_business_profile)",
            business_profile,
        )

        def override():
            asked = len(r.challenges)
            done = wa.override_waba_callback_url(
                callback_url=r.url, verify_token=self.world["verify_token"]
            )
            expect(done, f"override answered {done!r}")
            expect(
                len(r.challenges) == asked + 1 and r.challenges[-1][1] == 200,
                f"wasim's verification of the override, as pywa answered it: {r.challenges[asked:]}",
            )
            apps = wa.api.get_waba_subscribed_apps(self.waba_id)["data"]
            expect(apps and apps[0].get("override_callback_uri") == r.url, f"subscribed apps {apps}")
            number = wa.get_business_phone_number()
            expect(
                (number.webhook_configuration or {}).get("whatsapp_business_account") == r.url,
                f"webhook_configuration {number.webhook_configuration}",
            )
            text = "through the WABA's override"
            wamid = self.inbound(LENA, text)
            m = r.wait(lambda: next((m for m in r.messages if m.id == wamid), None))
            expect(m, r.why_missing(f"inbound message {wamid}", carries_message(text)))
            expect(wa.delete_waba_callback_url(), "delete_waba_callback_url answered false")
            apps = wa.api.get_waba_subscribed_apps(self.waba_id)["data"]
            expect(apps and "override_callback_uri" not in apps[0], f"after deleting: {apps}")
            return "verified through pywa's challenge handler, messages arrived, then deleted"

        self.check(
            "override the WABA's callback URL (override_waba_callback_url, delete_waba_callback_url)",
            override,
        )

    def template_checks(self, wa: WhatsApp, label: str) -> None:
        r = self.receiver
        name = f"pywa_fidelity_{label.lower()}"

        def listing():
            result = wa.get_templates()
            by_name = {t.name: t for t in result}
            expect(
                {"spring_sale", "order_update", "login_code"} <= set(by_name),
                f"listed {sorted(by_name)}",
            )
            spring = by_name["spring_sale"]
            expect(
                spring.category == tpl.TemplateCategory.MARKETING
                and spring.status == tpl.TemplateStatus.APPROVED,
                f"spring_sale {spring.category} {spring.status}",
            )
            return f"{len(by_name)} templates, total_count {result.total_count}"

        def create():
            template = english_template(
                name,
                tpl.TemplateCategory.UTILITY,
                tpl.ParamFormat.POSITIONAL,
                [tpl.BodyText("Your order {{1}} has shipped.", "A-1")],
            )
            created = wa.create_template(template)
            expect(created.status == tpl.TemplateStatus.PENDING, f"status {created.status}")
            self.advance(6 * 60)
            approved = r.template_status_of(name)
            expect(
                approved,
                r.why_missing(
                    f"{name}'s review outcome",
                    lambda b: _value(b).get("message_template_name") == name,
                ),
            )
            expect(
                approved.new_status == tpl.TemplateStatus.APPROVED,
                f"review outcome {approved.new_status}",
            )
            listed = {t.name: t for t in wa.get_templates()}
            expect(
                name in listed and listed[name].status == tpl.TemplateStatus.APPROVED,
                f"after review the list has {name}: {listed.get(name)!r}",
            )
            return f"id {created.id}, PENDING, then APPROVED by webhook and in the list"

        def send_created():
            return send_with_parameter(wa, name, "A-2002")

        self.check(f"list templates (get_templates) ({label})", listing)
        self.check(f"create a template (create_template) and see it approved ({label})", create)
        self.check(f"send the new template with its body parameter ({label})", send_created)
        self.component_checks(wa, label)

    def component_checks(self, wa: WhatsApp, label: str) -> None:
        """Templates with real components: pywa's own template classes parse the
        listed components, a template created with every kind of component reads
        back as created, and sends with header media, named and button parameters
        are taken or refused with the code pywa maps."""
        name = f"pywa_components_{label.lower()}"

        def kinds(components: list) -> list[str]:
            out = []
            for c in components:
                out.append(type(c).__name__)
                if isinstance(c, tpl.Buttons):
                    out.extend(type(b).__name__ for b in c.buttons)
            return out

        def parsed_defaults():
            by_name = {t.name: t for t in wa.get_templates()}
            arrivals = by_name["new_arrivals"]
            expect(
                arrivals.parameter_format == tpl.ParamFormat.NAMED,
                f"new_arrivals parameter_format {arrivals.parameter_format!r}",
            )
            want = ["HeaderImage", "BodyText", "FooterText", "Buttons",
                    "URLButton", "CopyCodeButton", "QuickReplyButton"]
            expect(kinds(arrivals.components) == want, f"new_arrivals {kinds(arrivals.components)}")
            body = next(c for c in arrivals.components if isinstance(c, tpl.BodyText))
            expect(
                set(body.example) == {"first_name", "collection", "code"},
                f"new_arrivals body examples {body.example!r}",
            )
            login = by_name["login_code"]
            want = ["AuthenticationBody", "AuthenticationFooter", "Buttons", "CopyCodeOTPButton"]
            expect(kinds(login.components) == want, f"login_code {kinds(login.components)}")
            return "new_arrivals: " + ", ".join(kinds(arrivals.components)) + "; login_code OTP"

        def create_components():
            template = english_template(
                name,
                tpl.TemplateCategory.MARKETING,
                tpl.ParamFormat.NAMED,
                [
                    tpl.HeaderText("Our {{sale}} is on!", sale="Summer Sale"),
                    tpl.BodyText(
                        "Shop through {{end_date}} with code {{code}}.",
                        end_date="August", code="25OFF",
                    ),
                    tpl.FooterText(text="Reply STOP to opt out"),
                    tpl.Buttons(buttons=[
                        tpl.QuickReplyButton(text="Unsubscribe"),
                        tpl.URLButton(
                            text="Shop now",
                            url="https://shop.example.com/{{1}}",
                            example="https://shop.example.com/summer",
                        ),
                        tpl.PhoneNumberButton(text="Call us", phone_number="16467043595"),
                    ]),
                ],
            )
            wa.create_template(template)
            self.advance(6 * 60)
            listed = {t.name: t for t in wa.get_templates()}.get(name)
            expect(listed is not None, f"{name} is not listed")
            expect(listed.status == tpl.TemplateStatus.APPROVED, f"status {listed.status}")
            expect(listed.parameter_format == tpl.ParamFormat.NAMED, f"{listed.parameter_format!r}")
            want = ["HeaderText", "BodyText", "FooterText", "Buttons",
                    "QuickReplyButton", "URLButton", "PhoneNumberButton"]
            expect(kinds(listed.components) == want, f"read back {kinds(listed.components)}")
            created = [c.to_dict() for c in template.components]
            back = [c.to_dict() for c in listed.components]
            # URLButton is a plain class (equal only to itself): compare as shown.
            expect(repr(back) == repr(created), f"read back {back}, created {created}")
            return f"{name}: " + ", ".join(want) + ", equal to what was created"

        def arrivals_params(header: Any) -> list:
            return [
                header,
                tpl.BodyText.params(first_name="Ana", collection="summer", code="NEW10"),
                tpl.URLButton.params(url_variable="summer", index=0),
                tpl.CopyCodeButton.params(coupon_code="NEW10", index=1),
                tpl.QuickReplyButton.params(callback_data="not-interested", index=2),
            ]

        def send_components():
            sent = wa.send_template(
                to=DELIVERED_NEVER_READ,
                name="new_arrivals",
                language=tpl.TemplateLanguage.ENGLISH_US,
                params=arrivals_params(
                    tpl.HeaderImage.params(image="https://cdn.example.com/summer.jpg")
                ),
            )
            expect(sent.id.startswith("wamid."), f"sent template id {sent.id!r}")
            code = "482913"
            otp = wa.send_template(
                to=DELIVERED_NEVER_READ,
                name="login_code",
                language=tpl.TemplateLanguage.ENGLISH_US,
                params=[
                    tpl.AuthenticationBody.params(otp=code),
                    tpl.CopyCodeOTPButton.params(otp=code),
                ],
            )
            expect(otp.id.startswith("wamid."), f"sent login_code id {otp.id!r}")
            return f"new_arrivals {sent.id}, login_code {otp.id}"

        def send_en(template: str, params: list) -> Callable[[], Any]:
            return lambda: wa.send_template(
                to=DELIVERED_NEVER_READ,
                name=template,
                language=tpl.TemplateLanguage.ENGLISH_US,
                params=params,
            )

        def refused_components():
            header_text = arrivals_params(tpl.HeaderText.params("Summer"))
            expect_raises(
                errors.TemplateParamFormatMismatch, 132012, send_en("new_arrivals", header_text)
            )
            body_only = [tpl.AuthenticationBody.params(otp="482913")]
            expect_raises(
                errors.TemplateParamCountMismatch, 132000, send_en("login_code", body_only)
            )
            return "text for an IMAGE header: 132012; an OTP button left out: 132000"

        self.check(f"default templates' components parsed by pywa's template classes ({label})", parsed_defaults)
        self.check(f"create a template with header, named body, footer and buttons; read it back ({label})", create_components)
        self.check(f"send templates with header media, named and button parameters ({label})", send_components)
        self.check(f"template parameter mismatches raise pywa's errors ({label})", refused_components)

    # ---- 360dialog surface

    def d360(self) -> None:
        print(
            "\n360dialog surface (through pywa with a Cloud-API adapter: /messages and "
            "/v1/configs/templates with D360-API-KEY)",
            flush=True,
        )
        self.reset()
        wa = self.d360_client()
        start = len(self.trace_requests())

        self.status_checks(wa, "360dialog")
        self.message_type_checks(wa, "360dialog")
        self.error_checks(wa, "360dialog")

        def bad_key():
            wrong = {k: "not_a_valid_d360_key" for k in self.key_of_phone}
            bad = self.d360_client(key_of_phone=wrong)
            try:
                result = bad.send_message(to=ANA, text="never sent")
            except errors.WhatsAppError as e:
                expect(
                    e.status_code == 401 and "Invalid api_key" in e.message,
                    f"HTTP {e.status_code} {e.message!r}",
                )
                return (
                    f"HTTP 401 with 360dialog's {{meta}} body: pywa raises its base "
                    f"{type(e).__name__} (code {e.code}), having no Graph error code to map"
                )
            raise Failed(f"a wrong D360-API-KEY was accepted: {result!r}")

        self.check("a wrong D360-API-KEY is refused with 360dialog's 401 (360dialog)", bad_key)
        self.template_checks(wa, "360dialog")

        self.check(
            "the adapter used 360dialog's surface only (wasim trace)",
            self.surface_check(start, "d360"),
        )

    def close(self) -> None:
        self.receiver.stop()
        for client in self.clients:
            client.close()
        self.control.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wasim", required=True, help="wasim serve's base URL")
    args = parser.parse_args()
    try:
        suite = Suite(args.wasim)
    except Exception as e:
        print(f"pywa suite: could not start: {e}", file=sys.stderr)
        return 2
    world = suite.world
    clock = suite.get("/_wasim/clock")
    print(
        f"pywa {pywa.__version__} (httpx {httpx.__version__}, Flask {flask_version()}) "
        f"against wasim at {args.wasim}: policy {world['policy']['profile']}, "
        f"clock {clock['mode']}, seed {world['seed']}",
        flush=True,
    )
    if not world["policy"].get("bsuid"):
        print(
            f"note: this policy puts no business-scoped user ids on webhooks, so pywa "
            f"will drop inbound messages and statuses: {BSUID_HINT}",
            flush=True,
        )
    try:
        suite.cloud()
        suite.d360()
    finally:
        suite.close()
    print()
    print(f"{suite.passed} passed, {suite.failed} failed", flush=True)
    return 1 if suite.failed else 0


def flask_version() -> str:
    from importlib.metadata import version

    return version("flask")


if __name__ == "__main__":
    sys.exit(main())
