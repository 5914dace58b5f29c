//! A closed-loop load generator for newline-delimited JSON-RPC over TCP (`bench/servers.sh`).
//!
//! C connections (`TCP_NODELAY`), one thread each, start together. Each one, until the time is
//! up, writes D requests in one `write` and then reads D reply lines, validating every reply
//! byte for byte (a trailing CR is ignored). D=1 is plain request/response; D>1 is pipelining.
//!
//! Usage: `line-load ADDR [--conns C] [--depth D] [--secs S] [--request JSON] [--reply JSON]`
//! (defaults: 1, 1, 3, the 2.0 `add` request and reflex's reply to it). Requests are sent with
//! CRLF, as ReflectRPC's and reflex's clients send them.
//!
//! Prints one line: `rate R requests N secs S bad B p50_us X p99_us Y`, where rate is requests
//! per second over all connections, and p50/p99 are of the round trip of one write (D requests)
//! to its last reply. Exits 1 on a bad reply or a connection error.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

struct Options {
    addr: String,
    conns: usize,
    depth: usize,
    secs: f64,
    request: Vec<u8>,
    reply: Vec<u8>,
}

fn usage() -> ExitCode {
    eprintln!("usage: line-load ADDR [--conns C] [--depth D] [--secs S] [--request JSON] [--reply JSON]");
    ExitCode::from(2)
}

fn parse() -> Option<Options> {
    let mut args = std::env::args().skip(1);
    let mut o = Options {
        addr: String::new(),
        conns: 1,
        depth: 1,
        secs: 3.0,
        request: reflex_bench::REQ_V2.to_vec(),
        reply: reflex_bench::REPLY_V2.to_vec(),
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--conns" => o.conns = args.next()?.parse().ok().filter(|&n| n > 0)?,
            "--depth" => o.depth = args.next()?.parse().ok().filter(|&n| n > 0)?,
            "--secs" => o.secs = args.next()?.parse().ok().filter(|&s: &f64| s > 0.0)?,
            "--request" => o.request = args.next()?.into_bytes(),
            "--reply" => o.reply = args.next()?.into_bytes(),
            _ if o.addr.is_empty() && !a.starts_with('-') => o.addr = a.trim_start_matches("tcp://").to_string(),
            _ => return None,
        }
    }
    (!o.addr.is_empty()).then_some(o)
}

/// What one connection did.
#[derive(Default)]
struct Outcome {
    requests: u64,
    bad: u64,
    elapsed: Duration,
    round_trips: Vec<Duration>,
}

fn connection(o: &Options, start: &Barrier) -> std::io::Result<Outcome> {
    let mut stream = TcpStream::connect(&o.addr)?;
    stream.set_nodelay(true)?;
    let mut batch = Vec::with_capacity((o.request.len() + 2) * o.depth);
    for _ in 0..o.depth {
        batch.extend_from_slice(&o.request);
        batch.extend_from_slice(b"\r\n");
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Outcome { round_trips: Vec::with_capacity(1 << 20), ..Outcome::default() };
    start.wait();
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(o.secs);
    // buf[..have] holds received bytes not yet consumed.
    let mut have = 0;
    loop {
        let sent = Instant::now();
        if sent >= deadline {
            break;
        }
        stream.write_all(&batch)?;
        let mut got = 0;
        let mut scanned = 0;
        while got < o.depth {
            if let Some(i) = buf[scanned..have].iter().position(|&b| b == b'\n') {
                let end = scanned + i;
                let line = &buf[..end];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line != o.reply.as_slice() {
                    if out.bad == 0 {
                        eprintln!("line-load: unexpected reply: {}", String::from_utf8_lossy(line));
                    }
                    out.bad += 1;
                }
                got += 1;
                buf.copy_within(end + 1..have, 0);
                have -= end + 1;
                scanned = 0;
                continue;
            }
            scanned = have;
            if have == buf.len() {
                return Err(std::io::Error::other("reply line longer than 64 KiB"));
            }
            let n = stream.read(&mut buf[have..])?;
            if n == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the server closed the connection"));
            }
            have += n;
        }
        out.round_trips.push(sent.elapsed());
        out.requests += o.depth as u64;
    }
    out.elapsed = t0.elapsed();
    Ok(out)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p / 100.0).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e6
}

fn main() -> ExitCode {
    let Some(o) = parse() else { return usage() };
    let o = Arc::new(o);
    let start = Arc::new(Barrier::new(o.conns));
    let threads: Vec<_> = (0..o.conns)
        .map(|_| {
            let (o, start) = (Arc::clone(&o), Arc::clone(&start));
            std::thread::spawn(move || connection(&o, &start))
        })
        .collect();
    let mut total = Outcome::default();
    let mut failed = false;
    for t in threads {
        match t.join().expect("a connection thread panicked") {
            Ok(c) => {
                total.requests += c.requests;
                total.bad += c.bad;
                total.elapsed = total.elapsed.max(c.elapsed);
                total.round_trips.extend(c.round_trips);
            }
            Err(e) => {
                eprintln!("line-load: {e}");
                failed = true;
            }
        }
    }
    total.round_trips.sort_unstable();
    let secs = total.elapsed.as_secs_f64();
    println!(
        "rate {:.1} requests {} secs {:.3} bad {} p50_us {:.1} p99_us {:.1}",
        total.requests as f64 / secs,
        total.requests,
        secs,
        total.bad,
        percentile(&total.round_trips, 50.0),
        percentile(&total.round_trips, 99.0)
    );
    if failed || total.bad > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
