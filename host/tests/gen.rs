//! `reflex gen`, the real binary: the generated Python client run by the machine's python3
//! against `reflex serve` over TCP, Unix and HTTP; the generated Rust client built in a
//! temporary cargo project (against this workspace's `reflex-host`) and run; and both
//! generated from a server whose names and descriptions try to break the code.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

mod support;

use support::fake::fake_server;
use support::{reflex, run, temp_dir, Serve};

/// A reflection whose names clash with keywords and with the generated code's own names, and
/// whose texts try to end strings, docstrings and comments. `led.set` answers `7`,
/// `type` answers `"typed"`.
fn hostile_server() -> String {
    let evil = "\"\"\" ''' */ \\ \\\" \u{0} \r\n```\nfn main() { panic!() }\n```\n    indented\n</script><script>alert(1)</script> [x](y) \u{202e}rtl\u{2028}sep";
    let many: Vec<Value> =
        (0..17).map(|i| json!({"name": format!("p{i}"), "type": "int", "description": ""})).collect();
    let answers = HashMap::from([
        (
            "__describe_service",
            json!({"name": "evil \"service\" */ <script>", "description": evil, "version": "1\"; import os #",
                   "custom_fields": {}}),
        ),
        (
            "__describe_functions",
            json!([
                {"name": "led.set", "description": evil, "result_type": "int", "result_desc": evil,
                 "params": [{"name": "self", "type": "int", "description": evil},
                            {"name": "class", "type": "array<array<Client>>", "description": "\"\"\""},
                            {"name": "", "type": "str", "description": ""},
                            {"name": "__x", "type": "hash", "description": ""},
                            {"name": "a b", "type": "base64", "description": ""},
                            {"name": "a-b", "type": "float", "description": ""}]},
                {"name": "led_set", "description": "", "result_type": "null", "result_desc": "", "params": []},
                {"name": "__init__", "description": "", "result_type": "array<Address>", "result_desc": "", "params": []},
                {"name": "type", "description": "", "result_type": "string", "result_desc": "",
                 "params": [{"name": "type", "type": "string", "description": ""},
                            {"name": "Type", "type": "String", "description": ""}]},
                {"name": "self", "description": "", "result_type": "Empty", "result_desc": "", "params": []},
                {"name": "close", "description": "", "result_type": "hash", "result_desc": "", "params": []},
                {"name": "call", "description": "", "result_type": "array", "result_desc": "", "params": []},
                {"name": "connect", "description": "", "result_type": "bool", "result_desc": "", "params": []},
                {"name": "\"\"\"; import os; os.system('x') #", "description": "", "result_type": "int", "result_desc": "", "params": []},
                {"name": "many", "description": "seventeen parameters", "result_type": "int", "result_desc": "", "params": many}
            ]),
        ),
        (
            "__describe_custom_types",
            json!([
                {"name": "Client", "type": "enum", "description": evil,
                 "values": [{"name": "_x_", "intvalue": 0, "description": evil},
                            {"name": "mro", "intvalue": 1, "description": ""},
                            {"name": "name", "intvalue": 2, "description": ""},
                            {"name": "1st", "intvalue": 3, "description": ""},
                            {"name": "Self", "intvalue": 4, "description": ""},
                            {"name": "HOME", "intvalue": 5, "description": ""},
                            {"name": "home", "intvalue": 6, "description": ""},
                            {"name": "class", "intvalue": 7, "description": "\"\"\""}]},
                {"name": "Address", "type": "hash", "description": evil,
                 "fields": [{"name": "first name", "type": "string", "description": evil},
                            {"name": "type", "type": "Client", "description": ""},
                            {"name": "self", "type": "int", "description": ""},
                            {"name": "next", "type": "Address", "description": "recursive"},
                            {"name": "other", "type": "Other", "description": "mutually recursive"}]},
                {"name": "Other", "type": "hash", "description": "",
                 "fields": [{"name": "back", "type": "Address", "description": ""},
                            {"name": "list", "type": "array<Other>", "description": ""}]},
                {"name": "String", "type": "hash", "description": "", "fields": [{"name": "s", "type": "string", "description": ""}]},
                {"name": "str", "type": "hash", "description": "", "fields": []},
                {"name": "Empty", "type": "enum", "description": "", "values": []}
            ]),
        ),
        ("led.set", json!(7)),
        ("type", json!("typed")),
    ]);
    fake_server(answers.into_iter().map(|(method, result)| (method, Ok(result))).collect())
}

