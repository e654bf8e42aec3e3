#!/usr/bin/env python3
"""A small WhatsApp Cloud API integration, standard library only (Python 3.11+).

Written against the published wasim integration driver protocol and the
platform facts it cites (Cloud API send and error envelope, the messages
webhook, the verification handshake, X-Hub-Signature-256, retries, duplicates
and batching). It is what a careful production receiver would do, reduced to
one file:

- ``GET  /webhook``                 verification handshake (echo hub.challenge)
- ``POST /webhook``                 signed webhooks: verify, answer 200 at once,
                                    process later, in order, on one worker thread;
                                    each new inbound message is marked read
- ``POST /wasim/actions``           driver hook: send_template, send_text,
                                    send_campaign, set_access_token (accepted at
                                    once, done on the same worker queue); a
                                    malformed one is refused with 400, an action
                                    it does not know with 501 ``{"error":
                                    "unsupported action NAME"}``, which the runner
                                    reads as "scenario not supported" and skips
- ``POST /partner-webhook``         360dialog partner events (``d360`` scenarios):
                                    verify ``x-360dialog-signature``, answer 200,
                                    log them (this integration sends on the Cloud
                                    API only)
- ``POST /wasim/reset``             forget all state
- ``GET  /wasim/messages/{wamid}``  the highest status held for a sent message

Templates: PAUSED/DISABLED status webhooks (or a synchronous 132015/132016) make a
template unusable until an APPROVED webhook; sends of it are skipped. A send held
for quality assessment (pacing) is remembered and never re-sent.

Time: the simulator runs on virtual time. "Now" is the largest timestamp seen
in webhooks (including an entry's ``time``) and driver actions, never the wall clock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import queue
import signal
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GRAPH_VERSION = "v23.0"
DAY = 24 * 60 * 60
MAX_BODY = 1 << 20  # 1 MiB is plenty for one webhook post or action
BACKOFF_S = (0.2, 0.4, 0.8)  # at most 3 retries after a rate-limit error
RATE_LIMIT_CODES = {130429, 131056}  # throughput, pair rate
AUTH_CODES = {190, 0}
CAP_CODE = 131049  # per-user marketing limit: no marketing to that user for 24 h
STOPPED_MARKETING_CODE = 131050  # user stopped marketing: never again
REENGAGEMENT_CODE = 131047  # free-form text outside the 24 h window
TEMPLATE_PAUSED_CODE = 132015  # template paused (sync refusal, or a held message dropped)
TEMPLATE_DISABLED_CODE = 132016  # template disabled after repeated pauses
TEMPLATE_UNUSABLE_CODES = {TEMPLATE_PAUSED_CODE, TEMPLATE_DISABLED_CODE}
TEMPLATE_UNUSABLE_EVENTS = {"PAUSED", "DISABLED"}  # message_template_status_update events
TEMPLATE_USABLE_EVENTS = {"APPROVED"}
HELD = "held_for_quality_assessment"  # send answer's messages[].message_status under pacing
HELD_GIVE_UP_S = 2 * 60 * 60  # pacing decides within the hour (p99); after 2 h stop waiting
STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}
REPLY_TEXT = "Thanks for your message! We will get back to you shortly."

REQUIRED_ENV = (
    "WASIM_GRAPH_URL",
    "WASIM_ACCESS_TOKEN",
    "WASIM_PHONE_NUMBER_ID",
    "WASIM_APP_SECRET",
    "WASIM_VERIFY_TOKEN",
    "WASIM_WEBHOOK_PORT",
)


def log(message: str) -> None:
    """One line per decision on stdout, flushed. Never pass secrets here."""
    print(message, flush=True)


def parse_ts(value) -> int | None:
    """A unix-seconds timestamp, sent as a string (or a number); None if absent or bad."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def user_key(number: str) -> str:
    """The key under which per-user memory is kept: the wa_id without a leading '+'."""
    return number.strip().lstrip("+")


