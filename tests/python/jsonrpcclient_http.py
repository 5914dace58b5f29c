"""jsonrpcclient 4.0.3 (messages only; the HTTP is urllib's) against a reflex HTTP server.

usage: jsonrpcclient_http.py http://127.0.0.1:PORT/rpc
"""

import json
import urllib.request

from jsonrpcclient import Error, Ok, notification, parse, request

from fc_common import done, emit, endpoint_arg, expect, expect_eq

ep = endpoint_arg()
expect_eq(ep.scheme, "http", "endpoint scheme")


def post(message):
    """POSTs a JSON-RPC message; returns (status, content type, body text)."""
    data = json.dumps(message).encode("utf-8")
    req = urllib.request.Request(ep.url, data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.headers.get("Content-Type"), resp.read().decode("utf-8")


def call(message):
    status, ctype, body = post(message)
    expect_eq(status, 200, "HTTP status of %r" % (message,))
    expect(ctype and ctype.startswith("application/json"), "content type %r" % ctype)
    return parse(json.loads(body))


# --- calls ----------------------------------------------------------------------------------
r = call(request("add", params=(1, 2)))
expect(isinstance(r, Ok), "add: %r" % (r,))
expect_eq(r.result, 3, "add result")
emit("add", r.result)

r = call(request("subtract", params={"minuend": 42, "subtrahend": 23}))
expect_eq(r, Ok(19, r.id), "subtract by name")
r = call(request("echo", params=["h\u00e9llo"], id="abc"))
expect_eq(r, Ok("h\u00e9llo", "abc"), "echo with a string id")
r = call(request("get_data"))
expect_eq(r.result, ["hello", 5], "get_data without params")

# --- errors: jsonrpcclient's Error objects ---------------------------------------------------
r = call(request("add", params=(1, 2.5)))
expect(isinstance(r, Error), "add with a float must fail: %r" % (r,))
expect_eq(r.code, -32602, "code of a type error")
expect(isinstance(r.message, str) and r.message, "message of a type error")
emit("add_float_error", {"code": r.code, "message": r.message, "data": r.data})

r = call(request("no_such_method"))
expect(isinstance(r, Error), "unknown method must fail: %r" % (r,))
expect_eq(r.code, -32601, "code of an unknown method")
emit("unknown_method_error", {"code": r.code, "message": r.message})

r = call(request("sum", params=(1, 2)))
expect(isinstance(r, Error) and r.code == -32602, "sum with too few params: %r" % (r,))

# --- a notification: HTTP 200 with an empty body ---------------------------------------------
status, _, body = post(notification("notify_hello", params=(7,)))
expect_eq((status, body), (200, ""), "notification response")
emit("notification", {"status": status, "body": body})

# --- a batch: answers for the requests only, matched by id ------------------------------------
batch = [request("add", params=(2, 3)), notification("notify_sum", params=(1, 2, 3)),
         request("echo", params=["batch"]), request("add", params=(1, "x"))]
results = list(call(batch))
by_id = {x.id: x for x in results}
expect_eq(len(results), 3, "batch reply size")
expect_eq(by_id[batch[0]["id"]], Ok(5, batch[0]["id"]), "batch add")
expect_eq(by_id[batch[2]["id"]], Ok("batch", batch[2]["id"]), "batch echo")
expect(isinstance(by_id[batch[3]["id"]], Error) and by_id[batch[3]["id"]].code == -32602, "batch error")
emit("batch", len(results))
done()
