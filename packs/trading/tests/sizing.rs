//! Position sizing rules and risk limits.

use cadre_core::ErrorCode;
use cadre_pack_trading::sizing::{self, Breach, Exposure, PortfolioState, RiskLimits};

fn invalid<T: std::fmt::Debug>(r: cadre_core::Result<T>, field: &str) {
    let e = r.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidInput, "{}", e.message());
    assert!(e.message().contains(field), "{field}: {}", e.message());
}

#[test]
fn fixed_fractional_risks_the_fraction() {
    // 1% of 100,000 with a 2.50 stop distance: 400 units, long or short.
    assert_eq!(
        sizing::fixed_fractional(100_000.0, 0.01, 50.0, 47.5).unwrap(),
        400.0
    );
    assert_eq!(
        sizing::fixed_fractional(100_000.0, 0.01, 50.0, 52.5).unwrap(),
        400.0
    );
    invalid(sizing::fixed_fractional(0.0, 0.01, 50.0, 47.5), "`equity`");
    invalid(
        sizing::fixed_fractional(1e5, 1.5, 50.0, 47.5),
        "`risk_fraction`",
    );
    invalid(
        sizing::fixed_fractional(1e5, 0.01, f64::NAN, 47.5),
        "`entry`",
    );
    invalid(sizing::fixed_fractional(1e5, 0.01, 50.0, 50.0), "`stop`");
}

#[test]
fn volatility_target_scales_and_caps() {
    assert!((sizing::volatility_target(0.10, 0.20, 3.0).unwrap() - 0.5).abs() < 1e-15);
    assert_eq!(sizing::volatility_target(0.10, 0.02, 3.0).unwrap(), 3.0);
    invalid(sizing::volatility_target(0.10, 0.0, 3.0), "`asset_vol`");
    invalid(sizing::volatility_target(-0.1, 0.2, 3.0), "`target_vol`");
    invalid(
        sizing::volatility_target(0.1, 0.2, f64::INFINITY),
        "`max_leverage`",
    );
}

#[test]
fn kelly_is_scaled_and_capped() {
    // p = 0.6 at even odds: f* = 0.2.
    assert!((sizing::kelly_fraction(0.6, 1.0).unwrap() - 0.2).abs() < 1e-15);
    assert!((sizing::capped_kelly(0.6, 1.0, 0.5, 1.0).unwrap() - 0.1).abs() < 1e-15);
    assert_eq!(sizing::capped_kelly(0.6, 1.0, 1.0, 0.05).unwrap(), 0.05);
    // Negative edge: no bet.
    assert!(sizing::kelly_fraction(0.4, 1.0).unwrap() < 0.0);
    assert_eq!(sizing::capped_kelly(0.4, 1.0, 1.0, 0.25).unwrap(), 0.0);
    invalid(sizing::kelly_fraction(1.2, 1.0), "`win_probability`");
    invalid(sizing::kelly_fraction(0.5, 0.0), "`win_loss_ratio`");
    invalid(sizing::capped_kelly(0.6, 1.0, 0.0, 0.25), "`multiplier`");
    invalid(sizing::capped_kelly(0.6, 1.0, 0.5, 2.0), "`cap`");
}

#[test]
fn limits_report_every_breach() {
    let limits = RiskLimits::new()
        .with_max_position(0.25)
        .unwrap()
        .with_max_gross_leverage(1.0)
        .unwrap()
        .with_max_net_leverage(0.5)
        .unwrap()
        .with_max_var_loss(0.02)
        .unwrap()
        .with_max_drawdown(0.1)
        .unwrap();
    let positions = [
        Exposure {
            symbol: "AAA",
            notional: 30_000.0,
        },
        Exposure {
            symbol: "BBB",
            notional: -25_000.0,
        },
        Exposure {
            symbol: "CCC",
            notional: 50_000.0,
        },
    ];
    let state = PortfolioState {
        equity: 100_000.0,
        positions: &positions,
        var: Some(-0.03),
        drawdown: Some(-0.15),
    };
    let breaches = limits.check(&state).unwrap();
    assert_eq!(
        breaches,
        vec![
            Breach::Position {
                symbol: "AAA".into(),
                fraction: 0.3,
                limit: 0.25
            },
            Breach::Position {
                symbol: "CCC".into(),
                fraction: 0.5,
                limit: 0.25
            },
            Breach::GrossLeverage {
                leverage: 1.05,
                limit: 1.0
            },
            Breach::NetLeverage {
                leverage: 0.55,
                limit: 0.5
            },
            Breach::Var {
                loss: 0.03,
                limit: 0.02
            },
            Breach::Drawdown {
                loss: 0.15,
                limit: 0.1
            },
        ]
    );
    assert_eq!(
        breaches[0].to_string(),
        "position `AAA` is 0.3 of equity, limit 0.25"
    );
    // Within limits (equal is not a breach), and no limits at all.
    let calm = PortfolioState {
        equity: 100_000.0,
        positions: &positions[1..2],
        var: Some(-0.02),
        drawdown: Some(0.0),
    };
    assert!(limits.check(&calm).unwrap().is_empty());
    assert!(RiskLimits::new().check(&state).unwrap().is_empty());
}

