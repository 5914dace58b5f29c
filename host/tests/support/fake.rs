//! Small line-delimited servers on loopback that stand in for a device: they say exactly what
//! a test needs them to say, including what `reflex serve` never would.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use serde_json::{json, Value};

/// A line server on a free port of 127.0.0.1, for the life of the test process: `reply` maps
/// each request line (without its line end; blank lines are skipped) to the reply line, if
/// any, which is sent with CRLF. Bytes, not text: a test may send what is not UTF-8. Returns
/// its `tcp://` URL.
pub fn line_server(reply: impl Fn(&[u8]) -> Option<String> + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("tcp://{}", listener.local_addr().expect("address"));
    let reply = Arc::new(reply);
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let reply = Arc::clone(&reply);
            std::thread::spawn(move || serve_lines(stream, &*reply));
        }
    });
    url
}

fn serve_lines(stream: TcpStream, reply: &dyn Fn(&[u8]) -> Option<String>) {
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        while line.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
            line.pop();
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if let Some(text) = reply(&line) {
            if writer.write_all(format!("{text}\r\n").as_bytes()).is_err() {
                return;
            }
        }
    }
}

/// A JSON-RPC 2.0 line server that answers each method from `answers` (`Ok(result)` or
/// `Err(error object)`) and any other with "Method not found"; lines that are not JSON get
/// nothing. Returns its `tcp://` URL.
pub fn fake_server(answers: HashMap<&'static str, Result<Value, Value>>) -> String {
    line_server(move |line| {
        let request = serde_json::from_slice::<Value>(line).ok()?;
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        let method = request["method"].as_str().unwrap_or_default();
        let reply = match answers.get(method) {
            Some(Ok(result)) => json!({"jsonrpc": "2.0", "result": result, "id": id}),
            Some(Err(error)) => json!({"jsonrpc": "2.0", "error": error, "id": id}),
            None => json!({"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": id}),
        };
        Some(reply.to_string())
    })
}
