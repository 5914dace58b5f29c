"""jsonrpclib-pelix 1.2.0's ServerProxy against a reflex HTTP server, as JSON-RPC 2.0 (the
default) and as 1.0 (`ServerProxy(url, version=1.0)`).

usage: jsonrpclib_http.py http://127.0.0.1:PORT/rpc {2.0|1.0}

jsonrpclib raises TransportError on any HTTP status but 200, so every call here also checks
that the server answers 200 (notifications included).
"""

import sys

import jsonrpclib
from jsonrpclib import MultiCall, ProtocolError, ServerProxy

from fc_common import done, emit, endpoint_arg, expect, expect_eq

ep = endpoint_arg()
expect_eq(ep.scheme, "http", "endpoint scheme")
version = sys.argv[2] if len(sys.argv) > 2 else "2.0"
expect(version in ("1.0", "2.0"), "version must be 1.0 or 2.0")

history = jsonrpclib.history.History()
if version == "1.0":
    proxy = ServerProxy(ep.url, version=1.0, history=history)
else:
    proxy = ServerProxy(ep.url, history=history)


def fault(call):
    """Runs a call that must fail; returns the ProtocolError's argument."""
    try:
        result = call()
    except jsonrpclib.TransportError as e:
        raise AssertionError("transport error instead of a fault: %r" % (e,))
    except ProtocolError as e:
        return e.args[0]
    raise AssertionError("call returned %r instead of failing" % (result,))


def last_request():
    return jsonrpclib.jloads(history.request)


# --- calls ------------------------------------------------------------------------------------
expect_eq(proxy.add(1, 2), 3, "add")
req = last_request()
if version == "1.0":
    expect("jsonrpc" not in req, "a 1.0 request has no jsonrpc member: %r" % req)
else:
    expect_eq(req.get("jsonrpc"), "2.0", "jsonrpc member")
expect_eq(proxy.echo("h\u00e9llo \u2603"), "h\u00e9llo \u2603", "echo")
expect_eq(proxy.enum_echo("FAX"), 3, "enum_echo")
expect_eq(proxy.echo_ints([1, 2, 3]), [1, 2, 3], "echo_ints")
expect_eq(proxy.led.set(1, True), None, "led.set (a dotted name)")
expect_eq(proxy.led.get(1), True, "led.get")
if version == "2.0":
    expect_eq(proxy.subtract(minuend=42, subtrahend=23), 19, "subtract by name")
    expect_eq(proxy.get_data(), ["hello", 5], "get_data without params")
emit("add", proxy.add(20, 22))

# --- faults -----------------------------------------------------------------------------------
err = fault(lambda: proxy.add(1, 2.5))
if version == "2.0":
    # Codes in -32700..-32000 come out as ProtocolError((code, message)).
    expect(isinstance(err, tuple) and err[0] == -32602, "add with a float: %r" % (err,))
    emit("fault", list(err))
    err = fault(lambda: proxy.no_such_method())
    expect(isinstance(err, tuple) and err[0] == -32601, "unknown method: %r" % (err,))
else:
    # ReflectRPC-style {name, message} errors come out as ProtocolError(error dict).
    expect_eq(err, {"name": "TypeError",
                    "message": "add: Expected value of type 'int' for parameter 'b' but got value of type 'float'"},
              "1.0 fault")
    emit("fault", err)
    err = fault(lambda: proxy.no_such_method())
    expect_eq(err["name"], "InvalidRequest", "1.0 unknown method")

# --- notifications: no reply, HTTP 200 (jsonrpclib raises on anything else) --------------------
expect_eq(proxy._notify.notify_hello(7), None, "notification")
req = last_request()
if version == "1.0":
    expect("id" in req and req["id"] is None, "a 1.0 notification has id null: %r" % req)
else:
    expect("id" not in req, "a 2.0 notification has no id: %r" % req)
emit("notification_response", history.response)
expect_eq(proxy.echo("after notify"), "after notify", "a call after the notification")

# --- a batch (2.0 only: 1.0 has no batches) -----------------------------------------------------
if version == "2.0":
    batch = MultiCall(proxy)
    batch.add(2, 3)
    batch.echo("batch")
    batch._notify.notify_sum(1, 2, 3)
    batch.sum(1, 2, 3)
    batch.add(1, "x")
    results = batch()
    expect_eq(len(results), 4, "batch results (the notification has none)")
    expect_eq([results[i] for i in range(3)], [5, "batch", 6], "batch results")
    try:
        results[3]
        raise AssertionError("the failing batch member did not raise")
    except ProtocolError as e:
        expect_eq(e.args[0][0], -32602, "batch error code")
    emit("batch", [results[i] for i in range(3)])

done()