#[test]
fn limits_reject_bad_input() {
    invalid(RiskLimits::new().with_max_position(0.0), "`max_position`");
    invalid(RiskLimits::new().with_max_drawdown(1.5), "`max_drawdown`");
    invalid(
        RiskLimits::new().with_max_var_loss(f64::NAN),
        "`max_var_loss`",
    );
    let limits = RiskLimits::new();
    let bad = [Exposure {
        symbol: "AAA",
        notional: f64::NAN,
    }];
    let state = |equity, positions, var, drawdown| PortfolioState {
        equity,
        positions,
        var,
        drawdown,
    };
    invalid(limits.check(&state(0.0, &[], None, None)), "`equity`");
    invalid(limits.check(&state(1.0, &bad, None, None)), "positions[0]");
    invalid(
        limits.check(&state(1.0, &[], Some(f64::NAN), None)),
        "`var`",
    );
    invalid(
        limits.check(&state(1.0, &[], None, Some(0.1))),
        "`drawdown`",
    );
}

#[test]
fn atr_stops_place_and_trail_exits() {
    use cadre_pack_trading::sizing::{AtrStops, Direction, ExitHit};
    let stops = AtrStops::new(2.0, 3.0).unwrap();
    let long = stops.levels(Direction::Long, 100.0, 1.5).unwrap();
    assert_eq!((long.stop_loss, long.take_profit), (97.0, 104.5));
    let short = stops.levels(Direction::Short, 100.0, 1.5).unwrap();
    assert_eq!((short.stop_loss, short.take_profit), (103.0, 95.5));
    // A long's stop cannot go below zero.
    let tight = stops.levels(Direction::Long, 1.0, 1.0).unwrap();
    assert_eq!(tight.stop_loss, 0.0);

    // A bar that spans both levels counts as the stop (the prudent assumption).
    assert_eq!(
        long.hit(Direction::Long, 105.0, 96.0),
        Some(ExitHit::StopLoss(97.0))
    );
    assert_eq!(
        long.hit(Direction::Long, 104.5, 99.0),
        Some(ExitHit::TakeProfit(104.5))
    );
    assert_eq!(long.hit(Direction::Long, 104.0, 97.5), None);
    assert_eq!(
        short.hit(Direction::Short, 101.0, 95.0),
        Some(ExitHit::TakeProfit(95.5))
    );
    assert_eq!(
        short.hit(Direction::Short, 103.0, 99.0),
        Some(ExitHit::StopLoss(103.0))
    );

    // Trailing: follows the best price, never loosens.
    assert_eq!(
        stops.trail(Direction::Long, 97.0, 110.0, 1.5).unwrap(),
        107.0
    );
    assert_eq!(
        stops.trail(Direction::Long, 108.0, 110.0, 1.5).unwrap(),
        108.0
    );
    assert_eq!(
        stops.trail(Direction::Short, 103.0, 90.0, 1.5).unwrap(),
        93.0
    );
    assert_eq!(
        stops.trail(Direction::Short, 92.0, 90.0, 1.5).unwrap(),
        92.0
    );

    let e = AtrStops::new(0.0, 3.0).unwrap_err();
    assert!(e.message().contains("stop_multiple"), "{}", e.message());
    let e = stops.levels(Direction::Long, 100.0, f64::NAN).unwrap_err();
    assert!(e.message().contains("`atr`"), "{}", e.message());
    assert!(
        stops
            .trail(Direction::Long, f64::INFINITY, 100.0, 1.0)
            .is_err()
    );
}
