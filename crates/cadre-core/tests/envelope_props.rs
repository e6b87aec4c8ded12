//! Any envelope survives encode/decode; damaged envelopes fail with a named field, never a panic.

use std::time::Duration;

use cadre_core::{
    AgentId, AgentKind, AuthToken, ConversationId, Envelope, MessageId, MessageKind, Payload,
    Priority, Recipient, Topic, TraceId,
};
use chrono::{TimeZone, Utc};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9._:/@-]{0,40}"
}

fn recipient() -> impl Strategy<Value = Recipient> {
    prop_oneof![
        name().prop_map(|n| Recipient::Agent(AgentId::new(n).unwrap())),
        name().prop_map(|n| Recipient::Topic(Topic::new(n).unwrap())),
        name().prop_map(|n| Recipient::Kind(AgentKind::new(n).unwrap())),
    ]
}

fn kind() -> impl Strategy<Value = MessageKind> {
    prop::sample::select(vec![
        MessageKind::TaskRequest,
        MessageKind::TaskResponse,
        MessageKind::Event,
        MessageKind::Heartbeat,
        MessageKind::Error,
        MessageKind::Announce,
        MessageKind::Bid,
        MessageKind::Award,
        MessageKind::Reject,
        MessageKind::Command,
        MessageKind::Query,
    ])
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        (-1e12f64..1e12).prop_map(serde_json::Value::from),
        ".{0,20}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

prop_compose! {
    fn envelope()(
        id in any::<u128>(),
        conv in any::<u128>(),
        millis in 0i64..4_102_444_800_000,
        sender in name(),
        recipient in recipient(),
        kind in kind(),
        priority in prop::sample::select(Priority::ALL.to_vec()),
        ttl in prop::option::of(0u64..10_000_000),
        auth in prop::option::of("[ -~]{0,30}"),
        type_name in name(),
        version in 0u32..5,
        data in json_value(),
        retry_count in 0u32..10,
        parent in prop::option::of(any::<u128>()),
        trace in prop::option::of(any::<u128>()),
        key in prop::option::of(".{0,30}"),
        after in prop::option::of(0i64..4_102_444_800_000),
        reply_to in prop::option::of(name()),
    ) -> Envelope {
        let mut b = Envelope::builder(AgentId::new(sender).unwrap(), recipient, kind)
            .raw_payload(Payload::from_json_text(type_name, version, data.to_string()).unwrap())
            .priority(priority)
            .conversation(ConversationId::from_uuid(uuid::Uuid::from_u128(conv)))
            .timestamp(Utc.timestamp_millis_opt(millis).unwrap());
        if let Some(ttl) = ttl { b = b.ttl(Duration::from_millis(ttl)); }
        if let Some(a) = auth { b = b.auth(AuthToken::new(a)); }
        if let Some(p) = parent { b = b.parent(MessageId::from_uuid(uuid::Uuid::from_u128(p))); }
        if let Some(t) = trace { b = b.trace(TraceId::from_uuid(uuid::Uuid::from_u128(t))); }
        if let Some(k) = key { b = b.idempotency_key(k); }
        if let Some(a) = after { b = b.deliver_after(Utc.timestamp_millis_opt(a).unwrap()); }
        if let Some(r) = reply_to { b = b.reply_to(Topic::new(r).unwrap()); }
        let mut env = b.build();
        env.id = MessageId::from_uuid(uuid::Uuid::from_u128(id));
        env.meta.retry_count = retry_count;
        env
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0xCAD5E),
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_envelope_survives_encode_decode(env in envelope()) {
        let bytes = env.to_json().unwrap();
        let back = Envelope::from_json(&bytes).unwrap();
        prop_assert_eq!(&back, &env);
        // Encoding is stable: a second trip gives the same bytes.
        prop_assert_eq!(back.to_json().unwrap(), bytes);
    }

    #[test]
    fn truncated_or_corrupted_envelopes_fail_cleanly(env in envelope(), cut in 0usize..1000, flip in any::<u8>()) {
        let bytes = env.to_json().unwrap();
        let cut = cut % bytes.len();
        let truncated = &bytes[..cut];
        prop_assert!(Envelope::from_json(truncated).is_err());
        let mut corrupted = bytes.clone();
        corrupted[cut] ^= flip | 1;
        // Either it still decodes (a flipped character inside a string) or it fails with an
        // error; it never panics.
        let _ = Envelope::from_json(&corrupted);
    }
}
