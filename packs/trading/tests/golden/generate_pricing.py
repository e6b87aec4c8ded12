#!/usr/bin/env python3
"""Reference values of cadre_pack_trading::pricing, computed with QuantLib.

    python3 -m venv /work/venvs/quantlib && /work/venvs/quantlib/bin/pip install QuantLib
    /work/venvs/quantlib/bin/python packs/trading/tests/golden/generate_pricing.py \
        > packs/trading/tests/golden/pricing.json

Every case is a European option priced by QuantLib's AnalyticEuropeanEngine on a
BlackScholesMertonProcess with flat curves: FlatForward risk-free rate r and dividend yield q
(continuous compounding), BlackConstantVol sigma, all Actual365Fixed. The evaluation date is
fixed (2026-01-02) and the maturity is `days` calendar days later, so the time to expiry is
exactly T = days / 365 (written to the fixture, and the Rust side uses that number).

Units (the same as cadre_pack_trading::pricing):
- price, delta (per 1 unit of spot), gamma (per 1 unit of spot, squared): as usual;
- vega: per 1.00 (100 vol points) change of sigma, i.e. dPrice/dsigma;
- rho: per 1.00 (10,000 bp) change of r, q held fixed, i.e. dPrice/dr;
- theta: per year, dPrice/dt as calendar time passes (usually negative); divide by 365 for a
  per-day figure.
`implied_vol` is QuantLib's VanillaOption.impliedVolatility of the QuantLib price (accuracy
1e-12, vol bracket [1e-7, 4]), null where QuantLib's solver gives up (deep out of the money,
where the price carries almost no vega).

The grid is deterministic: a full cross of moneyness, expiries, vols, rates/dividends and both
kinds would be too large, so a seeded Python `random.Random(20261126)` walks it, plus a
handful of hand-picked edge cases (deep ITM/OTM, 1-day and 10-year expiries, negative rate,
dividend above the rate). Floats are written with Python's repr, which round-trips exactly.
"""
import json
import random

import QuantLib as ql

TODAY = ql.Date(2, 1, 2026)


def price(kind, spot, strike, days, r, q, vol):
    ql.Settings.instance().evaluationDate = TODAY
    dc = ql.Actual365Fixed()
    maturity = TODAY + days
    payoff = ql.PlainVanillaPayoff(ql.Option.Call if kind == "call" else ql.Option.Put, strike)
    option = ql.VanillaOption(payoff, ql.EuropeanExercise(maturity))
    spot_h = ql.QuoteHandle(ql.SimpleQuote(spot))
    r_ts = ql.YieldTermStructureHandle(ql.FlatForward(TODAY, r, dc))
    q_ts = ql.YieldTermStructureHandle(ql.FlatForward(TODAY, q, dc))
    v_ts = ql.BlackVolTermStructureHandle(ql.BlackConstantVol(TODAY, ql.NullCalendar(), vol, dc))
    process = ql.BlackScholesMertonProcess(spot_h, q_ts, r_ts, v_ts)
    option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    t = dc.yearFraction(TODAY, maturity)
    assert t == days / 365.0
    npv = option.NPV()
    try:
        iv = option.impliedVolatility(npv, process, 1e-12, 1000, 1e-7, 4.0)
    except RuntimeError:
        iv = None
    return {
        "kind": kind, "spot": spot, "strike": strike, "days": days, "expiry": t,
        "rate": r, "dividend": q, "vol": vol,
        "price": npv, "delta": option.delta(), "gamma": option.gamma(),
        "vega": option.vega(), "theta": option.theta(), "rho": option.rho(),
        "implied_vol": iv,
    }


def main():
    rng = random.Random(20261126)
    cases = []
    moneyness = (0.3, 0.5, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25, 1.6, 2.5)
    expiries = (1, 7, 30, 91, 182, 365, 730, 1825, 3650)
    vols = (0.05, 0.12, 0.2, 0.35, 0.6, 1.2)
    rates = ((0.0, 0.0), (0.03, 0.0), (0.05, 0.02), (0.01, 0.04), (-0.005, 0.0), (0.08, 0.08))
    for _ in range(90):
        spot = rng.choice((1.0, 42.5, 100.0, 2500.0))
        m = rng.choice(moneyness)
        days = rng.choice(expiries)
        vol = rng.choice(vols)
        r, q = rng.choice(rates)
        for kind in ("call", "put"):
            cases.append(price(kind, spot, round(spot * m, 6), days, r, q, vol))
    edges = [
        (100.0, 20.0, 365, 0.05, 0.0, 0.2),     # deep ITM call / deep OTM put
        (100.0, 400.0, 365, 0.05, 0.0, 0.2),    # deep OTM call / deep ITM put
        (100.0, 100.0, 1, 0.05, 0.0, 0.2),      # one day at the money
        (100.0, 103.0, 1, 0.05, 0.0, 0.2),      # one day slightly OTM
        (100.0, 100.0, 3650, 0.03, 0.01, 0.25), # ten years
        (100.0, 100.0, 365, 0.01, 0.06, 0.3),   # dividend above the rate
        (100.0, 95.0, 182, -0.01, 0.0, 0.15),   # negative rate
        (100.0, 100.0, 365, 0.05, 0.0, 0.01),   # very low vol
        (100.0, 100.0, 365, 0.05, 0.0, 3.0),    # very high vol
        (0.5, 0.55, 91, 0.02, 0.0, 0.45),       # penny stock
    ]
    for spot, strike, days, r, q, vol in edges:
        for kind in ("call", "put"):
            cases.append(price(kind, spot, strike, days, r, q, vol))
    print(json.dumps({
        "generator": f"QuantLib {ql.__version__} (AnalyticEuropeanEngine, flat curves, Actual365Fixed)",
        "cases": cases,
    }, indent=0))


if __name__ == "__main__":
    main()
