"""ReflectRPC 0.7.6's rpcsh against a reflex server (tcp, unix or http), driven with pexpect.

usage: rpcsh_session.py ENDPOINT-URL
"""

import json
import os
import re

import pexpect

from fc_common import VENV_BIN, done, emit, endpoint_arg, expect, expect_eq

ep = endpoint_arg()
PROMPT = "(rpc) "
TIMEOUT = 10

env = dict(os.environ, TERM="dumb", PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
shell = pexpect.spawn(
    os.path.join(VENV_BIN, "rpcsh"),
    ep.tool_args(),
    env=env,
    encoding="utf-8",
    timeout=TIMEOUT,
    dimensions=(50, 400),
    echo=False,
)
shell.delaybeforesend = None  # echo is off, so no need to wait before each send
transcript = []


def lines(text):
    """Output lines without the CR the terminal adds and without empty ones at the ends."""
    return text.replace("\r\n", "\n").replace("\r", "").strip("\n").split("\n")


def wait_prompt(what):
    try:
        shell.expect_exact(PROMPT)
    except (pexpect.TIMEOUT, pexpect.EOF) as e:
        raise AssertionError("no rpcsh prompt after %s (%s); output so far:\n%s%s"
                             % (what, type(e).__name__, "".join(transcript), shell.before))
    transcript.append(shell.before + PROMPT)
    return shell.before


def command(line):
    """Sends one command line; returns the output lines before the next prompt."""
    shell.sendline(line)
    out = wait_prompt(repr(line))
    transcript[-1] = line + "\n" + transcript[-1]
    return lines(out)


# --- the intro: name and version from __describe_service --------------------------------
intro = lines(wait_prompt("start-up"))
expected_head = [
    "ReflectRPC Shell",
    "================",
    "",
    "Type 'help' for available commands",
    "",
    "RPC server: " + ep.tool_server_text(),
    "",
    "Self-description of the Service:",
    "================================",
    "reflex demo device (1.0.0)",
]
expect_eq(intro[: len(expected_head)], expected_head, "rpcsh intro")
expect(intro[len(expected_head)].startswith("The reflex demo device"), "description line: %r" % intro)
emit("intro", intro[: len(expected_head)])

# --- list / doc / types / type -----------------------------------------------------------
listing = command("list")
for entry in ["echo(message)", "add(a, b)", "enum_echo(phone_type)", "hash_echo(address)", "echo_ints(ints)",
              "get_username()"]:
    expect(entry in listing, "%r missing from list: %r" % (entry, listing))
emit("list", listing)

expect_eq(
    command("doc echo"),
    ["echo(message) - Returns the message it was given.",
     "    [string] message - the message to echo",
     "    Result: string - the same message"],
    "doc echo",
)
doc_add = command("doc add")
expect_eq(doc_add[0], "add(a, b) - Adds two integers.", "doc add, first line")
expect_eq(doc_add[1:3], ["    [int] a - the first summand", "    [int] b - the second summand"], "doc add params")

types = command("types")
expect_eq(types, ["PhoneType", "Address", "DeviceInfo"], "types")

phone = command("type PhoneType")
expect_eq(phone[0], "enum: PhoneType", "type PhoneType, first line")
expect(phone[1].startswith("Description: "), "type PhoneType, description: %r" % phone)
expect_eq([re.sub(r" - .*", "", l) for l in phone[2:]],
          ["    [0] HOME", "    [1] WORK", "    [2] MOBILE", "    [3] FAX"], "PhoneType values")
expect(phone[2].startswith("    [0] HOME - "), "PhoneType HOME line: %r" % phone[2])
emit("type_phone", phone)

address = command("type Address")
expect_eq(address[0], "hash: Address", "type Address, first line")
expect_eq(address[2], "    [string] firstname - First name.", "type Address, first field")

# --- exec: results, pretty-printed with sort_keys -----------------------------------------
expect_eq(command("exec add 1 2"), ["Server replied: 3"], "exec add 1 2")
expect_eq(command('exec echo "Hello Server"'), ['Server replied: "Hello Server"'], "exec echo")
expect_eq(command("exec enum_echo \"MOBILE\""), ["Server replied: 2"], "exec enum_echo")
expect_eq(command("exec echo_ints [1, 2, 3]"),
          ["Server replied: [", "    1,", "    2,", "    3", "]"], "exec echo_ints")
hash_reply = command('exec hash_echo {"firstname": "A", "lastname": "B", "street1": "C", "street2": "", '
                     '"zipcode": "1", "city": "D"}')
expect_eq(hash_reply[0], "Server replied: {", "exec hash_echo")
expect_eq(json.loads("\n".join(hash_reply)[len("Server replied: "):])["city"], "D", "hash_echo city")
emit("exec_add", command("exec add 1 2"))

# --- errors: the Python repr of the error dict ----------------------------------------------
err = command("exec add 1 2.5")
expect_eq(err, ["ERROR: {'name': 'TypeError', 'message': \"add: Expected value of type 'int' for parameter 'b' "
                "but got value of type 'float'\"}"], "exec add 1 2.5")
emit("exec_error", err)
expect_eq(command("exec nope"),
          ["ERROR: {'name': 'InvalidRequest', 'message': \"No such method: nope. Call '__describe_functions' "
           "to get details on available function calls\"}"], "exec of an unknown function")
expect_eq(command("exec echo"),
          ["ERROR: {'name': 'ParamError', 'message': \"Expected 1 parameters for 'echo' but got 0\"}"],
          "exec echo without arguments")
expect_eq(command("exec add 1 x"), ["Invalid JSON in parameter 2:", "'x'"], "exec with invalid JSON")
expect_eq(command("doc nope"), ["Unknown RPC function: nope"], "doc nope")
expect_eq(command("type Nope"), ["Unknown custom RPC type: Nope"], "type Nope")

# --- raw: the reply line as sent, then an empty line ---------------------------------------
raw = command('raw {"method": "echo", "params": ["x"], "id": 7}')
expect_eq(raw[0], '{"result": "x", "id": 7, "error": null}', "raw echo")

# --- the connection still works, then quit exits 0 -------------------------------------------
expect_eq(command("exec add 40 2"), ["Server replied: 42"], "exec after the errors")
shell.sendline("quit")
try:
    shell.expect(pexpect.EOF)
except pexpect.TIMEOUT:
    raise AssertionError("rpcsh did not exit after quit")
shell.close()
expect_eq(shell.exitstatus, 0, "rpcsh exit status after quit")
emit("exit_status", shell.exitstatus)
done()