fn generate(url: &str, lang: &str, file: &Path) -> String {
    let out = reflex(&["gen", url, "--lang", lang, "-o", file.to_str().unwrap()], "");
    assert!(out.status.success(), "reflex gen --lang {lang}: {}", out.stderr);
    std::fs::read_to_string(file).expect("generated file")
}

fn python() -> Command {
    let mut cmd = Command::new("python3");
    // Isolated (-I: no PYTHON* variables, no user site) and without site (-S: no
    // site-packages), so only the standard library can be imported.
    cmd.args(["-I", "-S"]);
    cmd
}

fn py_compile(file: &Path) {
    let mut cmd = python();
    cmd.args(["-m", "py_compile"]).arg(file);
    let out = run(&mut cmd, b"", Duration::from_secs(60));
    assert!(out.status.success(), "py_compile: {}", out.stderr);
}

const PYTHON_DEMO: &str = r#"
import enum, sys, typing
sys.path.insert(0, sys.argv[1])
before = set(sys.modules)
import demo_client as d
if hasattr(sys, "stdlib_module_names"):
    loaded = {m.split(".")[0] for m in set(sys.modules) - before} - {"demo_client"}
    foreign = sorted(m for m in loaded if m not in sys.stdlib_module_names)
    assert not foreign, "not from the standard library: %r" % foreign

assert d.SERVICE_NAME == "reflex demo device" and d.SERVICE_VERSION == "1.0.0", d.SERVICE_NAME
assert "reflex gen" in d.__doc__ and "reflex demo device" in d.__doc__ and sys.argv[2] in d.__doc__
assert issubclass(d.PhoneType, enum.IntEnum) and d.PhoneType.FAX == 3
assert [m.name for m in d.PhoneType] == ["HOME", "WORK", "MOBILE", "FAX"]
assert typing.get_type_hints(d.Address) == {k: str for k in ["firstname", "lastname", "street1", "street2", "zipcode", "city"]}
hints = typing.get_type_hints(d.Client.echo_ints)
assert hints == {"ints": typing.List[int], "return": typing.List[int]}, hints
assert typing.get_type_hints(d.Client.device_info)["return"] is d.DeviceInfo
assert typing.get_type_hints(d.Client.div) == {"a": float, "b": float, "return": float}
assert typing.get_type_hints(d.Client.led_set)["return"] is type(None)
assert "Switches an LED on or off." in d.Client.led_set.__doc__ and "index (int): the LED, 0 to 3" in d.Client.led_set.__doc__
assert issubclass(d.RpcError, Exception)

address = {"firstname": "Ada", "lastname": "L\u00f6velace", "street1": "1 \"Quote\" St", "street2": "", "zipcode": "12345", "city": "\u6771\u4eac"}
text = "gr\u00fc\u00dfe \u2603 \U0001F600 \"quoted\" \\ back\nslash"
for url in sys.argv[2:]:
    with d.Client(url, timeout=10) as c:
        assert c.add(2, 3) == 5
        assert c.echo(text) == text
        assert c.led_set(1, True) is None and c.led_get(1) is True
        assert c.led_set(1, False) is None and c.led_get(1) is False
        member = c.enum_echo(d.PhoneType.FAX)
        assert member == 3, member
        assert c.enum_echo("MOBILE") == 2 and c.enum_echo(1) == 1 and c.enum_echo("HOME") == 0
        assert c.hash_echo(address) == address
        assert c.div(3, 2) == 1.5
        assert c.echo_ints([1, 2, 3]) == [1, 2, 3]
        assert c.checksum(b"123456789") == 3421780262 and c.checksum("MTIzNDU2Nzg5") == 3421780262
        info = c.device_info()
        assert info["led_count"] == 4 and info["float_support"] is True, info
        assert c.get_data() == ["hello", 5]
        try:
            c.error_user()
            raise AssertionError("no error")
        except d.RpcError as e:
            assert (e.code, e.name, e.message) == (-32000, "UserError", "This error was raised on purpose"), repr(e)
        try:
            c.led_get(9)
            raise AssertionError("no error")
        except d.RpcError as e:
            assert (e.code, e.name) == (-32001, "IndexError"), repr(e)
            assert str(e) == "IndexError: LED index out of range (0-3) (code -32001)", str(e)
        assert c.call("add", 40, 2) == 42
        print("OK", url, c.add(20, 22), c.enum_echo(d.PhoneType.WORK), c.echo(text) == text)
