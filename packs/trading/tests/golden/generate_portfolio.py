#!/usr/bin/env python3
"""Reference values of cadre_pack_trading::portfolio, computed with PyPortfolioOpt over Clarabel.

    python3 -m venv /work/venvs/pypfopt && /work/venvs/pypfopt/bin/pip install \
        pyportfolioopt==1.6.0 clarabel==0.11.1 cvxpy==1.9.3 scikit-learn==1.9.1 \
        numpy==2.4.6 pandas==3.1.1 packaging
    /work/venvs/pypfopt/bin/python packs/trading/tests/golden/generate_portfolio.py \
        > packs/trading/tests/golden/portfolio.json

Inputs: seeded daily price panels (numpy's `default_rng(20261126)`, one stream per case):
geometric random walks driven by three common factors plus idiosyncratic noise, drifts of
-5%..+25% a year and volatilities of 15%..45%. Cases:
- `a10`: 10 assets, 501 prices (500 returns), long-only weights in [0, 1];
- `b30_box`: 30 assets, 401 prices, box bounds [0.01, 0.10] for every asset;
- `c30_sector`: 30 assets, 401 prices, weights in [0, 0.2] and three sectors of ten assets
  with lower / upper sums (0.2, 0.5), (0.1, 0.4), (0.0, 0.3);
- `d40_short`: 40 assets, 31 prices (fewer returns than assets: Ledoit-Wolf only, the sample
  covariance is singular).
The same file comes out on every run.

Conventions (the same as cadre_pack_trading::portfolio, see its module docs):
- returns: simple daily returns (`returns_from_prices`, pandas pct_change);
- expected returns: `mean_historical_return(prices)` (compounding=True, frequency=252) and
  `mean_historical_return(prices, compounding=False)` (mean * 252);
- covariance: `sample_cov(prices)` (ddof 1, * 252) and
  `CovarianceShrinkage(prices).ledoit_wolf()` (scikit-learn's ledoit_wolf, constant-variance
  target, * 252), with its shrinkage `delta`;
- optimiser: `EfficientFrontier(mu, S, weight_bounds=..., solver="CLARABEL")` with the
  compounded `mu`; objectives `min_volatility()`, `max_sharpe(risk_free_rate=0.02)`,
  `efficient_return(target)` with target halfway between the min-volatility return and the
  maximum return, `efficient_risk(target)` with target 1.25 x the min volatility; the
  frontier is `efficient_return` over
  `numpy.linspace(min_vol_return, max_return - 0.0001, 5)` (plotting's default range);
- weights are PyPortfolioOpt's raw `ef.weights` (not `clean_weights`).
Floats are written with Python's repr, which round-trips exactly.
"""
import json
import sys

import clarabel
import cvxpy
import numpy as np
import pandas as pd
import pypfopt
from pypfopt import EfficientFrontier, expected_returns, risk_models

RF = 0.02
FRONTIER_POINTS = 5


def panel(rng, assets, prices):
    days = prices - 1
    drift = rng.uniform(-0.05, 0.25, assets) / 252
    vol = rng.uniform(0.15, 0.45, assets) / np.sqrt(252)
    loadings = rng.normal(0.0, 1.0, (assets, 3))
    loadings /= np.linalg.norm(loadings, axis=1, keepdims=True) * np.sqrt(1.5)
    idio = np.sqrt(1 - np.sum(loadings**2, axis=1))
    factors = rng.normal(0.0, 1.0, (days, 3))
    noise = rng.normal(0.0, 1.0, (days, assets))
    shocks = factors @ loadings.T + noise * idio
    log_ret = drift - vol**2 / 2 + vol * shocks
    start = rng.uniform(20.0, 200.0, assets)
    paths = start * np.exp(np.vstack([np.zeros(assets), np.cumsum(log_ret, axis=0)]))
    return pd.DataFrame(paths, columns=[f"A{i:02d}" for i in range(assets)])


def make_ef(mu, cov, case):
    ef = EfficientFrontier(mu, cov, weight_bounds=tuple(case["bounds"]), solver="CLARABEL")
    if case["sectors"]:
        mapper = {}
        lower, upper = {}, {}
        for s in case["sectors"]:
            for a in s["assets"]:
                mapper[mu.index[a]] = s["name"]
            lower[s["name"]] = s["lower"]
            upper[s["name"]] = s["upper"]
        ef.add_sector_constraints(mapper, lower, upper)
    return ef


