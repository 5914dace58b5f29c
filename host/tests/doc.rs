//! `reflex doc`, the real binary, against `reflex serve` and against small fake servers: the
//! HTML page's structure, the Markdown page, escaping of hostile server text, exit codes, and
//! the HTML page in a real headless browser (Debian's chromium: `./ci.sh setup` installs it).

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

mod support;

use support::fake::fake_server;
use support::{reflex, temp_dir, Serve, WAIT};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The reflection of a server that tries to inject markup and code through every string.
fn hostile_reflection() -> HashMap<&'static str, Result<Value, Value>> {
    let service = json!({
        "name": "<script>alert(1)</script> | `svc`",
        "description": "\"><img src=x onerror=alert(2)> | pipe | `tick` **bold** [link](javascript:alert(3))\n# heading",
        "version": "1.0\"'><b>",
        "custom_fields": {"<b>key</b>": "<i>value</i> | cell", "n": 5, "script": "<script>alert(4)</script>"}
    });
    let functions = json!([
        {"name": "led.set", "description": "<script>alert(5)</script>", "result_type": "Evil<T>",
         "result_desc": "\"><img src=x onerror=alert(6)>",
         "params": [{"name": "x\"><img src=x onerror=alert(7)>", "type": "array<Address>", "description": "a | b `c`"}]},
        {"name": "\"><img src=x onerror=alert(8)>", "description": "", "result_type": "PhoneType", "result_desc": "", "params": []},
        {"name": "a b", "description": "spaces", "result_type": "null", "result_desc": "", "params": []}
    ]);
    let types = json!([
        {"name": "PhoneType", "type": "enum", "description": "<script>alert(9)</script>",
         "values": [{"name": "<b>HOME</b>", "intvalue": 0, "description": "\"><img src=x onerror=alert(10)>"}]},
        {"name": "Address", "type": "hash", "description": "| `x` |",
         "fields": [{"name": "<i>f</i>", "type": "PhoneType", "description": "<script>alert(11)</script>"}]}
    ]);
    HashMap::from([
        ("__describe_service", Ok(service)),
        ("__describe_functions", Ok(functions)),
        ("__describe_custom_types", Ok(types)),
    ])
}

/// Calls `method` over a line connection (the test's own view of the service).
fn describe(url: &str, method: &str) -> Value {
    let mut s = TcpStream::connect(url.trim_start_matches("tcp://")).expect("connect");
    s.set_read_timeout(Some(WAIT)).unwrap();
    writeln!(s, r#"{{"jsonrpc":"2.0","method":"{method}","id":1}}"#).unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).expect("reply");
    serde_json::from_str::<Value>(&line).expect("JSON")["result"].clone()
}

/// Runs chromium headless with `args` on `page`, bounded in time; returns stdout.
fn chromium(profile: &Path, page: &Path, args: &[String]) -> String {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: this test needs Debian's chromium (`./ci.sh setup` installs it)"
    );
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(args)
    .arg(format!("file://{}", page.display()));
    let run = support::run(&mut cmd, b"", Duration::from_secs(90));
    assert!(run.status.success(), "chromium failed ({}): {}", run.status, run.stderr);
    run.stdout
}

/// Values of attribute `attr` (double-quoted) in `html`, entity-decoded for `&amp;`/`&quot;`.
fn attributes(html: &str, attr: &str) -> Vec<String> {
    let needle = format!(" {attr}=\"");
    html.match_indices(&needle)
        .map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            let value = &rest[..rest.find('"').expect("closing quote")];
            value.replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).expect("UTF-8 fragment")
}

/// Every in-page link of `html` points at an element id that exists, and nothing points
/// outside the page.
fn assert_links_resolve(html: &str) {
    let ids: BTreeSet<String> = attributes(html, "id").into_iter().collect();
    let hrefs = attributes(html, "href");
    assert!(!hrefs.is_empty(), "no links");
    for href in &hrefs {
        let fragment = href.strip_prefix('#').unwrap_or_else(|| panic!("link out of the page: {href}"));
        let target = percent_decode(fragment);
        assert!(ids.contains(&target), "link {href} has no target (ids: {ids:?})");
    }
}