"#;

const PYTHON_AUTH: &str = r#"
import sys
sys.path.insert(0, sys.argv[1])
import demo_client as d
url = sys.argv[2]
try:
    d.Client(url).add(1, 2)
    raise AssertionError("no credentials, yet no error")
except PermissionError as e:
    assert "401" in str(e), e
with d.Client(url, basic_auth=("alice", "s3cret")) as c:
    assert c.add(1, 2) == 3 and c.is_authenticated() is True and c.get_username() == "alice"
with d.Client(url.replace("http://", "http://alice:s3cret@")) as c:
    assert c.get_username() == "alice"
print("OK auth")
"#;

#[test]
fn python_client_over_tcp_unix_and_http() {
    let dir = temp_dir("gen-python");
    let sock = dir.join("demo.sock");
    let unix = format!("unix://{}", sock.display());
    let serve = Serve::start_on(&["tcp://127.0.0.1:0", &unix, "http://127.0.0.1:0/rpc"]);
    let module = dir.join("demo_client.py");
    let code = generate(serve.endpoint("tcp"), "python", &module);
    assert!(code.starts_with("\"\"\"Client for the service reflex demo device 1.0.0."), "{}", &code[..200]);
    assert!(code.contains(&format!("Generated by ``reflex gen {}``", env!("CARGO_PKG_VERSION"))));
    assert!(code.contains("class Client(_ClientBase):") && code.contains("class RpcError(Exception):"));
    assert!(code.contains("class PhoneType(enum.IntEnum):") && code.contains("class Address(typing.TypedDict):"));
    assert!(code.contains("    def led_set(self, index: int, on: bool) -> None:"));
    assert!(code.contains("    def echo_ints(self, ints: typing.List[int]) -> typing.List[int]:"));
    assert!(code.contains("    def enum_echo(self, phone_type: typing.Union[PhoneType, str, int]) -> int:"));
    assert!(code.contains("    def checksum(self, data: typing.Union[str, bytes]) -> int:"));
    assert!(code.contains("    def device_info(self) -> DeviceInfo:"));
    py_compile(&module);

    let script = dir.join("check.py");
    std::fs::write(&script, PYTHON_DEMO).unwrap();
    let urls = [serve.endpoint("tcp"), &unix, serve.endpoint("http")];
    let mut cmd = python();
    cmd.arg(&script).arg(&dir).args(urls);
    let out = run(&mut cmd, b"", Duration::from_secs(120));
    let stdout = &out.stdout;
    assert!(out.status.success(), "python3 failed:\n{stdout}\n{}", out.stderr);
    for url in urls {
        assert!(stdout.contains(&format!("OK {url} 42 1 True\n")), "{url}: {stdout}");
    }
    drop(serve);

    // HTTP Basic authentication, from the constructor or from the URL.
    let guarded = Serve::start_with(&["http://127.0.0.1:0/rpc"], &["--basic-auth", "alice:s3cret"]);
    let mut cmd = python();
    cmd.arg("-c").arg(PYTHON_AUTH).arg(&dir).arg(guarded.endpoint("http"));
    let out = run(&mut cmd, b"", Duration::from_secs(60));
    let stdout = &out.stdout;
    assert!(out.status.success(), "{stdout}\n{}", out.stderr);
    assert!(stdout.contains("OK auth"), "{stdout}");
    drop(guarded);
    let _ = std::fs::remove_dir_all(&dir);
}

