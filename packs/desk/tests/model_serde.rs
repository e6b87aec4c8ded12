//! JSON round trips of every model type (proptest) and refusal of invalid documents.

use cadre_pack_desk::model::{
    Action, Decision, Experience, Fill, MarketData, Order, OrderId, OrderKind, Outcome, ProposalId,
    Side, TradingProposal, Verdict, Vote,
};
use cadre_pack_trading::market::Bar;
use chrono::{DateTime, Utc};
use proptest::prelude::*;

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..4_000_000_000, 0u32..1_000_000_000)
        .prop_map(|(s, ns)| DateTime::from_timestamp(s, ns).unwrap())
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 _.-]{0,12}"
}

fn name() -> impl Strategy<Value = String> {
    "[A-Z]{1,6}"
}

fn vote() -> impl Strategy<Value = Vote> {
    (
        name(),
        prop_oneof![
            Just(Verdict::Approve),
            Just(Verdict::Reject),
            Just(Verdict::Abstain)
        ],
        0.0..=1.0f64,
        0.0..1e6f64,
        proptest::collection::vec(text(), 0..3),
    )
        .prop_map(|(a, v, c, w, r)| Vote::new(a, v, c, w, r).unwrap())
}

fn round_trip<T>(value: &T) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let json = serde_json::to_string(value).unwrap();
    serde_json::from_str(&json).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig {
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5E2D),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]
    #[test]
    fn market_data(symbol in name(), t in time(), o in 1.0..1e4f64, up in 0.0..10.0f64, down in 0.0..10.0f64, c in 0.0..=1.0f64, v in 0.0..1e9f64) {
        let (hi, lo) = (o + up, (o - down).max(0.5));
        let close = lo + (hi - lo) * c;
        let bar = Bar::new(t, o.max(lo), hi, lo, close, v).unwrap();
        let m = MarketData::new(symbol, bar).unwrap();
        prop_assert_eq!(round_trip(&m), m);
    }

    #[test]
    fn proposal(id in any::<u64>(), symbol in name(), s in side(), size in 1e-6..1e9f64, c in 0.0..=1.0f64, why in text(), by in name(), t in time()) {
        let p = TradingProposal::new(ProposalId(id), symbol, s, size, c, why, by, t).unwrap();
        prop_assert_eq!(round_trip(&p), p);
    }

    #[test]
    fn votes_and_decisions(id in any::<u64>(), votes in proptest::collection::vec(vote(), 0..5), score in -1.0..=1.0f64, o in prop_oneof![Just(Outcome::Approved), Just(Outcome::Rejected), Just(Outcome::ManualReview)], why in "[a-z]{1,10}") {
        for v in &votes {
            prop_assert_eq!(&round_trip(v), v);
        }
        let d = Decision::new(ProposalId(id), o, score, votes, why).unwrap();
        prop_assert_eq!(round_trip(&d), d);
    }

    #[test]
    fn orders_and_fills(id in any::<u64>(), symbol in name(), s in side(), q in 1e-6..1e9f64, limit in proptest::option::of(1e-3..1e6f64), arrival in 1e-3..1e6f64, price in 1e-3..1e6f64, fee in 0.0..1e3f64, slip in -10.0..10.0f64, t in time()) {
        let kind = limit.map_or(OrderKind::Market, |price| OrderKind::Limit { price });
        let order = Order::new(OrderId(id), symbol.clone(), s, q, kind, arrival, t).unwrap();
        prop_assert_eq!(round_trip(&order), order.clone());
        prop_assert_eq!(order.limit_price(), limit);
        let fill = Fill::new(OrderId(id), symbol, s, q, price, fee, slip, t).unwrap();
        prop_assert_eq!(round_trip(&fill), fill);
    }

    #[test]
    fn experience(state in proptest::collection::vec(-1e9..1e9f64, 0..8), a in prop_oneof![Just(Action::Buy), Just(Action::Sell), Just(Action::Hold)], r in -1e6..1e6f64) {
        let e = Experience::new(state, a, r).unwrap();
        prop_assert_eq!(round_trip(&e), e);
    }
}

#[test]
fn invalid_documents_are_refused_naming_the_field() {
    let cases = [
        (
            "proposal",
            r#"{"id":1,"symbol":"X","side":"buy","size":1,"confidence":2,"rationale":"","proposer":"a","time":"2026-01-01T00:00:00Z"}"#,
            "`confidence`",
        ),
        (
            "proposal",
            r#"{"id":1,"symbol":" ","side":"buy","size":1,"confidence":0.5,"rationale":"","proposer":"a","time":"2026-01-01T00:00:00Z"}"#,
            "`symbol`",
        ),
        (
            "decision",
            r#"{"proposal":1,"outcome":"approved","score":-3,"votes":[],"reason":"x"}"#,
            "`score`",
        ),
        (
            "fill",
            r#"{"order":1,"symbol":"X","side":"sell","quantity":1,"price":-5,"commission":0,"slippage":0,"time":"2026-01-01T00:00:00Z"}"#,
            "`price`",
        ),
        (
            "order",
            r#"{"id":1,"symbol":"X","side":"buy","quantity":1,"kind":{"type":"limit","price":-1},"arrival_price":10,"time":"2026-01-01T00:00:00Z"}"#,
            "`limit_price`",
        ),
    ];
    for (what, json, field) in cases {
        let err = match what {
            "proposal" => serde_json::from_str::<TradingProposal>(json).map(|_| ()),
            "decision" => serde_json::from_str::<Decision>(json).map(|_| ()),
            "fill" => serde_json::from_str::<Fill>(json).map(|_| ()),
            _ => serde_json::from_str::<Order>(json).map(|_| ()),
        }
        .unwrap_err();
        assert!(err.to_string().contains(field), "{what}: {err}");
    }
}
