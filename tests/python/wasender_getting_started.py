#!/usr/bin/env python3
"""WasenderAPI (seed 001) getting-started flow against wagate, with `requests` only.

A WasenderAPI customer's code changes only the base URL and the tokens. This
script is such a client:

  1. create a session with the personal access token (wagate's admin token)
  2. set its webhook to a receiver this script runs on 127.0.0.1
  3. connect it (NEED_SCAN + QR string) and scan the QR in wagate's simulated
     WhatsApp network (wagate's own /v1 simulator API: the only non-seed call)
  4. wait for /api/status to say `connected` (session API key)
  5. send a text with POST /api/send-message {"to", "text"}
  6. receive the `message.sent` webhook in the seed's format and verify
     `X-Webhook-Signature` against the session's webhook secret

Environment:
  WAGATE_BASE_URL     the REST gateway, e.g. http://127.0.0.1:8080 (required)
  WAGATE_ADMIN_TOKEN  the personal access token (wagate's admin token) (required)

Prints one line per step and ends with `1 passed, 0 failed`; on a failure
prints the reason and exits 1.
"""

from __future__ import annotations

import http.server
import json
import os
import sys
import threading
import time

import requests

PHONE = "+14155550631"
RECIPIENT = "+14155550632"
TIMEOUT = 10


class Failure(Exception):
    """A failed check; the message says what was expected and what came."""


def step(message: str) -> None:
    print(f"[wasender] {message}", flush=True)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Failure(message)


class Hooks:
    """A webhook receiver on 127.0.0.1 that keeps every request."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        hooks = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with hooks.lock:
                    hooks.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def find(self, event: str) -> tuple[dict[str, str], dict] | None:
        with self.lock:
            for headers, body in self.received:
                payload = json.loads(body)
                if payload.get("event") == event:
                    return headers, payload
        return None


def main() -> None:
    base = os.environ["WAGATE_BASE_URL"].rstrip("/")
    pat = os.environ["WAGATE_ADMIN_TOKEN"]
    account = {"Authorization": f"Bearer {pat}"}
    hooks = Hooks()

    created = requests.post(
        f"{base}/api/whatsapp-sessions",
        headers=account,
        json={
            "name": "Business WhatsApp",
            "phone_number": PHONE,
            "account_protection": False,
            "log_messages": True,
            "webhook_url": hooks.url,
            "webhook_enabled": True,
            "webhook_events": ["message.sent"],
        },
        timeout=TIMEOUT,
    )
    check(created.status_code == 200, f"create: {created.status_code} {created.text}")
    session = created.json()["data"]
    check(isinstance(session["id"], int), f"integer session id: {session}")
    api_key, secret = session["api_key"], session["webhook_secret"]
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        check(created.headers.get(header, "").isdigit(), f"{header}: {created.headers}")
    step(f"created session {session['id']} ({session['status']})")

    connected = requests.post(
        f"{base}/api/whatsapp-sessions/{session['id']}/connect", headers=account, timeout=TIMEOUT
    )
    check(connected.status_code == 200, f"connect: {connected.text}")
    data = connected.json()["data"]
    check(data["status"] == "NEED_SCAN" and data["qrCode"], f"connect: {data}")
    step("connect: NEED_SCAN with a QR code")

    scanned = requests.post(
        f"{base}/v1/simulator:scanQr",
        headers=account,
        json={"qrCode": data["qrCode"], "phoneNumber": PHONE},
        timeout=TIMEOUT,
    )
    check(scanned.status_code == 200, f"scan: {scanned.text}")
    requests.post(
        f"{base}/v1/simulator/accounts",
        headers=account,
        json={"phoneNumber": RECIPIENT, "pushName": "Recipient"},
        timeout=TIMEOUT,
    )
    key = {"Authorization": f"Bearer {api_key}"}
    for _ in range(100):
        status = requests.get(f"{base}/api/status", headers=key, timeout=TIMEOUT).json()
        if status.get("status") == "connected":
            break
        time.sleep(0.1)
    check(status == {"status": "connected"}, f"status: {status}")
    step("scanned in the simulator: connected")

    # The webhook dispatcher picks a newly enabled webhook up within a second
    # and delivers from then on: send until the first message.sent arrives.
    found = None
    for attempt in range(40):
        sent = requests.post(
            f"{base}/api/send-message",
            headers=key,
            json={"to": RECIPIENT, "text": "Hello from WasenderAPI!"},
            timeout=TIMEOUT,
        )
        check(sent.status_code == 200, f"send: {sent.status_code} {sent.text}")
        body = sent.json()
        check(body["success"] is True, f"send: {body}")
        check(isinstance(body["data"]["msgId"], int), f"integer msgId: {body}")
        check(body["data"]["status"] == "in_progress", f"send status: {body}")
        time.sleep(0.5)
        found = hooks.find("message.sent")
        if found:
            break
    check(found is not None, "no message.sent webhook arrived")
    step(f"sent {attempt + 1} text(s); msgId {body['data']['msgId']}")

    headers, payload = found
    check(headers.get("x-webhook-signature") == secret, f"X-Webhook-Signature: {headers}")
    check(headers.get("content-type", "").startswith("application/json"), f"{headers}")
    check(payload["data"]["success"] is True, f"message.sent: {payload}")
    check(payload["data"]["message"]["conversation"] == "Hello from WasenderAPI!", f"{payload}")
    check(payload["data"]["key"]["fromMe"] is True, f"{payload}")
    check(isinstance(payload["timestamp"], int), f"{payload}")
    step("message.sent webhook received, X-Webhook-Signature verified")

    wrong = requests.get(f"{base}/api/status", headers={"Authorization": "Bearer nope"}, timeout=TIMEOUT)
    check(wrong.status_code == 401, f"bad key: {wrong.status_code}")
    check(wrong.json() == {"success": False, "message": "Invalid API key"}, f"{wrong.text}")
    step("a wrong API key: 401 in the seed's shape")


if __name__ == "__main__":
    try:
        main()
    except (Failure, requests.RequestException, KeyError, ValueError) as err:
        print(f"[wasender] FAILED: {err!r}", flush=True)
        print("0 passed, 1 failed", flush=True)
        sys.exit(1)
    print("1 passed, 0 failed", flush=True)
