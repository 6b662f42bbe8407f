//! Serving over connections that a handler can break, for
//! [`RuntimeFault::ConnectionReset`](super::RuntimeFault::ConnectionReset).
//!
//! A handler cannot reach its socket, and whatever it returns becomes an answer with a
//! status. So every accepted connection gets a [`KillSwitch`], handed to handlers through
//! axum's `ConnectInfo`: once pulled, the connection's next read or write fails, hyper gives
//! the connection up before writing a byte of the answer, and the socket closes with a TCP
//! reset. The client sees no status at all, as when a runtime crashes mid-request.

use std::{
    fmt,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    task::{Context, Poll},
};

use axum::{
    extract::connect_info::Connected,
    serve::{IncomingStream, Listener},
    Router,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
};

/// Serves `router` on `listener` until `signal` completes, with a [`KillSwitch`] in every
/// request's extensions (as `ConnectInfo<KillSwitch>`).
pub(super) async fn serve(
    router: Router,
    listener: TcpListener,
    signal: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let service = router.into_make_service_with_connect_info::<KillSwitch>();
    axum::serve(KillableListener(listener), service)
        .with_graceful_shutdown(signal)
        .await
}

/// Breaks one connection when pulled.
#[derive(Clone, Debug, Default)]
pub(super) struct KillSwitch(Arc<AtomicBool>);

impl KillSwitch {
    /// Makes the connection fail at its next read or write.
    pub(super) fn pull(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn is_pulled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for KillSwitch {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.remote_addr().kill.clone()
    }
}

/// A TCP listener whose connections can be broken by their handlers.
struct KillableListener(TcpListener);

/// What the listener knows of an accepted connection: its peer and its kill switch.
struct Peer {
    addr: SocketAddr,
    kill: KillSwitch,
}

/// axum's connection logs name a connection by this: the peer's address is what helps.
impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.addr, f)
    }
}

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = Peer;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // axum's own accept loop retries and logs accept errors.
        let (stream, addr) = Listener::accept(&mut self.0).await;
        // Answers are small and often waited on; Nagle's algorithm would only delay them.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not disable Nagle's algorithm");
        }
        let kill = KillSwitch::default();
        let io = KillableStream {
            stream,
            kill: kill.clone(),
        };
        (io, Peer { addr, kill })
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        // The listener itself has no connection to break: its switch is never pulled.
        Ok(Peer {
            addr: self.0.local_addr()?,
            kill: KillSwitch::default(),
        })
    }
}

/// A TCP stream that fails every operation once its kill switch is pulled.
struct KillableStream {
    stream: TcpStream,
    kill: KillSwitch,
}

impl KillableStream {
    /// The error to fail with if the switch was pulled. It also sets a zero linger time, so
    /// that closing the socket sends a reset rather than an orderly end of stream.
    fn killed(&self) -> Option<io::Error> {
        if !self.kill.is_pulled() {
            return None;
        }
        if let Err(error) = self.stream.set_zero_linger() {
            tracing::debug!(%error, "could not set a zero linger time");
        }
        Some(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "simulated connection reset",
        ))
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.killed() {
            Some(error) => Poll::Ready(Err(error)),
            None => Pin::new(&mut self.stream).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.killed() {
            Some(error) => Poll::Ready(Err(error)),
            None => Pin::new(&mut self.stream).poll_write(cx, buf),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.killed() {
            Some(error) => Poll::Ready(Err(error)),
            None => Pin::new(&mut self.stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.killed() {
            Some(error) => Poll::Ready(Err(error)),
            None => Pin::new(&mut self.stream).poll_shutdown(cx),
        }
    }
}
