//! Sockets: binding the listening socket, the accept loop, serving each connection with HTTP/1.1
//! (keep-alive, header-read timeout, half-close), and the graceful stop on `close()`. Each
//! request goes to [`handler::serve`]; nothing here looks at a request.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;

use super::handler;
use super::App;

/// A slow client gets this long to send its request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// hyper's smallest read buffer: a lower request-head limit is raised to it.
pub const MIN_REQUEST_HEAD_BYTES: usize = 8192;

pub(super) async fn accept_loop(
    listener: TcpListener,
    app: Arc<App>,
    mut shutdown: watch::Receiver<bool>,
    shutdown_timeout: Duration,
    max_request_head_bytes: usize,
) {
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        // A request head that does not fit the read buffer is answered 431 by hyper.
        .max_buf_size(max_request_head_bytes.max(MIN_REQUEST_HEAD_BYTES))
        // A client that shuts down its sending side after the request still gets the answer.
        .half_close(true);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, remote) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        eprintln!("gatsby-dsg: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = Arc::clone(&app);
                let service = service_fn(move |req| {
                    let app = Arc::clone(&app);
                    async move { Ok::<_, Infallible>(handler::serve(&app, req, remote).await) }
                });
                let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = shutdown_requested(&mut shutdown) => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(shutdown_timeout, graceful.shutdown()).await;
}

/// Resolves when `close()` asks to stop. A handle dropped without `close()` (e.g. a JS server
/// object that was garbage-collected) leaves the server running, as Node's own servers do.
async fn shutdown_requested(shutdown: &mut watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        if shutdown.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Connections the kernel queues for `accept` (it caps this at `net.core.somaxconn`). The 128 of
/// `TcpListener::bind` overflowed under a burst of 200 new connections: the dropped SYNs were
/// retried by the clients a second later (the benchmark's stampede p99 went from ~50 ms to 1 s).
const LISTEN_BACKLOG: u32 = 4096;

/// Listens on the first address `addr` (`host:port`) resolves to that can be bound.
pub(super) async fn listen(addr: &str) -> io::Result<TcpListener> {
    let mut last_error = None;
    for resolved in tokio::net::lookup_host(addr).await? {
        let socket = if resolved.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        // As std and tokio do: a restarted server can bind while old connections linger.
        socket.set_reuseaddr(true)?;
        match socket
            .bind(resolved)
            .and_then(|()| socket.listen(LISTEN_BACKLOG))
        {
            Ok(listener) => return Ok(listener),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    }))
}
