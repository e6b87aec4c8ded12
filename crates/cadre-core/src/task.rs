//! Tasks and their outcomes.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AgentId, ConversationId, Error, Message, Payload, Priority, TaskId, TraceId};

/// A unit of work for an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Unique id.
    pub id: TaskId,
    /// The capability the task needs, e.g. `risk.size_position`.
    pub capability: String,
    /// The typed input.
    pub input: Payload,
    /// How urgent it is.
    #[serde(default)]
    pub priority: Priority,
    /// The conversation it belongs to.
    pub conversation_id: ConversationId,
    /// The trace it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<TraceId>,
    /// The task is worthless after this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    /// 1 for the first try, then 2, 3, ... on retries.
    #[serde(default = "one")]
    pub attempt: u32,
    /// When the task was created.
    pub created_at: DateTime<Utc>,
}

fn one() -> u32 {
    1
}

impl Message for Task {
    const TYPE: &'static str = "cadre.task";
}

impl Task {
    /// A new task needing `capability` with a typed input.
    ///
    /// # Errors
    /// [`ErrorCode::Encode`](crate::ErrorCode::Encode) when the input does not serialise.
    pub fn new<M: Message>(capability: impl Into<String>, input: &M) -> Result<Self, Error> {
        Ok(Self::with_payload(capability, Payload::encode(input)?))
    }

    /// A new task whose input stays a Rust value while it travels in process (see
    /// [`Payload::local`]): no JSON unless a durable bus stores it. For hot internal paths.
    pub fn local<M: Message + Clone>(capability: impl Into<String>, input: M) -> Self {
        Self::with_payload(capability, Payload::local(input))
    }

    /// A new task with an already encoded input.
    pub fn with_payload(capability: impl Into<String>, input: Payload) -> Self {
        // One clock read: the creation time is the id's own (UUIDv7, milliseconds).
        let id = TaskId::new();
        Self {
            created_at: id.created_at().unwrap_or_else(Utc::now),
            id,
            capability: capability.into(),
            input,
            priority: Priority::Normal,
            conversation_id: ConversationId::new(),
            trace_id: None,
            deadline: None,
            attempt: 1,
        }
    }

    /// Sets the priority.
    #[must_use]
    pub fn with_priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the deadline.
    #[must_use]
    pub fn with_deadline(mut self, deadline: DateTime<Utc>) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Decodes the input.
    ///
    /// # Errors
    /// See [`Payload::decode`].
    pub fn input<M: Message>(&self) -> Result<M, Error> {
        self.input.decode()
    }
}

/// The successful result of a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskOutcome {
    /// The task this answers.
    pub task_id: TaskId,
    /// The typed output.
    pub output: Payload,
    /// How sure the agent is of the result (0 to 1), when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// The agent that produced it (filled in by the runtime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentId>,
    /// How long execution took (filled in by the runtime).
    #[serde(default, with = "opt_ms", skip_serializing_if = "Option::is_none")]
    pub elapsed: Option<Duration>,
}

impl Message for TaskOutcome {
    const TYPE: &'static str = "cadre.task_outcome";
}

impl TaskOutcome {
    /// The outcome of `task` with a typed output.
    ///
    /// # Errors
    /// [`ErrorCode::Encode`](crate::ErrorCode::Encode) when the output does not serialise.
    pub fn new<M: Message>(task: &Task, output: &M) -> Result<Self, Error> {
        Ok(Self {
            task_id: task.id,
            output: Payload::encode(output)?,
            confidence: None,
            agent: None,
            elapsed: None,
        })
    }

    /// Sets the confidence (clamped to 0..=1).
    #[must_use]
    pub fn with_confidence(mut self, confidence: f64) -> Self {
        self.confidence = Some(if confidence.is_nan() {
            0.0
        } else {
            confidence.clamp(0.0, 1.0)
        });
        self
    }

    /// Decodes the output.
    ///
    /// # Errors
    /// See [`Payload::decode`].
    pub fn output<M: Message>(&self) -> Result<M, Error> {
        self.output.decode()
    }
}

mod opt_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        d: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => serializer.serialize_f64(d.as_secs_f64() * 1000.0),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(deserializer)?
            .map(|ms| Duration::try_from_secs_f64(ms / 1000.0).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Price {
        value: f64,
    }
    impl Message for Price {
        const TYPE: &'static str = "test.price";
    }

    #[test]
    fn task_and_outcome_round_trip() {
        let task = Task::new("pricing.options", &Price { value: 1.5 })
            .unwrap()
            .with_priority(Priority::Critical);
        let json = serde_json::to_string(&task).unwrap();
        let back: Task = serde_json::from_str(&json).unwrap();
        assert_eq!(back, task);
        assert_eq!(back.input::<Price>().unwrap(), Price { value: 1.5 });

        let mut outcome = TaskOutcome::new(&task, &Price { value: 2.0 })
            .unwrap()
            .with_confidence(0.9);
        outcome.elapsed = Some(Duration::from_micros(1500));
        let json = serde_json::to_string(&outcome).unwrap();
        assert!(json.contains(r#""elapsed":1.5"#), "{json}");
        let back: TaskOutcome = serde_json::from_str(&json).unwrap();
        assert_eq!(back, outcome);
    }
}
