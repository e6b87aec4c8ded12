#!/usr/bin/env python3
"""The peers of `cadre bench pricing`: European options priced with all five Greeks by
QuantLib (AnalyticEuropeanEngine, one option at a time, as an application would) and by
vectorised NumPy/SciPy (the Black-Scholes-Merton formulas on whole arrays).

    python3 -m venv VENV && VENV/bin/pip install QuantLib==1.44 numpy==2.4.6 scipy==1.17.1
    VENV/bin/python scripts/peers/pricing_peers.py --quantlib 20000 --numpy 2000000

The options are drawn like those of `cadre bench pricing` (which prices them as columns with
`pricing::batch::price_greeks`; seeded: calls and puts, strikes 50-150 % of a spot of
100, 1 week to 3 years, rates 0-6 %, dividends 0-4 %, volatilities 5-80 %). Best of --repeat
runs. Prints one JSON object on stdout:
{"quantlib":{"version","options","seconds","options_per_s"},"numpy":{"version","options","seconds","options_per_s"}}
Progress goes to stderr.
"""
import argparse
import json
import sys
import time

import numpy as np


def draw(n, seed=20261126):
    rng = np.random.default_rng(seed)
    return dict(
        call=rng.random(n) < 0.5,
        strike=50.0 + rng.random(n) * 100.0,
        expiry=1.0 / 52.0 + rng.random(n) * 3.0,
        rate=rng.random(n) * 0.06,
        dividend=rng.random(n) * 0.04,
        vol=0.05 + rng.random(n) * 0.75,
    )


def numpy_run(o):
    from scipy.special import ndtr

    s = 100.0
    k, t, r, q, v = o["strike"], o["expiry"], o["rate"], o["dividend"], o["vol"]
    sign = np.where(o["call"], 1.0, -1.0)
    sqrt_t = np.sqrt(t)
    sd = v * sqrt_t
    d1 = (np.log(s / k) + (r - q) * t) / sd + 0.5 * sd
    d2 = d1 - sd
    df_r, df_q = np.exp(-r * t), np.exp(-q * t)
    n1, n2 = ndtr(sign * d1), ndtr(sign * d2)
    pdf1 = np.exp(-0.5 * d1 * d1) / np.sqrt(2.0 * np.pi)
    price = np.maximum(sign * (s * df_q * n1 - k * df_r * n2), 0.0)
    delta = sign * df_q * n1
    gamma = df_q * pdf1 / (s * sd)
    vega = s * df_q * pdf1 * sqrt_t
    theta = -s * df_q * pdf1 * v / (2.0 * sqrt_t) + sign * (q * s * df_q * n1 - r * k * df_r * n2)
    rho = sign * k * t * df_r * n2
    return price, delta, gamma, vega, theta, rho


def quantlib_run(o, n):
    import QuantLib as ql

    today = ql.Date(26, 11, 2026)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    spot = ql.SimpleQuote(100.0)
    r, q, v = ql.SimpleQuote(0.0), ql.SimpleQuote(0.0), ql.SimpleQuote(0.2)
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(spot),
        ql.YieldTermStructureHandle(ql.FlatForward(today, ql.QuoteHandle(q), dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, ql.QuoteHandle(r), dc)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), ql.QuoteHandle(v), dc)),
    )
    engine = ql.AnalyticEuropeanEngine(process)
    total = 0.0
    for i in range(n):
        r.setValue(float(o["rate"][i]))
        q.setValue(float(o["dividend"][i]))
        v.setValue(float(o["vol"][i]))
        days = max(1, int(round(o["expiry"][i] * 365)))
        kind = ql.Option.Call if o["call"][i] else ql.Option.Put
        option = ql.VanillaOption(ql.PlainVanillaPayoff(kind, float(o["strike"][i])), ql.EuropeanExercise(today + days))
        option.setPricingEngine(engine)
        total += option.NPV() + option.delta() + option.gamma() + option.vega() + option.theta() + option.rho()
    return total


def best_of(repeat, fn):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quantlib", type=int, default=20000, help="options QuantLib prices")
    ap.add_argument("--numpy", type=int, default=2000000, help="options NumPy prices")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    out = {}
    o = draw(args.numpy)
    sec = best_of(args.repeat, lambda: numpy_run(o))
    out["numpy"] = {"version": np.__version__, "options": args.numpy, "seconds": sec, "options_per_s": args.numpy / sec}
    print(f"pricing_peers: numpy: {args.numpy / sec / 1e6:.2f} M options/s", file=sys.stderr)
    try:
        import QuantLib as ql

        oq = draw(args.quantlib)
        sec = best_of(args.repeat, lambda: quantlib_run(oq, args.quantlib))
        out["quantlib"] = {"version": ql.__version__, "options": args.quantlib, "seconds": sec, "options_per_s": args.quantlib / sec}
        print(f"pricing_peers: QuantLib: {args.quantlib / sec:,.0f} options/s", file=sys.stderr)
    except ImportError:
        print("pricing_peers: QuantLib is not installed; skipped", file=sys.stderr)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