const PYTHON_HOSTILE: &str = r#"
import enum, sys, typing
sys.path.insert(0, sys.argv[1])
import hostile as h
evil = "\"\"\" ''' */ \\ \\\" \x00 \r\n```\nfn main() { panic!() }\n```\n    indented\n</script><script>alert(1)</script> [x](y) \u202ertl\u2028sep"
assert h.SERVICE_NAME == 'evil "service" */ <script>', h.SERVICE_NAME
assert h.SERVICE_VERSION == '1"; import os #'
# Clashing type names are renamed; the client stays the client.
assert issubclass(h.Client, h._ClientBase) and issubclass(h.Client_, enum.IntEnum)
assert [m.name for m in h.Client_] == ["V_x_", "mro_", "name_", "V_1st", "Self", "HOME", "home", "class_"], list(h.Client_.__members__)
assert h.Client_["class_"] == 7 and h.str_ is not str and h.String.__name__ == "String"
# Methods: sanitized, keywords and clashes with a trailing underscore.
for name in ["led_set", "led_set_", "rpc__init__", "type", "self", "close_", "call_", "connect", "many"]:
    assert callable(getattr(h.Client, name)), name
assert [n for n in dir(h.Client) if "import_os" in n] == ["rpc_____import_os__os_system__x____"], dir(h.Client)
assert h.Client.close is h._ClientBase.close and h.Client.call is h._ClientBase.call
assert list(typing.get_type_hints(h.Client.led_set)) == ["self_", "class_", "arg", "p__x", "a_b", "a_b_", "return"]
assert typing.get_type_hints(h.Client.led_set)["class_"] == typing.List[typing.List[h.Client_]]
assert len(typing.get_type_hints(h.Client.many)) == 18
# The hostile text is in the docstrings, verbatim where a docstring can hold it.
doc = h.Client.led_set.__doc__
for piece in ['""" \'\'\' */ \\ \\"', "</script><script>alert(1)</script>", "fn main() { panic!() }", "\u202ertl\u2028sep", "\x00"]:
    assert piece in doc, (piece, doc)
assert evil.splitlines()[0].strip() in h.__doc__
assert "first name" in h.Address.__annotations__ and "self" in h.Address.__annotations__
# Calls use the wire names.
with h.Client(sys.argv[2]) as c:
    assert c.led_set(1, [[h.Client_.home]], "s", {}, b"\x00\xff", 2) == 7
    assert c.type("a", "b") == "typed"
    try:
        c.led_set_()
        raise AssertionError("no error")
    except h.RpcError as e:
        assert e.code == -32601 and e.name is None, repr(e)
print("OK hostile")
"#;

