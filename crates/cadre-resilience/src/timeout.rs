//! Timeouts that fail with cadre's `timeout` error.

use std::future::Future;
use std::task::Poll;
use std::time::Duration;

use cadre_core::{Error, ErrorCode};

/// Runs `fut` for at most `limit`; past it the future is dropped and a retryable
/// [`ErrorCode::Timeout`] error is returned.
///
/// # Errors
/// The future's own error, or `timeout`.
///
/// # Cancel safety
/// The inner future is dropped when the limit passes: use it only around work that may be
/// abandoned (every cadre call is, by contract).
pub async fn timeout<T, F>(limit: Duration, fut: F) -> Result<T, Error>
where
    F: Future<Output = Result<T, Error>>,
{
    // Most calls answer on their first poll: only arm a timer when one does not, so the
    // success path costs no timer registration and no clock read.
    let mut fut = std::pin::pin!(fut);
    let first = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
    if let Poll::Ready(result) = first {
        return result;
    }
    match tokio::time::timeout(limit, fut).await {
        Ok(result) => result,
        Err(_) => {
            cadre_observe::metrics::counter!("cadre_timeouts_total").increment(1);
            Err(Error::new(
                ErrorCode::Timeout,
                format!("no answer within {limit:?}"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn slow_calls_time_out_fast_ones_do_not() {
        let fast = timeout(Duration::from_secs(1), async { Ok::<_, Error>(5) }).await;
        assert_eq!(fast.unwrap(), 5);
        let slow = timeout(Duration::from_secs(1), async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<_, Error>(5)
        })
        .await
        .unwrap_err();
        assert_eq!(slow.code(), ErrorCode::Timeout);
        assert!(slow.is_retryable());
        assert!(slow.to_string().contains("1s"), "{slow}");
    }
}
