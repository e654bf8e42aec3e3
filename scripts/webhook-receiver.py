#!/usr/bin/env python3
"""A minimal webhook receiver for trying wasim by hand.

Listens on 127.0.0.1:3000 and behaves like a correct receiver: answers the
verification handshake when the verify token matches (403 otherwise), prints every
POST with whether its signature verifies (X-Hub-Signature-256 with the app secret,
or x-360dialog-signature with the partner secret), answers 200 to genuine posts and
401 to forged ones.

    python3 scripts/webhook-receiver.py [PORT] [APP_SECRET] [PARTNER_SECRET] [VERIFY_TOKEN]
"""
import hashlib
import hmac
import http.server
import json
import sys
import urllib.parse

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
SECRET = (sys.argv[2] if len(sys.argv) > 2 else "wasim_test_app_secret").encode()
PARTNER_SECRET = (sys.argv[3] if len(sys.argv) > 3 else "wasim_test_partner_secret").encode()
VERIFY_TOKEN = sys.argv[4] if len(sys.argv) > 4 else "wasim_test_verify_token"


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        challenge = query.get("hub.challenge", [""])[0].encode()
        token = query.get("hub.verify_token", [""])[0]
        if query.get("hub.mode", [""])[0] != "subscribe" or token != VERIFY_TOKEN:
            print("[BAD VERIFY TOKEN] verification refused", flush=True)
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        print("verification handshake: challenge echoed", flush=True)
        self.send_response(200)
        self.send_header("Content-Length", str(len(challenge)))
        self.end_headers()
        self.wfile.write(challenge)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        partner = self.headers.get("x-360dialog-signature")
        if partner is not None:
            # 360dialog partner webhook: bare hex HMAC-SHA256 with the partner secret.
            expected = hmac.new(PARTNER_SECRET, body, hashlib.sha256).hexdigest()
            genuine = hmac.compare_digest(expected, partner)
            verdict = "signature OK" if genuine else "BAD SIGNATURE"
            event = json.loads(body)
            print(f"[{verdict}] partner event {event.get('event')} {event.get('id')}", flush=True)
        else:
            expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
            signature = self.headers.get("X-Hub-Signature-256", "")
            if signature:
                genuine = hmac.compare_digest(expected, signature)
                verdict = "signature OK" if genuine else "BAD SIGNATURE"
            else:
                # A 360dialog client webhook: no signature, only the custom headers set.
                genuine = True
                verdict = "unsigned 360dialog webhook"
            for entry in json.loads(body).get("entry", []):
                for change in entry.get("changes", []):
                    value = change.get("value", {})
                    printed = False
                    for status in value.get("statuses", []):
                        error = status.get("errors", [{}])[0].get("code", "")
                        print(f"[{verdict}] status {status['status']:<9} {status['id']} to {status['recipient_id']} {error}", flush=True)
                        printed = True
                    for message in value.get("messages", []):
                        text = (message.get("text", {}).get("body")
                                or json.dumps(message.get("interactive") or message.get("button")))
                        print(f"[{verdict}] inbound {message['id']} from {message['from']}: {text}", flush=True)
                        printed = True
                    if not printed:
                        print(f"[{verdict}] {change.get('field')}: {json.dumps(value)}", flush=True)
        self.send_response(200 if genuine else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


print(f"receiving webhooks on http://127.0.0.1:{PORT}/webhook", flush=True)
http.server.HTTPServer(("127.0.0.1", PORT), Receiver).serve_forever()
