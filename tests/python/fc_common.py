"""Helpers shared by the foreign-client scripts (tests/tests/foreign_clients.rs runs them).

Every script takes the server endpoint as its first argument, in the form reflex prints its
endpoints: ``tcp://127.0.0.1:PORT``, ``unix:///path/to/socket`` or
``http://127.0.0.1:PORT/rpc``. Scripts check with ``expect``/``expect_eq`` (which raise
``AssertionError`` with a readable message, so the exit code is 1 and the traceback lands on
stderr), print one JSON line per interesting observation (``emit``) and ``ok`` at the end.
"""

import json
import os
import sys
import urllib.parse

VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))


class Endpoint:
    """A parsed endpoint URL."""

    def __init__(self, url):
        self.url = url
        u = urllib.parse.urlsplit(url)
        self.scheme = u.scheme
        if self.scheme == "unix":
            # unix:///tmp/x.sock -> path /tmp/x.sock
            self.path = url[len("unix://"):]
            self.host, self.port, self.http_path = None, None, None
        elif self.scheme in ("tcp", "http"):
            self.host, self.port = u.hostname, u.port
            self.http_path = (u.path or "/rpc") if self.scheme == "http" else None
            self.path = None
        else:
            raise SystemExit("unsupported endpoint %r" % url)

    def reflectrpc_client(self):
        """A ReflectRPC RpcClient for this endpoint, configured as its tools configure theirs."""
        from reflectrpc.client import RpcClient

        if self.scheme == "unix":
            # The tools pass host 'unix:///path' and the port '0' they insert (compat §10).
            client = RpcClient("unix://" + self.path, 0)
        else:
            client = RpcClient(self.host, self.port)
        if self.scheme == "http":
            client.enable_http(self.http_path)
        client.enable_auto_reconnect()
        return client

    def tool_args(self):
        """The HOST [PORT] arguments (and flags) of rpcsh, rpcdoc and rpcgencode."""
        if self.scheme == "unix":
            # The tools insert the '0' port after a unix:// argument themselves.
            return ["unix://" + self.path]
        args = [self.host, str(self.port)]
        if self.scheme == "http":
            args = ["--http", "--http-path", self.http_path] + args
        return args

    def tool_server_text(self):
        """How the tools print the server ("RPC server: ..." / "Generated from ...")."""
        if self.scheme == "unix":
            return "unix://" + self.path
        return "%s:%d" % (self.host, self.port)


def endpoint_arg():
    if len(sys.argv) < 2:
        raise SystemExit("usage: %s ENDPOINT-URL [...]" % sys.argv[0])
    return Endpoint(sys.argv[1])


def emit(what, value):
    """One JSON line the Rust test can assert on."""
    print(json.dumps({"check": what, "value": value}, sort_keys=True), flush=True)


def expect(cond, message):
    if not cond:
        raise AssertionError(message)


def expect_eq(actual, expected, what):
    if actual != expected:
        raise AssertionError("%s:\n  expected: %r\n  actual:   %r" % (what, expected, actual))


def done():
    print("ok", flush=True)
