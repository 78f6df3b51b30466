//! A RESP proxy in front of the real Redis that fails one chosen command.
//!
//! The mesh's `REDIS_URL` points here. Every command the mesh sends is
//! parsed (RESP arrays of bulk strings) and named by its signature: the
//! command, the script for `EVALSHA`, and the first key with every run of
//! digits written `#` (so the same step of a flow has the same signature
//! for every user the sweep tries). A fault is armed for the k-th
//! occurrence of one signature, in one of two ways:
//!
//! - [`Mode::Before`]: the connection is dropped before the command reaches
//!   Redis. It never runs.
//! - [`Mode::ReplyLost`]: the command runs, and the connection is dropped
//!   when its reply comes back, before the mesh sees it.
//!
//! Commands that were in flight on the same (multiplexed) connection fail
//! with it, having run or not: exactly what a real connection loss does.
//! Connection set-up and health pings are never counted or failed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// How the armed command fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The connection drops before the command runs.
    Before,
    /// The command runs; the connection drops before its reply arrives.
    ReplyLost,
}

/// One armed fault.
#[derive(Debug, Clone)]
struct Armed {
    signature: String,
    occurrence: usize,
    mode: Mode,
}

#[derive(Default)]
struct State {
    /// Counting (between `record`/`arm` and `disarm`).
    counting: bool,
    counts: HashMap<String, usize>,
    log: Vec<String>,
    armed: Option<Armed>,
    fired: bool,
}

/// What to do with one command.
enum Verdict {
    Forward,
    DropBefore,
    DropAfterReply,
}

impl State {
    fn on_command(&mut self, signature: Option<String>) -> Verdict {
        let Some(signature) = signature.filter(|_| self.counting) else {
            return Verdict::Forward;
        };
        let n = self.counts.entry(signature.clone()).or_default();
        *n += 1;
        let n = *n;
        self.log.push(signature.clone());
        match &self.armed {
            Some(a) if !self.fired && a.signature == signature && a.occurrence == n => {
                self.fired = true;
                match a.mode {
                    Mode::Before => Verdict::DropBefore,
                    Mode::ReplyLost => Verdict::DropAfterReply,
                }
            }
            _ => Verdict::Forward,
        }
    }
}

/// The running proxy.
#[derive(Clone)]
pub struct FaultProxy {
    /// `redis://127.0.0.1:PORT` to put in `REDIS_URL`.
    pub url: String,
    state: Arc<Mutex<State>>,
    upstream: Arc<Mutex<String>>,
}

impl FaultProxy {
    /// Starts a proxy to the Redis at `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("redis://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State::default()));
        let upstream = Arc::new(Mutex::new(upstream.to_owned()));
        let shared = state.clone();
        let target = upstream.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let state = shared.clone();
                let upstream = target
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        relay(client, server, state).await;
                    }
                });
            }
        });
        Self {
            url,
            state,
            upstream,
        }
    }

    /// Sends new connections to `upstream` from now on, as a Service or a
    /// Sentinel-aware address does after a failover (connections already
    /// made stay where they are, and die with their server).
    pub fn repoint(&self, upstream: &str) {
        *self
            .upstream
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = upstream.to_owned();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Forgets what was counted and disarms: the next commands are
    /// recorded from scratch.
    pub fn record(&self) {
        let mut s = self.lock();
        s.counts.clear();
        s.log.clear();
        s.armed = None;
        s.fired = false;
        s.counting = true;
    }

    /// The signatures counted since [`FaultProxy::record`] or
    /// [`FaultProxy::arm`], in order.
    pub fn recorded(&self) -> Vec<String> {
        self.lock().log.clone()
    }

    /// Counts from scratch and fails the `occurrence`-th (1-based) command
    /// of `signature` from now on, once.
    pub fn arm(&self, signature: &str, occurrence: usize, mode: Mode) {
        let mut s = self.lock();
        s.counts.clear();
        s.log.clear();
        s.fired = false;
        s.counting = true;
        s.armed = Some(Armed {
            signature: signature.to_owned(),
            occurrence,
            mode,
        });
    }

    /// Whether the armed fault fired.
    pub fn fired(&self) -> bool {
        self.lock().fired
    }

    /// Disarms and stops counting.
    pub fn disarm(&self) {
        let mut s = self.lock();
        s.armed = None;
        s.counting = false;
    }
}

