//! A TCP link that can be stalled: bytes stop flowing both ways (held,
//! not dropped) until it is let go. Put between a replica and its
//! primary, it opens a replication lag of a chosen length, the window a
//! failover loses when writes are acknowledged on the primary's word.
//!
//! Plain bytes, not RESP: a replication stream carries an RDB payload
//! that is not a RESP value, so the parsing fault proxy cannot relay it.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The running link.
pub struct Link {
    /// Its port on 127.0.0.1.
    pub port: u16,
    stalled: watch::Sender<bool>,
}

impl Link {
    /// Relays connections on a free port to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (stalled, watching) = watch::channel(false);
        let upstream = upstream.to_owned();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (client_rx, client_tx) = client.into_split();
                let (server_rx, server_tx) = server.into_split();
                tokio::spawn(pump(client_rx, server_tx, watching.clone()));
                tokio::spawn(pump(server_rx, client_tx, watching.clone()));
            }
        });
        Self { port, stalled }
    }

    /// Holds every byte from now on (`true`) or lets them flow again.
    pub fn stall(&self, stalled: bool) {
        self.stalled.send_replace(stalled);
    }
}

async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut stalled: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stalled.wait_for(|s| !*s).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
