"""ReflectRPC 0.7.6's own RpcClient against a reflex server (tcp, unix or http).

usage: reflectrpc_client.py ENDPOINT-URL
"""

import json

from fc_common import done, emit, endpoint_arg, expect, expect_eq
from reflectrpc.client import RpcError

ep = endpoint_arg()
client = ep.reflectrpc_client()


def call_error(method, *params):
    """Calls a method that must fail; returns the error dict RpcError carries."""
    try:
        result = client.rpc_call(method, *params)
    except RpcError as e:
        expect(isinstance(e.json, dict), "RpcError payload is not a dict: %r" % (e.json,))
        expect_eq(sorted(e.json), ["message", "name"], "keys of the error object of %s" % method)
        expect_eq(str(e), "ERROR: " + str(e.json), "str(RpcError)")
        return e.json
    raise AssertionError("%s%r returned %r instead of failing" % (method, params, result))


# --- introspection, in the order the tools call it (one connection) -----------------------
service = client.rpc_call("__describe_service")
expect_eq(sorted(service), ["custom_fields", "description", "name", "version"], "__describe_service keys")
expect_eq(service["name"], "reflex demo device", "service name")
expect_eq(service["version"], "1.0.0", "service version")
expect(isinstance(service["description"], str) and service["description"], "service description")
expect_eq(service["custom_fields"], {"project": "reflex", "leds": 4}, "custom_fields")
emit("describe_service", {"name": service["name"], "version": service["version"]})

functions = client.rpc_call("__describe_functions")
expect(isinstance(functions, list) and functions, "__describe_functions is a non-empty list")
for f in functions:
    expect_eq(sorted(f), ["description", "name", "params", "result_desc", "result_type"], "keys of %r" % f)
    for p in f["params"]:
        expect_eq(sorted(p), ["description", "name", "type"], "param keys of %s" % f["name"])
by_name = {f["name"]: f for f in functions}
expect_eq([p["name"] for p in by_name["echo"]["params"]], ["message"], "echo params")
expect_eq([(p["name"], p["type"]) for p in by_name["add"]["params"]], [("a", "int"), ("b", "int")], "add params")
expect_eq(by_name["add"]["result_type"], "int", "add result type")
expect_eq(by_name["enum_echo"]["params"][0]["type"], "PhoneType", "enum_echo param type")
expect_eq(by_name["hash_echo"]["params"][0]["type"], "Address", "hash_echo param type")
expect_eq(by_name["echo_ints"]["params"][0]["type"], "array<int>", "echo_ints param type")
emit("functions", [f["name"] for f in functions])

types = client.rpc_call("__describe_custom_types")
types_by_name = {t["name"]: t for t in types}
phone = types_by_name["PhoneType"]
expect_eq(phone["type"], "enum", "PhoneType kind")
expect_eq(
    [(v["name"], v["intvalue"]) for v in phone["values"]],
    [("HOME", 0), ("WORK", 1), ("MOBILE", 2), ("FAX", 3)],
    "PhoneType values",
)
for v in phone["values"]:
    expect_eq(sorted(v), ["description", "intvalue", "name"], "enum value keys")
address = types_by_name["Address"]
expect_eq(address["type"], "hash", "Address kind")
expect_eq(
    [f["name"] for f in address["fields"]],
    ["firstname", "lastname", "street1", "street2", "zipcode", "city"],
    "Address fields",
)
emit("custom_types", [t["name"] for t in types])

# --- calls -------------------------------------------------------------------------------
expect_eq(client.rpc_call("echo", "Hello Server"), "Hello Server", "echo")
expect_eq(client.rpc_call("echo", "h\u00e9llo \u2603"), "h\u00e9llo \u2603", "echo of non-ASCII text")
expect_eq(client.rpc_call("add", 4, 8), 12, "add 4 8")
expect_eq(client.rpc_call("add", -5, 3), -2, "add -5 3")
expect_eq(client.rpc_call("sub", 10, 4), 6, "sub")
expect_eq(client.rpc_call("mul", 6, 7), 42, "mul")
expect_eq(client.rpc_call("enum_echo", "FAX"), 3, "enum_echo by name")
expect_eq(client.rpc_call("enum_echo", 1), 1, "enum_echo by int")
addr = {"firstname": "John", "lastname": "Doe", "street1": "Main St 1", "street2": "",
        "zipcode": "12345", "city": "Springfield"}
expect_eq(client.rpc_call("hash_echo", addr), addr, "hash_echo")
expect_eq(client.rpc_call("echo_ints", [1, 2, 3]), [1, 2, 3], "echo_ints")
expect_eq(client.rpc_call("echo_ints", []), [], "echo_ints of []")
expect_eq(client.rpc_call("is_authenticated"), False, "is_authenticated")
expect_eq(client.rpc_call("get_username"), None, "get_username")
emit("add", client.rpc_call("add", 1, 2))

# --- errors (name and message byte-exact, compat §4 and §7) ------------------------------
err = call_error("add", 4, 8.9)
expect_eq(err, {"name": "TypeError",
                "message": "add: Expected value of type 'int' for parameter 'b' but got value of type 'float'"},
          "add with a float")
emit("add_float_error", err)
expect_eq(call_error("echo"), {"name": "ParamError", "message": "Expected 1 parameters for 'echo' but got 0"},
          "echo without params")
expect_eq(call_error("echo_ints", [1, 2, "x"]),
          {"name": "TypeError",
           "message": "echo_ints: Expected value of type 'int' for parameter 'ints[2]' but got value of type 'string'"},
          "echo_ints with a string")
expect_eq(call_error("enum_echo", "BLABLA"),
          {"name": "TypeError",
           "message": "enum_echo: 'BLABLA' is not a valid value for parameter 'phone_type' of enum type 'PhoneType'"},
          "enum_echo with an unknown name")
expect_eq(call_error("enum_echo", 4),
          {"name": "TypeError",
           "message": "enum_echo: '4' is not a valid value for parameter 'phone_type' of enum type 'PhoneType'"},
          "enum_echo out of range")
expect_eq(call_error("hash_echo", {"number": 42}),
          {"name": "TypeError",
           "message": "hash_echo: Named hash parameter 'address' of type 'Address': Unknown field 'number'"},
          "hash_echo with an unknown field")
expect_eq(call_error("nosuchmethod"),
          {"name": "InvalidRequest",
           "message": "No such method: nosuchmethod. Call '__describe_functions' to get details on available "
                      "function calls"},
          "unknown method")
expect_eq(call_error("echo", None), {"name": "InternalError", "message": "Internal error"}, "null parameter")

# --- the raw reply: key order result, id, error; CRLF on line transports -----------------
raw = client.rpc_call_raw('{"id": 77, "method": "echo", "params": ["Hello Server"]}')
terminator = "" if ep.scheme == "http" else "\r\n"
expect_eq(raw, '{"result": "Hello Server", "id": 77, "error": null}' + terminator, "raw echo reply")
emit("raw_echo", raw)

# --- a 1.0 notification (id null) gets no reply: the next call gets its own reply --------
# (RpcClient.rpc_notify sends a real id, compat §9, so send the notification raw. Over HTTP
# the client would have to read the empty notification response, which it cannot.)
if ep.scheme != "http":
    client.rpc_call_raw(json.dumps({"id": None, "method": "notify", "params": ["from RpcClient"]}), send_only=True)
    expect_eq(client.rpc_call("echo", "after notify"), "after notify", "call after a notification")

# --- the connection stays usable after all that ------------------------------------------
expect_eq(client.rpc_call("echo", "still here"), "still here", "echo at the end")
client.close_connection()
done()
