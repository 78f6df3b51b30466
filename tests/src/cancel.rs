//! Cancelling a future at its N-th await, as a caller's deadline or a
//! client that goes away drops a handler: deterministically, by counting
//! the times it was pending.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Polls a future until it has been pending `at` times, then drops it.
pub struct CancelAt<F: Future> {
    inner: Option<Pin<Box<F>>>,
    at: usize,
    pendings: usize,
}

impl<F: Future> CancelAt<F> {
    /// `future`, dropped at its `at`-th pending poll (1-based).
    pub fn new(future: F, at: usize) -> Self {
        Self {
            inner: Some(Box::pin(future)),
            at,
            pendings: 0,
        }
    }
}

impl<F: Future> Future for CancelAt<F> {
    /// `Some` when it finished before being cancelled.
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match inner.as_mut().poll(cx) {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending => {
                self.pendings += 1;
                if self.pendings >= self.at {
                    self.inner = None;
                    Poll::Ready(None)
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

/// Runs `future` to the end; returns its output and how many times it
/// was pending (its cancellation points).
pub async fn count_points<F: Future>(future: F) -> (F::Output, usize) {
    let mut pendings = 0;
    let mut future = Box::pin(future);
    let output = std::future::poll_fn(|cx| match future.as_mut().poll(cx) {
        Poll::Ready(v) => Poll::Ready(v),
        Poll::Pending => {
            pendings += 1;
            Poll::Pending
        }
    })
    .await;
    (output, pendings)
}
