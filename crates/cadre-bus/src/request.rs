//! Request/reply over streams, correlated by the request's id.

use std::time::Duration;

use cadre_core::{Envelope, Error, ErrorCode, Group, Topic};

use crate::{Bus, StartFrom};

/// Publishes `request` to `stream` and waits up to `timeout` for the reply whose `parent_id` is
/// the request's id.
///
/// Replies arrive on the request's `reply_to` topic, or, when it has none, on a topic of its
/// own, `inbox.<sender>.<request id>` (set on the request). Other messages met on the reply
/// topic are acknowledged and dropped with a warning.
///
/// # Errors
/// [`ErrorCode::Timeout`] naming the request when no reply came in time; bus errors as they
/// happen.
pub async fn request(
    bus: &dyn Bus,
    stream: &Topic,
    mut request: Envelope,
    timeout: Duration,
) -> Result<Envelope, Error> {
    let inbox = match &request.meta.reply_to {
        Some(topic) => topic.clone(),
        None => Topic::new(format!("inbox.{}.{}", request.sender, request.id))?,
    };
    request.meta.reply_to = Some(inbox.clone());
    let group = Group::new("replies")?;
    bus.create_group(&inbox, &group, StartFrom::Latest).await?;
    let id = request.id;
    let me = request.sender.clone();
    bus.publish(stream, request).await?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return Err(Error::new(
                ErrorCode::Timeout,
                format!("no reply to request {id} on stream `{stream}` within {timeout:?}"),
            ));
        }
        for delivery in bus.fetch(&inbox, &group, &me, 16, left).await? {
            if delivery.envelope().meta.parent_id == Some(id) {
                bus.ack(&[delivery.receipt()]).await?;
                return Ok(delivery.into_envelope());
            }
            tracing::warn!(
                inbox = %inbox,
                message = %delivery.envelope().id,
                "dropping a message that does not answer request {id}"
            );
            bus.ack(&[delivery.receipt()]).await?;
        }
    }
}
