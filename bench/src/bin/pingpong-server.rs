//! The floor of `bench/servers.sh`: a bare TCP line "server" that parses nothing. One thread per
//! connection (`TCP_NODELAY`) reads what arrives, counts the newlines in it and writes that many
//! canned replies in one `write`. Its client is `line-load`, like reflex's line listener's, so
//! the difference between the two is what reflex does with a request.
//!
//! Usage: `pingpong-server [REPLY]`: REPLY defaults to reflex's reply to the 2.0 `add`,
//! `{"jsonrpc":"2.0","result":3,"id":1}`, and is sent with CRLF like reflex's. Listens on a free
//! loopback port, prints `listening on tcp://ADDR` and serves until it is killed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

fn main() -> std::io::Result<()> {
    let reply = std::env::args().nth(1).unwrap_or_else(|| String::from_utf8_lossy(reflex_bench::REPLY_V2).into_owned());
    let reply: &'static [u8] = format!("{reply}\r\n").into_bytes().leak();
    let listener = TcpListener::bind("127.0.0.1:0")?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on tcp://{}", listener.local_addr()?)?;
        out.flush()?;
    }
    for stream in listener.incoming() {
        let stream = stream?;
        std::thread::spawn(move || serve(stream, reply));
    }
    Ok(())
}

fn serve(mut stream: TcpStream, reply: &[u8]) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(64 * 1024);
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        let lines = buf[..n].iter().filter(|&&b| b == b'\n').count();
        if lines > 0 {
            out.clear();
            for _ in 0..lines {
                out.extend_from_slice(reply);
            }
            stream.write_all(&out)?;
        }
    }
}
