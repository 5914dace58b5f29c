#!/usr/bin/env python3
"""Regenerates the committed seed corpora in fuzz/corpus/<target>/ from the project's vectors.

    python3 fuzz/gen_corpus.py

Sources: tests/vectors/*.json (the JSON-RPC 2.0 spec examples, the 2.0 edge cases, ReflectRPC's
1.0 dialect, reflection calls, bad input) and a spread of JSONTestSuite parsing files. Each
target's directory is emptied and written anew; the selection is deterministic (every k-th
vector), and the whole corpus stays under 200 small files. Inputs that fuzzing finds are kept
out of here: `ci.sh fuzz` writes them to fuzz/work/.
"""

import base64
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "tests", "vectors")
SUITE = os.path.join(VECTORS, "jsontestsuite", "test_parsing")
CORPUS = os.path.join(HERE, "corpus")


def load(name):
    with open(os.path.join(VECTORS, name), encoding="utf-8") as f:
        return json.load(f)


def request_bytes(v):
    """The request of a vector as raw bytes (text, hex or base64)."""
    if "request_hex" in v:
        return bytes.fromhex(v["request_hex"].replace(" ", ""))
    if "request_base64" in v:
        return base64.b64decode(v["request_base64"])
    r = v.get("request")
    if isinstance(r, str):
        return r.encode("utf-8")
    return None


def every(items, k):
    return items[::k]


def spaced(items, n):
    """n items spread evenly over the list (all of them if there are fewer)."""
    if len(items) <= n:
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def requests():
    """(name, bytes) pairs of JSON-RPC requests, a spread over every vector file."""
    out = []
    for i, v in enumerate(load("jsonrpc2-spec-examples.json")):
        out.append((f"spec-{i:02}", v["request"].encode("utf-8")))
    for fname, tag, n in [
        ("jsonrpc2-edge.json", "edge", 22),
        ("reflectrpc-1.0.json", "v1", 16),
        ("reflection.json", "reflect", 6),
        ("bad-input.json", "bad", 14),
    ]:
        picked = [(i, v) for i, v in enumerate(load(fname)) if request_bytes(v) is not None]
        for i, v in spaced(picked, n):
            b = request_bytes(v)
            # Keep seeds small: the fuzzer grows them itself.
            if len(b) <= 4096:
                out.append((f"{tag}-{i:03}", b))
    return out


def suite(n):
    names = sorted(f for f in os.listdir(SUITE) if f.endswith(".json"))
    picked = []
    for prefix, count in (("y_", n // 2), ("n_", n // 3), ("i_", n - n // 2 - n // 3)):
        group = [f for f in names if f.startswith(prefix)]
        picked += spaced(group, count)
    out = []
    for f in picked:
        with open(os.path.join(SUITE, f), "rb") as fh:
            data = fh.read()
        if len(data) <= 4096:
            out.append((f"jts-{f[:-5]}", data))
    return out


def framing_prefix(sizes, rx, tx):
    """The framing target's header: count of chunk sizes, the sizes, rx and tx selectors."""
    return bytes([len(sizes) - 1]) + bytes(sizes) + bytes([rx, tx])


def framing(reqs):
    by_name = dict(reqs)
    out = []
    groups = [
        ["spec-00", "spec-04", "v1-000"],
        ["spec-06", "edge-000", "reflect-000"],
        ["bad-000", "spec-00", "v1-010"],
        ["spec-10", "spec-13", "spec-14"],
    ]
    headers = [
        framing_prefix([1], 6, 1),
        framing_prefix([0], 7, 7),
        framing_prefix([3, 17, 1, 63], 5, 2),
        framing_prefix([7, 0], 3, 4),
        framing_prefix([2, 5, 11], 6, 0),
    ]
    k = 0
    for g in groups:
        lines = [by_name[n] for n in g if n in by_name]
        for sep in (b"\n", b"\r\n"):
            stream = sep.join(lines) + sep
            out.append((f"stream-{k:02}", headers[k % len(headers)] + stream))
            k += 1
    # Blank lines, an unterminated tail, an overlong line between two requests.
    add = by_name.get("spec-00", b"{}")
    out.append((f"stream-{k:02}", headers[0] + b"\n \r\n\t\n" + add + b"\n" + add))
    k += 1
    out.append((f"stream-{k:02}", framing_prefix([5], 2, 3) + add + b"\n" + b"x" * 70 + b"\n" + add + b"\r\n"))
    k += 1
    out.append((f"stream-{k:02}", framing_prefix([1, 2], 0, 0) + b"\r\n\n" + b"{}\n"))
    return out


def raw_http():
    auth = "Authorization: Basic " + base64.b64encode(b"fuzz:secret").decode() + "\r\n"
    body = b'{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}'
    batch = b'[{"jsonrpc":"2.0","method":"echo","params":["x"],"id":"a"},{"jsonrpc":"2.0","method":"notify","params":["n"]}]'

    def post(body, extra="", path="/rpc", version="HTTP/1.1"):
        head = f"POST {path} {version}\r\nHost: localhost\r\n{extra}Content-Length: {len(body)}\r\n\r\n"
        return head.encode() + body

    chunked = (
        f"POST /rpc HTTP/1.1\r\nHost: localhost\r\n{auth}Transfer-Encoding: chunked\r\n\r\n".encode()
        + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    )
    return [
        ("http-post-auth", post(body, auth)),
        ("http-post-noauth", post(body)),
        ("http-post-wrongauth", post(body, "Authorization: Basic Zm9vOmJhcg==\r\n")),
        ("http-post-batch", post(batch, auth + "Content-Type: application/json-rpc\r\n")),
        ("http-post-1.0", post(b'{"method": "echo", "params": ["hi"], "id": 2}', auth, version="HTTP/1.0")),
        ("http-pipelined", post(body, auth) + post(b'{"method": "__describe_service", "params": [], "id": 3}', auth)),
        ("http-chunked", chunked),
        ("http-get", f"GET /rpc HTTP/1.1\r\nHost: localhost\r\n{auth}\r\n".encode()),
        ("http-head", f"HEAD /rpc/sub HTTP/1.1\r\nHost: localhost\r\n{auth}\r\n".encode()),
        ("http-wrong-path", post(body, auth, path="/other")),
        ("http-too-large", f"POST /rpc HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Length: 99999\r\n\r\n".encode() + b"[" * 100),
        ("http-expect", post(body, auth + "Expect: 100-continue\r\n")),
    ]


def write(target, items):
    d = os.path.join(CORPUS, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    seen = set()
    for name, data in items:
        if data in seen:
            continue
        seen.add(data)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    return len(seen)


def main():
    reqs = requests()
    counts = {
        "json_scanner": write("json_scanner", suite(40) + spaced(reqs, 12)),
        "request": write("request", reqs),
        "framing": write("framing", framing(reqs)),
        "host": write("host", spaced(reqs, 25) + raw_http()),
    }
    for t, n in counts.items():
        print(f"{t}: {n} seeds")
    print(f"total: {sum(counts.values())}")


if __name__ == "__main__":
    main()