/// Each command's occurrence: `(signature, k)` for the k-th time that
/// signature appears in `log`.
pub fn points(log: &[String]) -> Vec<(String, usize)> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    log.iter()
        .map(|sig| {
            let n = seen.entry(sig).or_default();
            *n += 1;
            (sig.clone(), *n)
        })
        .collect()
}

/// Commands that only set a connection up or probe it: never counted.
const UNCOUNTED: &[&str] = &[
    "PING", "CLIENT", "HELLO", "SELECT", "AUTH", "INFO", "SCRIPT", "COMMAND", "READONLY",
];

/// A command's signature (`None` for the uncounted).
fn signature(args: &[Vec<u8>]) -> Option<String> {
    let name = String::from_utf8_lossy(args.first()?).to_ascii_uppercase();
    if UNCOUNTED.contains(&name.as_str()) {
        return None;
    }
    let text = |i: usize| args.get(i).map(|a| String::from_utf8_lossy(a).into_owned());
    let key = match name.as_str() {
        // EVALSHA sha numkeys key...: the script and its first key.
        "EVALSHA" | "EVAL" => format!(
            "{} {}",
            text(1)
                .unwrap_or_default()
                .chars()
                .take(8)
                .collect::<String>(),
            text(3).unwrap_or_default()
        ),
        _ => text(1).unwrap_or_default(),
    };
    Some(format!("{name} {}", digits_to_hash(&key)))
}

