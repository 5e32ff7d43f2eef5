//! The rest of a request body that its answer does not read is read and thrown away, within
//! bounds, so that the client gets that answer. A socket closed with received bytes still unread
//! sends a reset instead of a FIN, and a reset makes the client's kernel drop the answer it has
//! not read yet: a client still sending gets EPIPE or ECONNRESET instead of the 405 of a page or
//! the 413 of a function's limit (measured against this server before: 4 MiB POSTs, 28 of 30 to
//! /about/ and 29 of 30 over a function's limit got EPIPE, not their answer; CI once lost the
//! 413 of a 110 KB body). Node's own server reads such a body to its end (`req._dump()`, what
//! `gatsby serve` does) and nginx lingers on it (`lingering_close`); hyper reads only what has
//! already arrived, then closes.
//!
//! Invariants: nothing read here reaches a handler or a function; at most [`LINGER_BYTES`] are
//! read, for at most [`LINGER_TIME`]; a body declared longer than that is not read at all, and a
//! body that passes either bound is dropped, after which hyper closes the connection (as before).
//! A body read to its end leaves the connection usable, unless the answer said
//! `Connection: close`.

use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::{Body, Buf, Incoming};

/// The most of an unread request body read and thrown away; a body declared longer is not read.
pub const LINGER_BYTES: u64 = 16 * 1024 * 1024;

/// The longest an unread request body is read for (nginx's `lingering_time` is 30 s).
pub const LINGER_TIME: Duration = Duration::from_secs(10);

/// Reads the rest of `body` and throws it away (a task of its own, within the bounds above),
/// so that hyper sends the answer before it closes. Needs a tokio runtime.
pub fn discard(body: Incoming) {
    discard_within(body, LINGER_BYTES, LINGER_TIME);
}

fn discard_within<B>(body: B, most: u64, time: Duration)
where
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
{
    if body.is_end_stream() || body.size_hint().lower() > most {
        return;
    }
    tokio::spawn(async move {
        let _ = tokio::time::timeout(time, read_to_end(body, most)).await;
    });
}

/// Reads `body` until it ends, fails or passes `most` bytes.
async fn read_to_end<B>(mut body: B, most: u64)
where
    B: Body + Unpin,
{
    let mut seen = 0u64;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            seen += data.remaining() as u64;
            if seen > most {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::{Full, StreamBody};
    use hyper::body::Frame;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    /// A body of `chunks` chunks of `size` bytes that counts what was read of it.
    fn counted(
        chunks: usize,
        size: usize,
        read: &Arc<AtomicU64>,
    ) -> impl Body<Data = Bytes, Error = std::convert::Infallible> + Send + Unpin + 'static {
        let read = Arc::clone(read);
        StreamBody::new(futures_util::stream::iter((0..chunks).map(move |_| {
            read.fetch_add(size as u64, Ordering::SeqCst);
            Ok(Frame::data(Bytes::from(vec![b'x'; size])))
        })))
    }

    #[tokio::test]
    async fn an_unread_body_within_the_bound_is_read_to_its_end() {
        let read = Arc::new(AtomicU64::new(0));
        let (body, done) = until_dropped(counted(10, 1000, &read));
        discard_within(body, 64 * 1024, Duration::from_secs(5));
        done.await.unwrap();
        assert_eq!(read.load(Ordering::SeqCst), 10_000);
    }

    #[tokio::test]
    async fn reading_stops_once_a_body_passes_the_bound() {
        let read = Arc::new(AtomicU64::new(0));
        let (body, done) = until_dropped(counted(100, 1000, &read));
        discard_within(body, 4500, Duration::from_secs(5));
        done.await.unwrap();
        assert_eq!(read.load(Ordering::SeqCst), 5000);
    }

    #[tokio::test]
    async fn a_body_declared_longer_than_the_bound_is_not_read() {
        let (body, mut done) = until_dropped(Full::new(Bytes::from(vec![b'x'; 5000])));
        let polled = Arc::clone(&body.polled);
        discard_within(body, 4500, Duration::from_secs(5));
        // Dropped at once, unread.
        assert!(done.try_recv().is_ok());
        assert_eq!(polled.load(Ordering::SeqCst), 0);
        // One declared within the bound is read.
        let (body, done) = until_dropped(Full::new(Bytes::from(vec![b'x'; 4500])));
        let polled = Arc::clone(&body.polled);
        discard_within(body, 4500, Duration::from_secs(5));
        done.await.unwrap();
        assert!(polled.load(Ordering::SeqCst) >= 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_never_ends_is_dropped_after_the_time_bound() {
        let (body, done) = until_dropped(StreamBody::new(futures_util::stream::pending::<
            Result<Frame<Bytes>, std::convert::Infallible>,
        >()));
        discard_within(body, 4500, Duration::from_secs(10));
        let mut done = done;
        tokio::time::sleep(Duration::from_secs(9)).await;
        assert!(done.try_recv().is_err(), "dropped before the time bound");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(done.try_recv().is_ok(), "still read after the time bound");
    }

    /// `body`, and a receiver that completes once it is dropped.
    fn until_dropped<B>(body: B) -> (Dropped<B>, tokio::sync::oneshot::Receiver<()>)
    where
        B: Body + Unpin,
    {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        (
            Dropped {
                body,
                polled: Arc::new(AtomicU64::new(0)),
                _on_drop: OnDrop(Some(sender)),
            },
            receiver,
        )
    }

    struct OnDrop(Option<tokio::sync::oneshot::Sender<()>>);

    impl Drop for OnDrop {
        fn drop(&mut self) {
            if let Some(sender) = self.0.take() {
                let _ = sender.send(());
            }
        }
    }

    /// A body that counts its polls and says when it is dropped.
    struct Dropped<B> {
        body: B,
        polled: Arc<AtomicU64>,
        _on_drop: OnDrop,
    }

    impl<B: Body + Unpin> Body for Dropped<B> {
        type Data = B::Data;
        type Error = B::Error;

        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
            self.polled.fetch_add(1, Ordering::SeqCst);
            std::pin::Pin::new(&mut self.body).poll_frame(cx)
        }

        fn is_end_stream(&self) -> bool {
            self.body.is_end_stream()
        }

        fn size_hint(&self) -> hyper::body::SizeHint {
            self.body.size_hint()
        }
    }
}