#[test]
fn python_client_from_a_hostile_server() {
    let url = hostile_server();
    let dir = temp_dir("gen-python-hostile");
    let module = dir.join("hostile.py");
    let code = generate(&url, "python", &module);
    assert!(!code.contains("<script>alert(1)</script> [x](y) \u{202e}"), "raw bidi control in the code");
    py_compile(&module);
    let script = dir.join("check.py");
    std::fs::write(&script, PYTHON_HOSTILE).unwrap();
    let mut cmd = python();
    cmd.arg(&script).arg(&dir).arg(&url);
    let out = run(&mut cmd, b"", Duration::from_secs(60));
    let stdout = &out.stdout;
    assert!(out.status.success(), "python3 failed:\n{stdout}\n{}", out.stderr);
    assert!(stdout.contains("OK hostile"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

const RUST_MAIN: &str = r#"
mod demo;
mod hostile;

use demo::{Address, DeviceInfo, PhoneType, ReflexDemoDeviceClient};
use reflex_host::client::ClientOptions;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let hostile_url = args.next().expect("hostile URL");
    for url in args {
        let mut c = ReflexDemoDeviceClient::connect(&url, ClientOptions::default()).await.expect("connect");
        let sum: i64 = c.add(2, 3).await.expect("add");
        let echoed: String = c.echo("grüße ☃").await.expect("echo");
        let (): () = c.led_set(2, true).await.expect("led.set");
        let on: bool = c.led_get(2).await.expect("led.get");
        let fax: i64 = c.enum_echo(PhoneType::Fax).await.expect("enum_echo");
        let ints: Vec<i64> = c.echo_ints(&[1, 2, 3]).await.expect("echo_ints");
        let quotient: f64 = c.div(3.0, 2.0).await.expect("div");
        let info: DeviceInfo = c.device_info().await.expect("device.info");
        let address = Address {
            firstname: "Ada".into(),
            lastname: "Lovelace".into(),
            street1: "1 Main St".into(),
            street2: String::new(),
            zipcode: "12345".into(),
            city: "London".into(),
        };
        let back: serde_json::Value = c.hash_echo(&address).await.expect("hash_echo");
        let back: Address = serde_json::from_value(back).expect("an Address");
        let error = c.error_user().await.expect_err("error.user fails");
        let rpc = error.rpc().expect("an RPC error");
        let crc: i64 = c.checksum("MTIzNDU2Nzg5").await.expect("checksum");
        println!(
            "{url}: add={sum} echo={echoed} led={on} fax={fax} ints={ints:?} div={quotient} leds={} same={} error={:?}/{:?} crc={crc}",
            info.led_count,
            back == address,
            rpc.code,
            rpc.name,
        );
        assert_eq!(serde_json::to_value(PhoneType::Mobile).unwrap(), serde_json::json!("MOBILE"));
        assert_eq!(serde_json::from_value::<PhoneType>(serde_json::json!(3)).unwrap(), PhoneType::Fax);
        assert_eq!(serde_json::from_value::<PhoneType>(serde_json::json!("WORK")).unwrap(), PhoneType::Work);
        assert!(serde_json::from_value::<PhoneType>(serde_json::json!(9)).is_err());
        assert_eq!(PhoneType::from_name("HOME"), Some(PhoneType::Home));
        assert_eq!((PhoneType::Fax.name(), PhoneType::Fax.value()), ("FAX", 3));
        assert_eq!(demo::SERVICE_NAME, "reflex demo device");
    }

    // The hostile module compiled; its renamed methods call the right wire names.
    let mut h = hostile::EvilServiceScriptClient::connect(&hostile_url, ClientOptions::default()).await.expect("connect");
    let seven: i64 = h
        .led_set(1, &[vec![hostile::Client::Home2]], &hostile::Str {}, &serde_json::json!({}), "AA==", 2.0)
        .await
        .expect("led.set");
    let typed: String = h.r#type("a", &hostile::StringType { s: "b".into() }).await.expect("type");
    let missing = h.led_set_2().await.expect_err("led_set is unknown");
    println!("hostile: led.set={seven} type={typed} missing={:?}", missing.rpc().map(|e| e.code));
}

/// Only type-checked: the hostile module's renamed items exist with the expected types.
fn _types(a: hostile::Address, o: hostile::Other, e: hostile::Client) -> impl std::any::Any {
    let fields: (String, hostile::Client, i64, Box<hostile::Address>, Box<hostile::Other>) =
        (a.first_name, a.r#type, a.self_, a.next, a.other);
    let other: (Box<hostile::Address>, Vec<hostile::Other>) = (o.back, o.list);
    let variants = [hostile::Client::X, hostile::Client::Mro, hostile::Client::Name, hostile::Client::V1st];
    let more = [hostile::Client::SelfValue, hostile::Client::Home, hostile::Client::Class, e];
    let empty: [hostile::Empty; 0] = hostile::Empty::ALL;
    let _: hostile::Str = hostile::Str {};
    (fields, other, variants, more, empty)
}

/// Only type-checked: every hostile function has a method.
async fn _calls(h: &mut hostile::EvilServiceScriptClient) {
    let _: Vec<hostile::Address> = h.init().await.unwrap();
    let _: hostile::Empty = h.self_().await.unwrap();
    let _: serde_json::Value = h.close().await.unwrap();
    let _: serde_json::Value = h.call().await.unwrap();
    let _: bool = h.connect_().await.unwrap();
    let _: i64 = h.import_os_os_system_x().await.unwrap();
    let _: i64 = h.many(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16).await.unwrap();
}
"#;

#[test]
fn rust_client_builds_and_calls_the_server() {
    let dir = temp_dir("gen-rust");
    let sock = dir.join("demo.sock");
    let unix = format!("unix://{}", sock.display());
    let serve = Serve::start_on(&["tcp://127.0.0.1:0", &unix, "http://127.0.0.1:0/rpc"]);
    let hostile_url = hostile_server();

    let project = dir.join("project");
    std::fs::create_dir_all(project.join("src")).unwrap();
    let demo = generate(serve.endpoint("tcp"), "rust", &project.join("src/demo.rs"));
    assert!(demo.contains("pub struct ReflexDemoDeviceClient {\n    inner: ::reflex_host::client::Client,\n}"));
    assert!(demo.contains(
        "#[derive(Debug, Clone, PartialEq, ::serde::Serialize, ::serde::Deserialize)]\npub struct Address {"
    ));
    assert!(demo.contains("pub enum PhoneType {"));
    assert!(demo.contains("    pub async fn led_set(&mut self, index: i64, on: bool) -> ::std::result::Result<(), ::reflex_host::client::ClientError> {"));
    assert!(demo.contains("    pub async fn echo_ints(&mut self, ints: &[i64]) -> ::std::result::Result<Vec<i64>, ::reflex_host::client::ClientError> {"));
    assert!(demo.contains("    /// Switches an LED on or off.\n"));
    let hostile = generate(&hostile_url, "rust", &project.join("src/hostile.rs"));
    assert!(!hostile.contains('\u{202e}') && !hostile.contains('\r') && !hostile.contains("\n/// ```"));
    assert!(hostile.contains("next: Box<Address>") && hostile.contains("other: Box<Other>"));
    assert!(hostile.contains("pub struct StringType {") && hostile.contains("pub enum Empty {}"));

    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace");
    std::fs::write(
        project.join("Cargo.toml"),
        format!(
            "[package]\nname = \"reflex-gen-check\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\nreflex-host = {{ path = {host:?} }}\n\
             serde = {{ version = \"1.0.219\", features = [\"derive\"] }}\nserde_json = \"1\"\n\
             tokio = {{ version = \"1.47\", features = [\"rt\", \"macros\"] }}\n\n[workspace]\n",
            host = workspace.join("host").display().to_string(),
        ),
    )
    .unwrap();
    // The workspace's lock file: the same dependency versions, so the build reuses them.
    std::fs::copy(workspace.join("Cargo.lock"), project.join("Cargo.lock")).expect("Cargo.lock");
    std::fs::write(project.join("src/main.rs"), RUST_MAIN).unwrap();

    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gen-rust-target");
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args(["build", "--offline", "--quiet", "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .env("CARGO_TERM_COLOR", "never");
    let out = run(&mut cmd, b"", Duration::from_secs(25 * 60));
    let stderr = &out.stderr;
    assert!(out.status.success(), "the generated client does not build:\n{stderr}");
    assert!(!stderr.contains("warning"), "the generated client builds with warnings:\n{stderr}");

    let mut cmd = Command::new(target.join("debug/reflex-gen-check"));
    cmd.arg(&hostile_url).args([serve.endpoint("tcp"), &unix, serve.endpoint("http")]);
    let out = run(&mut cmd, b"", Duration::from_secs(60));
    let stdout = &out.stdout;
    assert!(out.status.success(), "{stdout}\n{}", out.stderr);
    for url in [serve.endpoint("tcp"), &unix, serve.endpoint("http")] {
        let expected = format!(
            "{url}: add=5 echo=grüße ☃ led=true fax=3 ints=[1, 2, 3] div=1.5 leds=4 same=true \
             error=Some(-32000)/Some(\"UserError\") crc=3421780262\n"
        );
        assert!(stdout.contains(&expected), "expected {expected:?} in:\n{stdout}");
    }
    assert!(stdout.contains("hostile: led.set=7 type=typed missing=Some(Some(-32601))"), "{stdout}");
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}
