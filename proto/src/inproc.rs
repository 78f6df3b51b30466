//! The one-process mode's transport: the services still call each other
//! through tonic (the same codec, interceptors, deadlines and traces), but
//! over in-memory pipes instead of loopback TCP, which spares every call
//! the kernel's socket path on both sides.
//!
//! `bind(url, addr)` says that clients dialing `url` reach the server
//! listening on `addr`: [`crate::channel`] then hands each new connection
//! one end of a [`tokio::io::duplex`] pipe, and [`crate::serving::serve`]
//! accepts the other end beside its TCP listener (which stays open for
//! callers outside the process). Services in separate processes never bind
//! and always use TCP.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// Bytes buffered in each direction of a pipe.
const PIPE: usize = 256 * 1024;

type Pipes = mpsc::UnboundedSender<DuplexStream>;

#[derive(Default)]
struct Registry {
    /// Client side: the URL dialed -> where its pipes go.
    dial: HashMap<String, Pipes>,
    /// Server side: the listener's address -> its pipes, until it takes them.
    accept: HashMap<SocketAddr, mpsc::UnboundedReceiver<DuplexStream>>,
}

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    static REGISTRY: std::sync::LazyLock<Mutex<Registry>> =
        std::sync::LazyLock::new(Mutex::default);
    REGISTRY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Clients dialing `url` reach the server listening on `addr` in memory.
/// Call before the server starts and before channels to `url` are made.
pub fn bind(url: &str, addr: SocketAddr) {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut r = registry();
    r.dial.insert(url.to_owned(), tx);
    r.accept.insert(addr, rx);
}

/// Forgets `url` (the server went away).
pub fn unbind(url: &str) {
    registry().dial.remove(url);
}

/// The pipes for the server listening on `addr`, if it was bound.
pub(crate) fn incoming(addr: SocketAddr) -> Option<mpsc::UnboundedReceiver<DuplexStream>> {
    registry().accept.remove(&addr)
}

/// A channel to `url` over pipes, if `url` was bound.
pub(crate) fn channel(url: &str) -> Option<tonic::transport::Channel> {
    let pipes = registry().dial.get(url)?.clone();
    let connector = tower::service_fn(move |_: http::Uri| {
        let pipes = pipes.clone();
        async move {
            let (ours, theirs) = tokio::io::duplex(PIPE);
            pipes
                .send(theirs)
                .map_err(|_| std::io::Error::other("the in-process server has stopped"))?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(ours))
        }
    });
    // The authority only names the peer in logs; nothing resolves it.
    let endpoint = tonic::transport::Endpoint::from_static("http://in-process.mesh");
    Some(endpoint.connect_with_connector_lazy(connector))
}

/// A server connection: over TCP, or an in-process pipe.
pub enum Conn {
    /// From the listener.
    Tcp(TcpStream),
    /// From [`channel`].
    Pipe(DuplexStream),
}

impl Connected for Conn {
    type ConnectInfo = Option<TcpConnectInfo>;

    fn connect_info(&self) -> Self::ConnectInfo {
        match self {
            Self::Tcp(s) => Some(s.connect_info()),
            Self::Pipe(_) => None,
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Self::Pipe(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Self::Pipe(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_flush(cx),
            Self::Pipe(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Self::Pipe(s) => Pin::new(s).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Pipe(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Tcp(s) => s.is_write_vectored(),
            Self::Pipe(s) => s.is_write_vectored(),
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio_util::sync::CancellationToken;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;

    use crate::serving::{LIVENESS, Service, serve};

    /// A URL bound in process reaches its server through a pipe: here the
    /// URL's port has no listener at all, so only the pipe can answer.
    #[tokio::test]
    async fn bound_urls_are_served_in_memory() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = "http://127.0.0.1:9";
        super::bind(url, listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(serve(
            listener,
            Service {
                name: "test.v1.Test",
                descriptor: tonic_health::pb::FILE_DESCRIPTOR_SET,
                routes: tonic::service::Routes::default(),
                probe: || async { true },
                readiness: Default::default(),
            },
            None,
            |_| tracing::Span::none(),
            shutdown.clone(),
        ));
        let mut client = HealthClient::new(crate::channel(url, None).unwrap());
        let check = client.check(HealthCheckRequest {
            service: LIVENESS.into(),
        });
        let answer = tokio::time::timeout(std::time::Duration::from_secs(5), check)
            .await
            .expect("in time")
            .unwrap()
            .into_inner();
        assert_eq!(answer.status, 1, "SERVING");
        super::unbind(url);
        shutdown.cancel();
        let _ = server.await;
    }
}