fn digits_to_hash(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_digits = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

/// The end of the RESP value starting at `at`, `Ok(None)` when more bytes
/// are needed.
fn value_end(buf: &[u8], at: usize) -> Result<Option<usize>, ()> {
    let Some(kind) = buf.get(at) else {
        return Ok(None);
    };
    let Some(line_end) = buf[at..].windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let line = &buf[at + 1..at + line_end];
    let after = at + line_end + 2;
    let number = || -> Result<i64, ()> {
        std::str::from_utf8(line)
            .map_err(|_| ())?
            .parse()
            .map_err(|_| ())
    };
    match kind {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Ok(Some(after)),
        b'$' | b'!' | b'=' => {
            let len = number()?;
            if len < 0 {
                return Ok(Some(after));
            }
            let end = after + usize::try_from(len).map_err(|_| ())? + 2;
            Ok((buf.len() >= end).then_some(end))
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let count = number()?;
            let items = if matches!(kind, b'%' | b'|') {
                count * 2
            } else {
                count
            };
            let mut end = after;
            for _ in 0..items.max(0) {
                match value_end(buf, end)? {
                    Some(e) => end = e,
                    None => return Ok(None),
                }
            }
            // An attribute precedes the value it describes.
            if *kind == b'|' {
                return value_end(buf, end);
            }
            Ok(Some(end))
        }
        _ => Err(()),
    }
}

/// The bulk strings of a command array.
fn command_args(buf: &[u8]) -> Vec<Vec<u8>> {
    let mut args = Vec::new();
    let mut at = match buf.windows(2).position(|w| w == b"\r\n") {
        Some(p) => p + 2,
        None => return args,
    };
    while at < buf.len() {
        let Some(p) = buf[at..].windows(2).position(|w| w == b"\r\n") else {
            break;
        };
        let len: usize = std::str::from_utf8(&buf[at + 1..at + p])
            .ok()
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let start = at + p + 2;
        args.push(buf[start..(start + len).min(buf.len())].to_vec());
        at = start + len + 2;
    }
    args
}

/// Shared by the two directions of one connection.
#[derive(Default)]
struct Conn {
    /// Commands forwarded so far.
    forwarded: usize,
    /// Drop the connection instead of forwarding this reply (1-based).
    drop_at_reply: Option<usize>,
}

async fn relay(client: TcpStream, server: TcpStream, state: Arc<Mutex<State>>) {
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    let conn = Arc::new(Mutex::new(Conn::default()));
    let cut = CancellationToken::new();
    let upstream = {
        let conn = conn.clone();
        let cut = cut.clone();
        async move {
            let mut buf = Vec::new();
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                let n = tokio::select! {
                    r = client_rx.read(&mut chunk) => match r { Ok(0) | Err(_) => break, Ok(n) => n },
                    () = cut.cancelled() => break,
                };
                buf.extend_from_slice(&chunk[..n]);
                let mut out = Vec::new();
                let mut at = 0;
                while let Ok(Some(end)) = value_end(&buf, at) {
                    let command = &buf[at..end];
                    let verdict = {
                        let mut s = state
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        s.on_command(signature(&command_args(command)))
                    };
                    match verdict {
                        Verdict::Forward => {}
                        Verdict::DropBefore => {
                            let _ = server_tx.write_all(&out).await;
                            cut.cancel();
                            return;
                        }
                        Verdict::DropAfterReply => {
                            let mut c = conn
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                            c.drop_at_reply = Some(c.forwarded + 1);
                        }
                    }
                    conn.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .forwarded += 1;
                    out.extend_from_slice(command);
                    at = end;
                }
                buf.drain(..at);
                if server_tx.write_all(&out).await.is_err() {
                    break;
                }
            }
            cut.cancel();
        }
    };
    let downstream = {
        let cut = cut.clone();
        async move {
            let mut buf = Vec::new();
            let mut chunk = vec![0u8; 64 * 1024];
            let mut replies = 0usize;
            loop {
                let n = tokio::select! {
                    r = server_rx.read(&mut chunk) => match r { Ok(0) | Err(_) => break, Ok(n) => n },
                    () = cut.cancelled() => break,
                };
                buf.extend_from_slice(&chunk[..n]);
                let mut at = 0;
                let mut forward_to = 0;
                let mut lost = false;
                while let Ok(Some(end)) = value_end(&buf, at) {
                    replies += 1;
                    let drop_at = conn
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .drop_at_reply;
                    if drop_at == Some(replies) {
                        lost = true;
                        break;
                    }
                    at = end;
                    forward_to = end;
                }
                if client_tx.write_all(&buf[..forward_to]).await.is_err() || lost {
                    break;
                }
                buf.drain(..forward_to);
            }
            cut.cancel();
        }
    };
    tokio::join!(upstream, downstream);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Commands and replies of every RESP shape are framed; signatures
    /// hide ids.
    #[test]
    fn framing_and_signatures() {
        let cmd = b"*4\r\n$7\r\nEVALSHA\r\n$40\r\nabcdef0123456789abcdef0123456789abcdef01\r\n$1\r\n1\r\n";
        assert_eq!(
            value_end(cmd, 0),
            Ok(None),
            "incomplete: the key is missing"
        );
        let cmd = b"*4\r\n$7\r\nevalsha\r\n$6\r\nabc123\r\n$1\r\n1\r\n$16\r\nt-x-12:r:user:77\r\n";
        assert_eq!(value_end(cmd, 0), Ok(Some(cmd.len())));
        assert_eq!(
            signature(&command_args(cmd)).as_deref(),
            Some("EVALSHA abc# t-x-#:r:user:#")
        );
        assert_eq!(signature(&[b"PING".to_vec()]), None);
        let reply = b"*2\r\n:1\r\n*3\r\n$-1\r\n+OK\r\n%1\r\n+a\r\n:2\r\n";
        assert_eq!(value_end(reply, 0), Ok(Some(reply.len())));
        assert_eq!(value_end(b"$5\r\nhel", 0), Ok(None));
        let log: Vec<String> = ["a", "b", "a"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            points(&log),
            [("a".into(), 1), ("b".into(), 1), ("a".into(), 2)]
        );
    }
}
