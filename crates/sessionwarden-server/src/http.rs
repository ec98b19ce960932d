//! Serving connections: bounded in number and in how long a client may keep one busy without
//! sending.
//!
//! A client that sends half its headers, or stops partway through a body, or opens
//! connections and says nothing, must not hold server resources forever: a few hundred such
//! connections would otherwise use up the process's file descriptors and starve everyone
//! else. So:
//!
//! - at most [`HttpLimits::max_connections`] connections are served at once; further ones wait
//!   in the kernel's accept queue until a slot frees (never an error, never a crash);
//! - a request's headers must arrive within [`HttpLimits::header_timeout`] (hyper's
//!   `header_read_timeout`, which also bounds how long a kept-alive connection may sit idle
//!   before its next request);
//! - a request's body must arrive within [`HttpLimits::body_timeout`] of its headers, or the
//!   request is answered 408 and the connection closed;
//! - a connection on which no byte moves in either direction for
//!   [`HttpLimits::idle_timeout`], while no handler is running on it, is closed (a client
//!   that stops reading its response). A slow handler does not count as idle.
//!
//! Graceful shutdown stops accepting, lets in-flight requests finish, and closes idle
//! connections.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::http::header::{CONNECTION, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt as _;

/// How many connections, and for how long each may wait on the client.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Time for a request's headers to arrive (and for an idle kept-alive connection to send
    /// its next request).
    pub header_timeout: Duration,
    /// Time for a request's whole body to arrive, counted from its headers.
    pub body_timeout: Duration,
    /// Time a connection may go without a byte read or written.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes, then drains.
///
/// # Errors
/// None today: accept errors (out of file descriptors, a connection reset before it was
/// accepted) are logged and the loop goes on.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let router = crate::logging::access_log(
        router.layer(axum::middleware::from_fn_with_state(limits.body_timeout, body_deadline)),
    );
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        // A slot first: without one the connection stays in the accept queue, holding no
        // descriptor of ours.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break, // invariant: the semaphore is never closed
            },
            () = &mut shutdown => break,
        };
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(target: "sessionwarden::server", error = %e, "accept failed");
                    // Out of descriptors (EMFILE/ENFILE) does not clear at once: back off a
                    // little instead of spinning on the error.
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(100)) => {}
                        () = &mut shutdown => break,
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let busy = Arc::new(AtomicUsize::new(0));
        let io = TokioIo::new(IdleIo::new(stream, limits.idle_timeout, busy.clone()));
        let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(addr));
            let running = Running::start(&busy);
            let response = router.clone().oneshot(req.map(Body::new));
            async move {
                let response = response.await;
                drop(running);
                response
            }
        });
        let conn = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(target: "sessionwarden::server", error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Answers 408 (and closes the connection) when the request body did not arrive in time.
async fn body_deadline(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    let timed_out = Arc::new(AtomicBool::new(false));
    let req = req.map(|body| {
        Body::new(DeadlineBody {
            inner: body,
            sleep: Box::pin(tokio::time::sleep(limit)),
            timed_out: timed_out.clone(),
        })
    });
    let res = next.run(req).await;
    if !timed_out.load(Ordering::Acquire) {
        return res;
    }
    tracing::info!(target: "sessionwarden::server", "request body timed out");
    let mut res =
        (StatusCode::REQUEST_TIMEOUT, axum::Json(serde_json::json!({"error": "request body timed out"})))
            .into_response();
    res.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    res
}

/// A request body that fails once its deadline passes, and says so in `timed_out`.
struct DeadlineBody {
    inner: Body,
    sleep: Pin<Box<Sleep>>,
    timed_out: Arc<AtomicBool>,
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.timed_out.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(axum::Error::new(io::Error::new(
                io::ErrorKind::TimedOut,
                "request body timed out",
            )))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// One handler running on a connection, counted in its `busy` count until dropped (also
/// when the request is cancelled).
struct Running(Arc<AtomicUsize>);

impl Running {
    fn start(busy: &Arc<AtomicUsize>) -> Self {
        busy.fetch_add(1, Ordering::AcqRel);
        Self(busy.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A TCP stream that fails with `TimedOut` once no byte has moved either way for its idle
/// timeout while the server waits on it and no handler runs (`busy` is zero).
struct IdleIo {
    stream: TcpStream,
    timeout: Duration,
    sleep: Pin<Box<Sleep>>,
    busy: Arc<AtomicUsize>,
}

impl IdleIo {
    fn new(stream: TcpStream, timeout: Duration, busy: Arc<AtomicUsize>) -> Self {
        Self { stream, timeout, sleep: Box::pin(tokio::time::sleep(timeout)), busy }
    }

    fn progressed(&mut self) {
        let deadline = Instant::now() + self.timeout;
        self.sleep.as_mut().reset(deadline);
    }

    fn check_idle(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if self.busy.load(Ordering::Acquire) > 0 {
            // A handler is working: hyper watches the socket for EOF meanwhile, which is not
            // the client idling. The deadline starts over when the handler is done (its
            // response is written, or the next wait polls again).
            self.progressed();
            return Ok(());
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Err(io::Error::new(io::ErrorKind::TimedOut, "connection idle")),
            Poll::Pending => Ok(()),
        }
    }
}

impl AsyncRead for IdleIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    self.progressed();
                }
                Poll::Ready(r)
            }
            Poll::Pending => {
                self.check_idle(cx)?;
                Poll::Pending
            }
        }
    }
}

impl IdleIo {
    /// A write moved bytes (progress), or waits (the idle deadline may have passed).
    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match poll {
            Poll::Ready(r) => {
                if matches!(r, Ok(n) if n > 0) {
                    self.progressed();
                }
                Poll::Ready(r)
            }
            Poll::Pending => {
                self.check_idle(cx)?;
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for IdleIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.after_write(cx, poll)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.after_write(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