class BoundedSet:
    """A set that forgets its oldest members beyond ``limit`` (de-duplication memory)."""

    def __init__(self, limit: int = 100_000) -> None:
        self._items: OrderedDict = OrderedDict()
        self._limit = limit

    def add_new(self, item) -> bool:
        """Add ``item``; True if it was not there before."""
        if item in self._items:
            return False
        self._items[item] = None
        if len(self._items) > self._limit:
            self._items.popitem(last=False)
        return True


class State:
    """Everything the integration remembers. Guarded by ``lock``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.generation = 0
        self._clear()

    def _clear(self) -> None:
        self.now = 0  # virtual time: the largest timestamp seen
        self.platform_now = 0  # the largest timestamp seen in webhooks only (the platform's clock)
        self.seen_messages = BoundedSet()  # inbound message ids
        self.seen_statuses = BoundedSet()  # (wamid, status)
        self.status = {}  # wamid -> highest status held
        self.sent_to = {}  # wamid -> user key, for messages we sent
        self.last_inbound = {}  # user key -> timestamp of their last message
        self.cap_until = {}  # user key -> no marketing templates before this time
        self.opted_out = set()  # user keys who stopped marketing
        self.auth_failed_at = None  # virtual time of the last refused credential
        self.template_unusable = {}  # template name -> why (event or error code)
        self.template_changed_at = {}  # template name -> time of the last status change applied
        self.held = {}  # wamid -> (user key, template name, time held), until its outcome arrives
        self.held_for = {}  # (user key, template name) -> wamid of the held message

    def reset(self) -> None:
        with self.lock:
            self.generation += 1
            self._clear()

    def observe(self, ts: int | None) -> None:
        """Move virtual 'now' forward (never back). Caller holds the lock."""
        if ts is not None and ts > self.now:
            self.now = ts

    def observe_platform(self, ts: int | None) -> None:
        """A timestamp written by the platform (a webhook): moves both clocks. Caller holds the lock."""
        self.observe(ts)
        if ts is not None and ts > self.platform_now:
            self.platform_now = ts


class Integration:
    def __init__(self, env: dict) -> None:
        self.graph_url = env["WASIM_GRAPH_URL"].rstrip("/")
        self.token = env["WASIM_ACCESS_TOKEN"]
        self.phone_number_id = env["WASIM_PHONE_NUMBER_ID"]
        self.app_secret = env["WASIM_APP_SECRET"].encode()
        self.partner_secret = env.get("WASIM_PARTNER_SECRET", "").encode()
        self.verify_token = env["WASIM_VERIFY_TOKEN"]
        self.state = State()
        self.jobs: queue.Queue = queue.Queue()
        self.worker = threading.Thread(target=self._work, name="worker", daemon=True)
        self.stopping = threading.Event()  # set on SIGTERM: abandon back-off waits

    # ----- signature ---------------------------------------------------------

    def signature_ok(self, body: bytes, header: str | None) -> bool:
        if not header:
            return False
        expected = "sha256=" + hmac.new(self.app_secret, body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), header.strip().lower().encode())

    def partner_signature_ok(self, body: bytes, header: str | None) -> bool:
        if not header or not self.partner_secret:
            return False
        expected = hmac.new(self.partner_secret, body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), header.strip().lower().encode())

    # ----- queue -------------------------------------------------------------

    def enqueue(self, kind: str, payload) -> None:
        with self.state.lock:
            generation = self.state.generation
        self.jobs.put((kind, payload, generation))

    def _work(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            kind, payload, generation = job
            with self.state.lock:
                stale = generation != self.state.generation
            if stale:
                log(f"skip {kind}: queued before a reset")
                continue
            try:
                if kind == "webhook":
                    self.process_webhook(payload)
                elif kind == "action":
                    self.process_action(payload)
            except Exception as exc:  # keep the worker alive whatever one job does
                log(f"error processing {kind}: {type(exc).__name__}: {exc}")

    def stop(self) -> None:
        self.stopping.set()
        self.jobs.put(None)
        self.worker.join(timeout=5)

    # ----- webhooks ----------------------------------------------------------

    def process_webhook(self, envelope: dict) -> None:
        entries = envelope.get("entry") if isinstance(envelope, dict) else None
        if not isinstance(entries, list):
            log("webhook ignored: no entry[]")
            return
        for entry in entries:
            changes = entry.get("changes") if isinstance(entry, dict) else None
            if not isinstance(changes, list):
                continue
            entry_time = parse_ts(entry.get("time"))
            for change in changes:
                if not isinstance(change, dict):
                    continue
                field = change.get("field")
                value = change.get("value")
                if not isinstance(value, dict):
                    log(f"webhook change ignored: field={field}, no value")
                    continue
                if field == "message_template_status_update":
                    self.on_template_status(value, entry_time)
                    continue
                if field == "message_template_quality_update":
                    with self.state.lock:
                        self.state.observe_platform(entry_time)
                    log(
                        f"template {value.get('message_template_name')} quality: "
                        f"{value.get('previous_quality_score')} -> {value.get('new_quality_score')} (noted)"
                    )
                    continue
                if field != "messages":
                    log(f"webhook change ignored: field={field}")
                    continue
                for status in value.get("statuses") or []:
                    if isinstance(status, dict):
                        self.on_status(status)
                for message in value.get("messages") or []:
                    if isinstance(message, dict):
                        self.on_message(message)
                for error in value.get("errors") or []:
                    if isinstance(error, dict):
                        log(f"platform error webhook: code={error.get('code')} title={error.get('title')}")

    def on_status(self, status: dict) -> None:
        wamid = status.get("id")
        name = status.get("status")
        if not isinstance(wamid, str) or not isinstance(name, str):
            log("status ignored: no id or status")
            return
        ts = parse_ts(status.get("timestamp"))
        recipient = status.get("recipient_id")
        with self.state.lock:
            self.state.observe_platform(ts)
            if not self.state.seen_statuses.add_new((wamid, name)):
                log(f"status duplicate ignored: {wamid} {name}")
                return
            held = self.state.held.pop(wamid, None)
            if held is not None:
                if self.state.held_for.get(held[:2]) == wamid:
                    del self.state.held_for[held[:2]]
                log(f"held message {wamid} ({held[1]} to {held[0]}): pacing outcome arrived ({name})")
            current = self.state.status.get(wamid)
            rank = STATUS_RANK.get(name)
            if rank is None:
                log(f"status {name} for {wamid}: not tracked")
            elif current == "failed":
                log(f"status {name} for {wamid}: ignored, already failed (terminal)")
            elif current is not None and STATUS_RANK[current] >= rank:
                log(f"status {name} for {wamid}: late, keeping {current}")
            else:
                self.state.status[wamid] = name
                log(f"status {wamid}: {current or 'none'} -> {name}")
            if name != "failed":
                return
            users = {user_key(recipient)} if isinstance(recipient, str) and recipient else set()
            if wamid in self.state.sent_to:
                users.add(self.state.sent_to[wamid])
            errors = status.get("errors") or []
            code = errors[0].get("code") if errors and isinstance(errors[0], dict) else None
            when = ts if ts is not None else self.state.now
            for user in users:
                if code == CAP_CODE:
                    until = when + DAY
                    if until > self.state.cap_until.get(user, 0):
                        self.state.cap_until[user] = until
                    log(f"failed 131049 for {user}: no marketing templates until {until}")
                elif code == STOPPED_MARKETING_CODE:
                    self.state.opted_out.add(user)
                    log(f"failed 131050 for {user}: user stopped marketing, never again")
                elif code == REENGAGEMENT_CODE:
                    self.state.last_inbound.pop(user, None)
                    log(f"failed 131047 for {user}: service window closed, text only after they write")
                elif code == TEMPLATE_PAUSED_CODE:
                    log(f"failed 132015 for {user}: template paused, message dropped (not re-sent)")
                else:
                    log(f"failed {code} for {user}: noted")

    def on_template_status(self, value: dict, entry_time: int | None) -> None:
        """message_template_status_update: PAUSED/DISABLED make a template unusable, APPROVED usable."""
        name = value.get("message_template_name")
        event = value.get("event")
        other = value.get("other_info")
        title = other.get("title") if isinstance(other, dict) else None
        if not isinstance(name, str) or not name or not isinstance(event, str):
            log("template status ignored: no template name or event")
            return
        label = f"{event}" + (f" ({title})" if isinstance(title, str) and title else "")
        with self.state.lock:
            self.state.observe_platform(entry_time)
            when = entry_time if entry_time is not None else self.state.platform_now
            if event not in TEMPLATE_UNUSABLE_EVENTS | TEMPLATE_USABLE_EVENTS:
                log(f"template {name}: {label} noted, usability unchanged")
                return
            last = self.state.template_changed_at.get(name)
            if last is not None and when < last:
                log(f"template {name}: {label} at {when} is older than the change at {last}, ignored")
                return
            self.state.template_changed_at[name] = when
            if event in TEMPLATE_UNUSABLE_EVENTS:
                self.state.template_unusable[name] = label
                log(f"template {name}: {label}, not sending it until APPROVED")
            else:
                was = self.state.template_unusable.pop(name, None)
                log(f"template {name}: {label}, usable again" + (f" (was {was})" if was else ""))

    def on_message(self, message: dict) -> None:
        msg_id = message.get("id")
        sender = message.get("from")
        if not isinstance(msg_id, str) or not isinstance(sender, str) or not sender:
            log("inbound ignored: no id or from")
            return
        ts = parse_ts(message.get("timestamp"))
        user = user_key(sender)
        with self.state.lock:
            self.state.observe_platform(ts)
            if not self.state.seen_messages.add_new(msg_id):
                log(f"inbound duplicate ignored: {msg_id}")
                return
            written = ts if ts is not None else self.state.now
            if written > self.state.last_inbound.get(user, -1):
                self.state.last_inbound[user] = written
            in_window = self.state.now - self.state.last_inbound[user] < DAY
        kind = message.get("type", "?")
        self.mark_read(msg_id)
        if not in_window:
            log(f"inbound {msg_id} ({kind}) from {user}: older than 24 h, no reply (window closed)")
            return
        log(f"inbound {msg_id} ({kind}) from {user}: replying")
        self.send(user, sender, {"type": "text", "text": {"body": REPLY_TEXT, "preview_url": False}}, "reply")

    # ----- actions -----------------------------------------------------------

    def process_action(self, action: dict) -> None:
        with self.state.lock:
            self.state.observe(parse_ts(action.get("timestamp")))
        name = action["action"]
        if name == "send_text":
            self.send_text(action["to"], action["text"])
        elif name == "send_template":
            self.send_template(action["to"], action["template"])
        elif name == "set_access_token":
            self.token = action["access_token"]
            log("access token replaced by the operator; the old one is no longer used")
        elif name == "send_campaign":
            recipients = action["to"]
            log(f"campaign {action['template']['name']}: {len(recipients)} recipient(s)")
            for to in recipients:
                self.send_template(to, action["template"])

    def send_text(self, to: str, text: str) -> None:
        user = user_key(to)
        with self.state.lock:
            last = self.state.last_inbound.get(user)
            now = self.state.now
        if last is None or now - last >= DAY:
            log(f"send_text to {user} skipped: outside the 24 h service window (use a template)")
            return
        log(f"send_text to {user}: inside the service window")
        self.send(user, to, {"type": "text", "text": {"body": text, "preview_url": False}}, "text")

    def send_template(self, to: str, template: dict) -> None:
        user = user_key(to)
        name = template["name"]
        with self.state.lock:
            now = self.state.now
            opted_out = user in self.state.opted_out
            cap_until = self.state.cap_until.get(user, 0)
            unusable = self.state.template_unusable.get(name)
            held = self.state.held_for.get((user, name))
            if held is not None and now - self.state.held[held][2] >= HELD_GIVE_UP_S:
                log(f"held message {held} ({name} to {user}): no outcome since {self.state.held[held][2]}, stop waiting")
                del self.state.held_for[(user, name)]
                del self.state.held[held]
                held = None
        if unusable is not None:
            log(f"template {name} to {user} skipped: template {unusable}, not sending until APPROVED")
            return
        if held is not None:
            log(f"template {name} to {user} skipped: {held} is held for quality assessment, not re-sending")
            return
        if opted_out:
            log(f"template {name} to {user} skipped: user stopped marketing (131050)")
            return
        if now < cap_until:
            log(f"template {name} to {user} skipped: marketing limit (131049) until {cap_until}")
            return
        language = template["language"]
        body = {"name": name, "language": language if isinstance(language, dict) else {"code": language}}
        parameters = template.get("parameters")
        if parameters:
            body["components"] = [
                {"type": "body", "parameters": [{"type": "text", "text": str(p)} for p in parameters]}
            ]
        log(f"template {name} to {user}: sending")
        self.send(user, to, {"type": "template", "template": body}, "template", template=name)

    # ----- Cloud API send ----------------------------------------------------

    def mark_read(self, msg_id: str) -> None:
        """Marks an inbound message read (two blue ticks for the user), once."""
        with self.state.lock:
            failed_at = self.state.auth_failed_at
            if failed_at is not None and self.state.now <= failed_at:
                log(f"mark {msg_id} read: not sent, credential refused at {failed_at}")
                return
        payload = {"messaging_product": "whatsapp", "status": "read", "message_id": msg_id}
        request = urllib.request.Request(
            f"{self.graph_url}/{GRAPH_VERSION}/{self.phone_number_id}/messages",
            data=json.dumps(payload).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10):
                log(f"marked {msg_id} read")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            log(f"mark {msg_id} read: failed ({type(exc).__name__}), not retrying")

    def send(self, user: str, to: str, content: dict, what: str, template: str | None = None) -> str | None:
        with self.state.lock:
            now = self.state.now
            failed_at = self.state.auth_failed_at
        if failed_at is not None and now <= failed_at:
            log(f"{what} to {user} not sent: credential refused at {failed_at}, waiting for time to move on")
            return None
        payload = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
        payload.update(content)
        data = json.dumps(payload).encode()
        url = f"{self.graph_url}/{GRAPH_VERSION}/{self.phone_number_id}/messages"
        for attempt in range(len(BACKOFF_S) + 1):
            request = urllib.request.Request(
                url,
                data=data,
                method="POST",
                headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    answer = json.loads(response.read() or b"{}")
                first = (answer.get("messages") or [{}])[0]
                wamid = first.get("id") if isinstance(first, dict) else None
                message_status = first.get("message_status") if isinstance(first, dict) else None
                with self.state.lock:
                    self.state.auth_failed_at = None
                    if isinstance(wamid, str):
                        self.state.sent_to[wamid] = user
                        if message_status == HELD and template is not None:
                            self.state.held[wamid] = (user, template, self.state.now)
                            self.state.held_for[(user, template)] = wamid
                if message_status == HELD:
                    log(f"{what} to {user}: accepted as {wamid}, held for quality assessment (pacing); waiting, not re-sending")
                else:
                    log(f"{what} to {user}: accepted as {wamid}")
                return wamid
            except urllib.error.HTTPError as exc:
                http_status = exc.code
                try:
                    error = json.loads(exc.read() or b"{}").get("error") or {}
                except (ValueError, AttributeError):
                    error = {}
                code = error.get("code") if isinstance(error, dict) else None
                if template is not None and code in TEMPLATE_UNUSABLE_CODES:
                    why = "PAUSED" if code == TEMPLATE_PAUSED_CODE else "DISABLED"
                    with self.state.lock:
                        self.state.template_unusable[template] = f"{why} ({code})"
                        # The pause began no earlier than the last platform time seen: a status
                        # webhook older than that (a late APPROVED) must not undo this. Driver
                        # timestamps are not used, they need not follow the platform's clock.
                        seen = self.state.platform_now
                        if seen > self.state.template_changed_at.get(template, -1):
                            self.state.template_changed_at[template] = seen
                    log(f"{what} to {user}: refused, template {template} {why.lower()} (code {code}); not retrying, not sending it until APPROVED")
                    return None
                if http_status == 401 or code in AUTH_CODES:
                    with self.state.lock:
                        self.state.auth_failed_at = self.state.now
                    log(f"{what} to {user}: credential refused (HTTP {http_status}, code {code}), not retrying")
                    return None
                if code in RATE_LIMIT_CODES and attempt < len(BACKOFF_S):
                    delay = BACKOFF_S[attempt]
                    log(f"{what} to {user}: rate limited (code {code}), retry {attempt + 1} in {delay}s")
                    if self.stopping.wait(delay):
                        log(f"{what} to {user}: shutting down, retry abandoned")
                        return None
                    continue
                details = error.get("error_data") if isinstance(error, dict) else None
                if isinstance(details, dict):
                    details = details.get("details")
                log(f"{what} to {user}: failed (HTTP {http_status}, code {code}: {details}), giving up")
                return None
            except (urllib.error.URLError, OSError, ValueError) as exc:
                log(f"{what} to {user}: request failed ({type(exc).__name__}), giving up")
                return None
        return None


# ----- action validation ------------------------------------------------------


def validate_template(template) -> str | None:
    if not isinstance(template, dict):
        return "template must be an object"
    if not isinstance(template.get("name"), str) or not template["name"]:
        return "template.name must be a non-empty string"
    language = template.get("language")
    if isinstance(language, dict):
        language = language.get("code")
    if not isinstance(language, str) or not language:
        return "template.language must be a language code string like en_US"
    parameters = template.get("parameters")
    if parameters is not None:
        if not isinstance(parameters, list) or not all(
            isinstance(p, (str, int, float)) and not isinstance(p, bool) for p in parameters
        ):
            return "template.parameters must be a list of strings"
    return None


def valid_number(value) -> bool:
    return isinstance(value, str) and user_key(value).isdigit()


KNOWN_ACTIONS = frozenset({"send_text", "send_template", "send_campaign", "set_access_token"})


def unsupported_action(action) -> str | None:
    """The name of an action this integration does not know (answered 501), else None."""
    if not isinstance(action, dict):
        return None
    name = action.get("action")
    return name if isinstance(name, str) and name not in KNOWN_ACTIONS else None


def validate_action(action) -> str | None:
    """None if the action is well formed, else a one-line reason."""
    if not isinstance(action, dict):
        return "action must be a JSON object"
    name = action.get("action")
    if "timestamp" in action and parse_ts(action["timestamp"]) is None:
        return "timestamp must be a string of unix seconds"
    if name == "send_text":
        if not valid_number(action.get("to")):
            return "to must be a phone number string"
        if not isinstance(action.get("text"), str) or not action["text"]:
            return "text must be a non-empty string"
        return None
    if name == "send_template":
        if not valid_number(action.get("to")):
            return "to must be a phone number string"
        return validate_template(action.get("template"))
    if name == "send_campaign":
        to = action.get("to")
        if not isinstance(to, list) or not to or not all(valid_number(n) for n in to):
            return "to must be a non-empty list of phone number strings"
        return validate_template(action.get("template"))
    if name == "set_access_token":
        token = action.get("access_token")
        return None if isinstance(token, str) and token else "access_token must be a non-empty string"
    return f"unknown action {name!r}" if isinstance(name, str) else "action must be a string"


# ----- HTTP receiver ----------------------------------------------------------


def make_handler(app: Integration):
    class Handler(BaseHTTPRequestHandler):
        server_version = "wasim-python-example"

        def log_message(self, format, *args):  # noqa: A002 - silence per-request logs
            pass

        def _reply(self, status: int, body, content_type: str = "application/json") -> None:
            if not isinstance(body, (bytes, bytearray)):
                body = (json.dumps(body, separators=(",", ":")) + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes | None:
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                return None
            if length < 0 or length > MAX_BODY:
                return None
            return self.rfile.read(length) if length else b""

        def _json(self, body: bytes, refusal: str):
            """(True, the JSON in `body`), or (False, None) after logging
            `refusal` and answering 400."""
            try:
                return True, json.loads(body)
            except ValueError:
                log(refusal)
                self._reply(400, {"error": "body is not JSON"})
                return False, None

        def _signed_json(self, body: bytes, signature_ok, header: str, what: str):
            """(True, the JSON of a post to `what` signed in `header`), or
            (False, None) after refusing it: 401 for the signature, 400 for the JSON."""
            if not signature_ok(body, self.headers.get(header)):
                log(f"{what} refused: bad or missing {header}")
                self._reply(401, {"error": "bad signature"})
                return False, None
            return self._json(body, f"{what} refused: signed but not JSON")

        def do_GET(self):
            parsed = urllib.parse.urlsplit(self.path)
            if parsed.path == "/webhook":
                query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
                mode = query.get("hub.mode", [""])[0]
                token = query.get("hub.verify_token", [""])[0]
                challenge = query.get("hub.challenge", [""])[0]
                if mode == "subscribe" and hmac.compare_digest(token.encode(), app.verify_token.encode()):
                    log("handshake: verify token matches, echoing the challenge")
                    self._reply(200, challenge.encode(), "text/plain")
                else:
                    log("handshake refused: wrong mode or verify token")
                    self._reply(403, {"error": "verification failed"})
                return
            prefix = "/wasim/messages/"
            if parsed.path.startswith(prefix):
                wamid = urllib.parse.unquote(parsed.path[len(prefix):])
                with app.state.lock:
                    status = app.state.status.get(wamid)
                if status is None:
                    self._reply(404, {"error": "unknown message"})
                else:
                    self._reply(200, {"id": wamid, "status": status})
                return
            self._reply(404, {"error": "not found"})

        def do_POST(self):
            path = urllib.parse.urlsplit(self.path).path
            body = self._body()
            if body is None:
                self._reply(400, {"error": "missing, bad or too large Content-Length"})
                return
            if path == "/webhook":
                ok, envelope = self._signed_json(body, app.signature_ok, "X-Hub-Signature-256", "webhook")
                if ok:
                    app.enqueue("webhook", envelope)
                    self._reply(200, {"ok": True})
                return
            if path == "/partner-webhook":
                ok, event = self._signed_json(
                    body, app.partner_signature_ok, "x-360dialog-signature", "partner webhook"
                )
                if ok:
                    kind = event.get("type") or event.get("event") if isinstance(event, dict) else None
                    log(f"partner event noted: {kind}")
                    self._reply(200, {"ok": True})
                return
            if path == "/wasim/actions":
                ok, action = self._json(body, "action refused: body is not JSON")
                if not ok:
                    return
                unsupported = unsupported_action(action)
                if unsupported is not None:
                    log(f"action refused: unsupported action {unsupported}")
                    self._reply(501, {"error": f"unsupported action {unsupported}"})
                    return
                problem = validate_action(action)
                if problem is not None:
                    log(f"action refused: {problem}")
                    self._reply(400, {"error": problem})
                    return
                app.enqueue("action", action)
                self._reply(200, {"accepted": True})
                return
            if path == "/wasim/reset":
                app.state.reset()
                log("reset: state forgotten")
                self._reply(200, {"reset": True})
                return
            self._reply(404, {"error": "not found"})

    return Handler


def main() -> int:
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
    if missing:
        print(f"integration: missing environment variable(s): {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        port = int(os.environ["WASIM_WEBHOOK_PORT"])
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        print("integration: WASIM_WEBHOOK_PORT must be a port number", file=sys.stderr)
        return 2

    app = Integration(os.environ)
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(app))
    except OSError as exc:
        print(f"integration: cannot listen on 127.0.0.1:{port}: {exc}", file=sys.stderr)
        return 2
    server.daemon_threads = True

    stopping = threading.Event()

    def on_signal(signum, _frame):
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    app.worker.start()
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    serving.start()
    log(f"listening on 127.0.0.1:{port}")

    while not stopping.wait(0.5):
        pass
    log("stopping")
    server.shutdown()
    server.server_close()
    app.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