def record(ef, mu, cov, weights_dict):
    w = np.array([weights_dict[k] for k in mu.index], dtype=float)
    ret = float(w @ mu.values)
    vol = float(np.sqrt(w @ cov.values @ w))
    return {"weights": w.tolist(), "expected_return": ret, "volatility": vol}


def runs(mu, cov, case):
    out = {}
    ef = make_ef(mu, cov, case)
    out["min_volatility"] = record(ef, mu, cov, ef.min_volatility())
    min_ret = out["min_volatility"]["expected_return"]
    min_vol = out["min_volatility"]["volatility"]
    max_ret = float(make_ef(mu, cov, case)._max_return())
    out["max_return"] = max_ret
    ef = make_ef(mu, cov, case)
    out["max_sharpe"] = record(ef, mu, cov, ef.max_sharpe(risk_free_rate=RF))
    out["max_sharpe"]["risk_free"] = RF
    target = float((min_ret + max_ret) / 2)
    ef = make_ef(mu, cov, case)
    out["efficient_return"] = record(ef, mu, cov, ef.efficient_return(target))
    out["efficient_return"]["target"] = target
    target = float(1.25 * min_vol)
    ef = make_ef(mu, cov, case)
    out["efficient_risk"] = record(ef, mu, cov, ef.efficient_risk(target))
    out["efficient_risk"]["target"] = target
    frontier = []
    for t in np.linspace(min_ret, max_ret - 0.0001, FRONTIER_POINTS):
        ef = make_ef(mu, cov, case)
        point = record(ef, mu, cov, ef.efficient_return(float(t)))
        point["target"] = float(t)
        frontier.append(point)
    out["frontier"] = frontier
    return out


CASES = [
    {"name": "a10", "assets": 10, "prices": 501, "bounds": [0.0, 1.0], "sectors": []},
    {"name": "b30_box", "assets": 30, "prices": 401, "bounds": [0.01, 0.10], "sectors": []},
    {
        "name": "c30_sector",
        "assets": 30,
        "prices": 401,
        "bounds": [0.0, 0.2],
        "sectors": [
            {"name": "tech", "assets": list(range(0, 10)), "lower": 0.2, "upper": 0.5},
            {"name": "energy", "assets": list(range(10, 20)), "lower": 0.1, "upper": 0.4},
            {"name": "health", "assets": list(range(20, 30)), "lower": 0.0, "upper": 0.3},
        ],
    },
    {"name": "d40_short", "assets": 40, "prices": 31, "bounds": [0.0, 1.0], "sectors": [],
     "ledoit_wolf_only": True},
]


def main():
    seeds = np.random.SeedSequence(20261126).spawn(len(CASES))
    cases = []
    for case, seed in zip(CASES, seeds):
        prices = panel(np.random.default_rng(seed), case["assets"], case["prices"])
        mu = expected_returns.mean_historical_return(prices)
        mu_mean = expected_returns.mean_historical_return(prices, compounding=False)
        shrink = risk_models.CovarianceShrinkage(prices)
        lw = shrink.ledoit_wolf()
        entry = {
            "name": case["name"],
            "bounds": case["bounds"],
            "sectors": case["sectors"],
            "prices": [prices[c].tolist() for c in prices.columns],
            "expected_returns": mu.tolist(),
            "expected_returns_mean": mu_mean.tolist(),
            "ledoit_wolf": {"shrinkage": float(shrink.delta), "matrix": lw.values.tolist()},
            "runs": {"ledoit_wolf": runs(mu, lw, case)},
        }
        if not case.get("ledoit_wolf_only"):
            sample = risk_models.sample_cov(prices)
            entry["sample_cov"] = sample.values.tolist()
            entry["runs"]["sample"] = runs(mu, sample, case)
        cases.append(entry)
    doc = {
        "generator": "packs/trading/tests/golden/generate_portfolio.py",
        "versions": {
            "pyportfolioopt": pypfopt.__version__ if hasattr(pypfopt, "__version__") else "1.6.0",
            "clarabel": clarabel.__version__,
            "cvxpy": cvxpy.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
        "frequency": 252,
        "cases": cases,
    }
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
