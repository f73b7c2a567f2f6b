"""An emulator of the part of Feishu's open API duban reads files through, on 127.0.0.1:
the tenant access token (`auth/v3/tenant_access_token/internal`) and a message's resources
(`GET im/v1/messages/{message_id}/resources/{file_key}?type=image|file`), as Feishu
documents them — the token is checked on every download, and every request is recorded.

    with FeishuOpenApi("cli_a", "secret") as api:
        api.add("om_1", "img_v3_1", "image", png())
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

TOKEN = "t-g1044ghJRUIJJ5ELBRJSSRTHHWLQYRTNIYNK4Y2Y"
RESOURCE = "/open-apis/im/v1/messages/"


@dataclass
class FeishuOpenApi:
    app_id: str
    app_secret: str
    files: dict[tuple[str, str, str], bytes] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path with query)
    delay: float = 0.0  # seconds a download waits before its bytes come (a slow network)

    def __post_init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, message_id: str, key: str, kind: str, data: bytes) -> None:
        """A file or image sent in message `message_id`, downloadable as `type=kind`."""
        self.files[(message_id, key, kind)] = data

    def downloads(self) -> list[str]:
        return [path for method, path in self.requests if method == "GET"]

    def __enter__(self) -> FeishuOpenApi:
        self.thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def _handler(api: FeishuOpenApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            api.requests.append(("POST", self.path))
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            if self.path != "/open-apis/auth/v3/tenant_access_token/internal":
                return self._json(404, {"code": 404, "msg": "not found"})
            if body != {"app_id": api.app_id, "app_secret": api.app_secret}:
                return self._json(200, {"code": 10014, "msg": "app secret invalid"})
            self._json(200, {"code": 0, "msg": "ok", "tenant_access_token": TOKEN, "expire": 7200})

        def do_GET(self) -> None:
            api.requests.append(("GET", self.path))
            url = urlsplit(self.path)
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._json(400, {"code": 99991663, "msg": "Invalid access token"})
            parts = url.path.removeprefix(RESOURCE).split("/")
            if not url.path.startswith(RESOURCE) or len(parts) != 3 or parts[1] != "resources":
                return self._json(404, {"code": 404, "msg": "not found"})
            kind = parse_qs(url.query).get("type", [""])[0]
            data = api.files.get((unquote(parts[0]), unquote(parts[2]), kind))
            if data is None:
                return self._json(400, {"code": 234003, "msg": "File not in msg."})
            time.sleep(api.delay)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