/// A Markdown line without its code spans (whose text renders verbatim, never as markup) and
/// with its backslash-escaped characters blanked out: what is left may be markup.
fn outside_code_spans(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            // An escaped character is text, never markup.
            out.push('\u{fffd}');
            i += 2;
            continue;
        }
        if chars[i] == '`' {
            let n = chars[i..].iter().take_while(|&&c| c == '`').count();
            let mut j = i + n;
            let mut close = None;
            while j < chars.len() {
                let m = chars[j..].iter().take_while(|&&c| c == '`').count();
                if m == n {
                    close = Some(j);
                    break;
                }
                j += m.max(1);
            }
            if let Some(j) = close {
                out.push_str("<code/>");
                i = j + n;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[test]
fn html_and_markdown_of_the_demo_in_a_real_browser() {
    let serve = Serve::start();
    let url = &serve.url;
    let dir = temp_dir("doc-demo");
    let page = dir.join("doc.html");

    let out = reflex(&["doc", url, "-o", page.to_str().unwrap()], "");
    assert!(out.status.success(), "reflex doc: {}", out.stderr);
    let html = std::fs::read_to_string(&page).expect("page written");

    // Self-contained: inline CSS, no script, no external resource.
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"), "{}", &html[..200]);
    assert!(html.contains("<title>reflex demo device \u{2014} reflex service documentation</title>"));
    assert!(html.contains("<style>") && !html.contains("<script") && !html.contains("<link"));
    assert!(!html.contains(" src=") && !html.contains("http://") && !html.contains("https://"));

    // Header.
    assert!(html.contains("<h1>reflex demo device</h1>"));
    assert!(html.contains("Version <span>1.0.0</span>"));
    assert!(html.contains("The reflex demo device: echo and arithmetic"));
    assert!(html.contains("<tr class=\"custom-field\"><th>project</th><td>reflex</td></tr>"));
    assert!(html.contains("<tr class=\"custom-field\"><th>leds</th><td><code>4</code></td></tr>"));
    assert!(html.contains(&format!("<tr><th>Generated from</th><td><code>{url}</code></td></tr>")));
    assert!(html.contains(&format!("<code>reflex doc {}</code>", env!("CARGO_PKG_VERSION"))));
    let at = html.split("<tr><th>Generated at</th><td>").nth(1).expect("timestamp").split('<').next().unwrap();
    assert!(at.len() == 23 && at.starts_with("20") && at.ends_with(" UTC"), "{at}");

    // Every function and type of the service, at its anchor, in the table of contents.
    let functions = describe(url, "__describe_functions");
    let types = describe(url, "__describe_custom_types");
    let functions = functions.as_array().expect("functions");
    assert!(functions.len() > 20);
    for f in functions {
        let name = f["name"].as_str().unwrap();
        assert!(html.contains(&format!("<section class=\"function\" id=\"func-{name}\">")), "{name}");
        assert!(html.contains(&format!("<a href=\"#func-{name}\"><code>{name}</code></a>")), "{name}");
    }
    for t in types.as_array().expect("types") {
        let name = t["name"].as_str().unwrap();
        assert!(html.contains(&format!("<section class=\"type\" id=\"type-{name}\">")), "{name}");
    }
    assert!(html.contains("<section class=\"function\" id=\"func-led.set\">"));
    assert!(html.contains(
        "<p class=\"signature\"><code>led.set(index, on) -&gt; <span class=\"typename\">null</span></code></p>"
    ));
    assert!(
        html.contains("<p class=\"signature\"><code>add(a, b) -&gt; <span class=\"typename\">int</span></code></p>")
    );
    assert!(html.contains(
        "<tr><td><code>a</code></td><td><span class=\"typename\">int</span></td><td>the first summand</td></tr>"
    ));
    assert!(html.contains("Returns <span class=\"typename\">int</span>: <span class=\"description\">the sum"));
    assert!(html.contains("<span class=\"typename\">array&lt;int&gt;</span>"));
    // Custom types link to their section, as parameters and as results.
    assert!(html.contains("<a class=\"type-link\" href=\"#type-PhoneType\">PhoneType</a>"));
    assert!(
        html.contains("-&gt; <span class=\"typename\"><a class=\"type-link\" href=\"#type-DeviceInfo\">DeviceInfo</a>")
    );
    // Enum values and hash fields.
    assert!(html.contains("<tr><td><code>FAX</code></td><td>3</td><td>A fax machine.</td></tr>"));
    assert!(html.contains(
        "<tr><td><code>zipcode</code></td><td><span class=\"typename\">string</span></td><td>ZIP code.</td></tr>"
    ));
    assert_links_resolve(&html);

    // Markdown, to standard output.
    let out = reflex(&["doc", url, "--format", "markdown", "-o", "-"], "");
    assert!(out.status.success(), "{}", out.stderr);
    let md = out.stdout; // UTF-8: `support::reflex` checks that.
    assert!(md.starts_with("# reflex demo device\n"), "{md}");
    assert!(md.contains("## Types\n") && md.contains("## Functions\n") && md.contains("## Contents\n"));
    assert!(md.contains("<a id=\"func-led.set\"></a>\n\n### `led.set`\n"));
    assert!(md.contains("  - [`led.set`](#func-led.set)\n"));
    assert!(md.contains("<a id=\"type-PhoneType\"></a>\n\n### PhoneType (enum)\n"));
    assert!(md.contains("| `phone_type` | [PhoneType](#type-PhoneType) | a phone type, by name or by value |"));
    assert!(md.contains("| `ints` | array\\<int\\> | up to 32 integers |"));
    assert!(md.contains("| `FAX` | 3 | A fax machine. |"));
    assert!(md.contains("| project | reflex |"));
    assert!(md.contains("`add(a, b)` \u{2192} int\n"));
    // A .md file name picks Markdown by itself.
    let md_file = dir.join("doc.md");
    assert!(reflex(&["doc", url, "-o", md_file.to_str().unwrap()], "").status.success());
    assert!(std::fs::read_to_string(&md_file).unwrap().starts_with("# reflex demo device\n"));

    // A real browser: the parsed DOM has every anchor and the links resolve in it.
    let profile = dir.join("chromium-profile");
    let dom = chromium(&profile, &page, &["--dump-dom".into()]);
    assert!(dom.contains("<h1>reflex demo device</h1>"), "{}", &dom[..dom.len().min(500)]);
    for f in functions {
        let name = f["name"].as_str().unwrap();
        assert!(dom.contains(&format!("id=\"func-{name}\"")), "DOM lacks func-{name}");
    }
    for t in types.as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        assert!(dom.contains(&format!("id=\"type-{name}\"")), "DOM lacks type-{name}");
    }
    assert_links_resolve(&dom);

    // And a screenshot of it.
    let png = dir.join("doc.png");
    chromium(&profile, &page, &[format!("--screenshot={}", png.display()), "--window-size=1280,2000".into()]);
    let image = std::fs::read(&png).expect("screenshot written");
    assert!(image.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(image.len() > 50_000, "screenshot suspiciously small: {} bytes", image.len());

    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hostile_server_text_is_escaped() {
    let url = fake_server(hostile_reflection());
    let dir = temp_dir("doc-hostile");
    let page = dir.join("hostile.html");
    let out = reflex(&["doc", &url, "-o", page.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", out.stderr);
    let html = std::fs::read_to_string(&page).unwrap();

    // Nothing the server sent became markup.
    for raw in ["<script", "<img", "<b>", "<i>", "&quot;&gt;<"] {
        assert!(!html.contains(raw), "raw {raw:?} in the page:\n{html}");
    }
    assert!(html.contains(
        "<title>&lt;script&gt;alert(1)&lt;/script&gt; | `svc` \u{2014} reflex service documentation</title>"
    ));
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
    assert!(html.contains("Version <span>1.0&quot;&#39;&gt;&lt;b&gt;</span>"));
    assert!(html.contains("<th>&lt;b&gt;key&lt;/b&gt;</th><td>&lt;i&gt;value&lt;/i&gt; | cell</td>"));
    assert!(html.contains("<p class=\"description\">&lt;script&gt;alert(5)&lt;/script&gt;</p>"));
    assert!(html.contains("<code>&lt;b&gt;HOME&lt;/b&gt;</code>"));
    // Ids and links stay well-formed for hostile and spaced names.
    assert!(html.contains("id=\"func-led.set\""));
    assert!(html.contains("id=\"func-a_b\""));
    assert!(html.contains("id=\"func-&quot;&gt;&lt;img_src=x_onerror=alert(8)&gt;\""));
    assert!(html.contains("href=\"#func-%22%3E%3Cimg_src%3Dx_onerror%3Dalert%288%29%3E\""));
    assert!(html.contains("array&lt;<a class=\"type-link\" href=\"#type-Address\">Address</a>&gt;"));
    assert_links_resolve(&html);

    // The browser agrees: no script or img element, the hostile ids resolve.
    let dom = chromium(&dir.join("chromium-profile"), &page, &["--dump-dom".into()]);
    assert!(!dom.contains("<script") && !dom.contains("<img"), "{dom}");
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_links_resolve(&dom);

    // Markdown: specials escaped, no raw HTML from the server, table cells intact.
    let out = reflex(&["doc", &url, "--format", "markdown", "-o", "-"], "");
    assert!(out.status.success());
    let md = out.stdout;
    let prose: String = md.lines().map(outside_code_spans).collect::<Vec<_>>().join("\n");
    for raw in ["<script", "<img", "<b>", "<i>", "](javascript"] {
        assert!(!prose.contains(raw), "raw {raw:?} in the Markdown:\n{md}");
    }
    assert!(md.contains(r"# \<script\>alert(1)\</script\> \| \`svc\`"), "{md}");
    assert!(md.contains(r"\*\*bold\*\* \[link\](javascript:alert(3))"), "{md}");
    assert!(md.contains("\n\\# heading\n"), "{md}");
    assert!(md.contains(r"| \<b\>key\</b\> | \<i\>value\</i\> \| cell |"), "{md}");
    assert!(md.contains(r"| array\<[Address](#type-Address)\> | a \| b \`c\` |"), "{md}");
    for line in md.lines().filter(|l| l.starts_with("| ")) {
        let unescaped_pipes = line.match_indices('|').filter(|(i, _)| !line[..*i].ends_with('\\')).count();
        assert!(unescaped_pipes == 3 || unescaped_pipes == 4, "table row broken: {line}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn exit_codes_and_partial_reflection() {
    // Nobody listening: a connection problem, exit 2.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = reflex(&["doc", &format!("tcp://127.0.0.1:{port}"), "-o", "-"], "");
    assert_eq!(out.status.code(), Some(2));
    let stderr = &out.stderr;
    assert!(stderr.contains("cannot reach tcp://127.0.0.1:") && stderr.contains("connect"), "{stderr}");

    // __describe_functions fails: exit 1 with a message.
    let mut answers = hostile_reflection();
    answers.insert("__describe_functions", Err(json!({"code": -32601, "message": "Method not found"})));
    let out = reflex(&["doc", &fake_server(answers), "-o", "-"], "");
    assert_eq!(out.status.code(), Some(1));
    let stderr = &out.stderr;
    assert!(stderr.contains("__describe_functions failed") && stderr.contains("Method not found"), "{stderr}");
    assert!(out.stdout.is_empty());

    // Only the custom types fail: documented without them, with a warning.
    let mut answers = hostile_reflection();
    answers.insert("__describe_custom_types", Err(json!({"name": "TypeError", "message": "no types"})));
    let out = reflex(&["doc", &fake_server(answers), "-o", "-"], "");
    assert_eq!(out.status.code(), Some(0));
    let stderr = &out.stderr;
    assert!(stderr.contains("warning") && stderr.contains("__describe_custom_types"), "{stderr}");
    let html = out.stdout;
    assert!(html.contains("id=\"func-led.set\"") && !html.contains("id=\"types\""));
    // Type names stay, unlinked, when their types are unknown.
    assert!(html.contains("<span class=\"typename\">PhoneType</span>"));
    assert_links_resolve(&html);

    // An output file that cannot be written: exit 2.
    let out = reflex(&["doc", &fake_server(hostile_reflection()), "-o", "/nonexistent-dir/x.html"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stderr.contains("cannot write /nonexistent-dir/x.html"));
}
