#!/usr/bin/env python3
"""The peer of `cadre bench optimize`: PyPortfolioOpt's max Sharpe and efficient frontier
(solver Clarabel, through cvxpy) on the same seeded panel.

    python3 -m venv VENV && VENV/bin/pip install pyportfolioopt==1.6.0 clarabel==0.11.1 packaging
    VENV/bin/python scripts/peers/pypfopt_peer.py --assets 500 --days 252 --points 10

The panel is drawn exactly as cadre's `bench_panel` (crates/cadre/src/cmd/quant_optimize.rs):
SplitMix64 seeded with 20261126, uniforms `(x >> 11) / 2^53`, Box-Muller normals (one of the
pair); per asset a drift (-5..+25 %/yr), a volatility (15..45 %/yr) and three factor loadings,
then per day three factor draws and one idiosyncratic draw per asset. Prices are the
cumulated returns from 100. What is timed, as on cadre's side: building the optimiser from
the estimated expected returns and covariance, then `max_sharpe(0.0)`; and the frontier:
`efficient_return` at `--points` targets from the min-volatility return to the max return
less 1e-4 on one optimiser (including the min-volatility and max-return solves). The estimates themselves
(`mean_historical_return`, `sample_cov` or `CovarianceShrinkage.ledoit_wolf`) are timed
apart. Best of --repeat runs. Prints one JSON object on stdout; progress goes to stderr.
"""
import argparse
import json
import math
import sys
import time
import warnings

import numpy as np
import pandas as pd

MASK = (1 << 64) - 1


class SplitMix:
    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next() >> 11) / float(1 << 53)

    def normal(self):
        u1 = 1.0 - self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def panel(assets, days):
    rng = SplitMix(20261126)
    root = math.sqrt(252.0)
    params = []
    for _ in range(assets):
        drift = (-0.05 + 0.30 * rng.uniform()) / 252.0
        vol = (0.15 + 0.30 * rng.uniform()) / root
        l = [rng.normal(), rng.normal(), rng.normal()]
        norm = math.sqrt(sum(x * x for x in l) * 1.5)
        params.append((drift, vol, [x / norm for x in l]))
    returns = np.empty((days, assets))
    for d in range(days):
        f = [rng.normal(), rng.normal(), rng.normal()]
        for a, (drift, vol, l) in enumerate(params):
            idio = math.sqrt(1.0 - sum(x * x for x in l))
            shock = l[0] * f[0] + l[1] * f[1] + l[2] * f[2] + idio * rng.normal()
            returns[d, a] = drift + vol * shock
    prices = 100.0 * np.vstack([np.ones(assets), np.cumprod(1.0 + returns, axis=0)])
    return pd.DataFrame(prices, columns=[f"A{i:04d}" for i in range(assets)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", type=int, default=500)
    ap.add_argument("--days", type=int, default=252)
    ap.add_argument("--points", type=int, default=10)
    ap.add_argument("--cov", choices=["sample", "ledoit-wolf"], default="ledoit-wolf")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import clarabel
    import pypfopt
    from importlib.metadata import version
    from pypfopt import EfficientFrontier, expected_returns, risk_models

    warnings.simplefilter("ignore")
    print(f"pypfopt_peer: drawing {args.assets} x {args.days}", file=sys.stderr)
    prices = panel(args.assets, args.days)
    t = time.perf_counter()
    mu = expected_returns.mean_historical_return(prices)
    if args.cov == "sample":
        cov = risk_models.sample_cov(prices)
    else:
        cov = risk_models.CovarianceShrinkage(prices).ledoit_wolf()
    estimate = time.perf_counter() - t

    def ef():
        return EfficientFrontier(mu, cov, solver="CLARABEL")

    sharpe_s = frontier_s = float("inf")
    for r in range(args.repeat):
        print(f"pypfopt_peer: run {r + 1}/{args.repeat}", file=sys.stderr)
        t = time.perf_counter()
        e = ef()
        w = e.max_sharpe(risk_free_rate=0.0)
        sharpe_s = min(sharpe_s, time.perf_counter() - t)
        weights = np.array([w[k] for k in mu.index])
        t = time.perf_counter()
        m = ef()
        m.min_volatility()
        lo = m.portfolio_performance()[0]
        hi = ef()._max_return()
        # One optimiser for every point: PyPortfolioOpt then updates a cvxpy Parameter
        # instead of building the problem again (its fastest way through a frontier).
        f = ef()
        for target in np.linspace(lo, hi - 0.0001, args.points):
            f.efficient_return(float(target))
        frontier_s = min(frontier_s, time.perf_counter() - t)
    ret = float(weights @ mu.values)
    vol = float(np.sqrt(weights @ cov.values @ weights))
    json.dump(
        {
            "version": version("pyportfolioopt"),
            "clarabel": clarabel.__version__,
            "assets": args.assets,
            "days": args.days,
            "cov": args.cov,
            "points": args.points,
            "repeat": args.repeat,
            "estimate_seconds": estimate,
            "max_sharpe_seconds": sharpe_s,
            "frontier_seconds": frontier_s,
            "max_sharpe": {"sharpe": ret / vol, "assets_held": int((weights > 1e-6).sum())},
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
