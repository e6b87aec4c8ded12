//! Helpers for consumers: typed decoding that dead-letters poison messages, and settling a
//! delivery by outcome.

use std::time::Duration;

use cadre_core::{Error, Message};

use crate::{Bus, Delivery};

/// A delivery whose payload decoded as `M`.
#[derive(Debug)]
pub struct TypedDelivery<M> {
    /// The decoded payload.
    pub message: M,
    /// The delivery, for its receipt and metadata.
    pub delivery: Delivery,
}

/// Decodes the payload as `M`. A payload that does not decode is a poison message: it is
/// rejected (dead-lettered with the decode error) and `None` is returned, so it neither crashes
/// the consumer nor blocks the stream.
///
/// # Errors
/// Only when the bus fails to record the rejection.
pub async fn decode_or_reject<M: Message>(
    bus: &dyn Bus,
    delivery: Delivery,
) -> Result<Option<TypedDelivery<M>>, Error> {
    match delivery.envelope().payload.decode::<M>() {
        Ok(message) => Ok(Some(TypedDelivery { message, delivery })),
        Err(err) => {
            let err = err.context(format!(
                "message {} at offset {} of stream `{}`",
                delivery.envelope().id,
                delivery.offset,
                delivery.stream
            ));
            tracing::warn!(error = %err, "dead-lettering a message that does not decode");
            bus.reject(&delivery.receipt(), err).await?;
            Ok(None)
        }
    }
}

/// How a consumer finished with a delivery.
#[derive(Debug)]
pub enum Handled {
    /// Done: acknowledge.
    Ack,
    /// Failed, worth another try after `delay` (dead-lettered once deliveries run out).
    Retry {
        /// How long to wait before the next delivery.
        delay: Duration,
        /// Why it failed.
        error: Error,
    },
    /// Failed in a way retries cannot fix: dead-letter now.
    Reject(Error),
}

impl Handled {
    /// Settles `delivery` on `bus`.
    ///
    /// # Errors
    /// When the bus fails to record the outcome.
    pub async fn settle(self, bus: &dyn Bus, delivery: &Delivery) -> Result<(), Error> {
        let receipt = delivery.receipt();
        match self {
            Handled::Ack => bus.ack(std::slice::from_ref(&receipt)).await,
            Handled::Retry { delay, error } => bus.nack(&receipt, delay, error).await,
            Handled::Reject(error) => bus.reject(&receipt, error).await,
        }
    }
}
