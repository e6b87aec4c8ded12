#!/usr/bin/env python3
"""Reference values of cadre_pack_trading::risk, computed with empyrical-reloaded.

    python3 -m venv /work/venvs/empyrical && /work/venvs/empyrical/bin/pip install empyrical-reloaded
    /work/venvs/empyrical/bin/python packs/trading/tests/golden/generate_risk.py \
        > packs/trading/tests/golden/risk.json

Inputs: 1,260 seeded daily simple returns (five years) of a benchmark and three assets, drawn
with numpy's `default_rng(20261126)`: fat tails (Student t, 4 degrees of freedom), assets
built as beta * benchmark + idiosyncratic noise, one of them with a few crash days (negative
skew). The same file comes out on every run.

Conventions (the same as cadre_pack_trading::risk, see its module docs):
- VaR and CVaR are reported as empyrical does: the *return* at the tail, so a loss is a
  negative number. `cutoff` is the tail probability (0.05 for 95% confidence).
  historical VaR = empyrical.value_at_risk (numpy's linear-interpolation percentile);
  historical CVaR = empyrical.conditional_value_at_risk (mean of the lowest
  int((n - 1) * cutoff) + 1 returns).
- annualisation factor 252 (period='daily'): annual_volatility (std ddof=1 * sqrt(252)),
  sharpe_ratio, sortino_ratio (downside deviation over all observations), calmar_ratio
  (CAGR / |max drawdown|), annual_return (CAGR), max_drawdown (negative fraction from the
  running peak, the wealth starting at 1 before the first return), beta (Cov/Var against the
  benchmark, population moments).
Not in empyrical, computed here directly with numpy/scipy:
- parametric normal VaR = mean + std(ddof=1) * Phi^-1(cutoff);
  normal CVaR = mean - std(ddof=1) * phi(Phi^-1(cutoff)) / cutoff;
- Cornish-Fisher VaR = mean + std(ddof=1) * z_cf with z = Phi^-1(cutoff),
  z_cf = z + (z^2 - 1) S / 6 + (z^3 - 3 z) K / 24 - (2 z^3 - 5 z) S^2 / 36,
  S = scipy.stats.skew(bias=True), K = scipy.stats.kurtosis(fisher=True, bias=True) (excess);
- longest drawdown duration: the most consecutive periods the wealth spends strictly below
  its running peak (the wealth starts at 1 before the first return);
- correlation matrix = numpy.corrcoef (Pearson).
Floats are written with Python's repr, which round-trips exactly.
"""
import json

import empyrical as ep
import numpy as np
import scipy
from scipy import stats

N = 1260
CUTOFFS = (0.01, 0.025, 0.05, 0.1)


def series():
    rng = np.random.default_rng(20261126)
    t = lambda size: rng.standard_t(4, size) / np.sqrt(2.0)  # unit variance
    bench = 0.0003 + 0.01 * t(N)
    a = 0.0001 + 1.3 * bench + 0.008 * t(N)
    b = 0.0002 + 0.4 * bench + 0.006 * t(N)
    c = 0.0004 + 0.9 * bench + 0.012 * t(N)
    crashes = rng.choice(N, size=6, replace=False)
    c[crashes] -= rng.uniform(0.05, 0.12, size=6)
    return {"benchmark": bench, "a": a, "b": b, "c": c}


def longest_underwater(r):
    wealth = np.cumprod(1.0 + r)
    peak, run, best = 1.0, 0, 0
    for w in wealth:
        if w < peak:
            run += 1
            best = max(best, run)
        else:
            peak, run = w, 0
    return best


def main():
    d = series()
    bench = d["benchmark"]
    results = {}
    for name, r in d.items():
        mean, std = float(np.mean(r)), float(np.std(r, ddof=1))
        s, k = float(stats.skew(r, bias=True)), float(stats.kurtosis(r, fisher=True, bias=True))
        tails = []
        for cutoff in CUTOFFS:
            z = float(stats.norm.ppf(cutoff))
            zcf = z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36
            tails.append({
                "cutoff": cutoff,
                "historical_var": float(ep.value_at_risk(r, cutoff)),
                "historical_cvar": float(ep.conditional_value_at_risk(r, cutoff)),
                "normal_var": mean + std * z,
                "normal_cvar": mean - std * float(stats.norm.pdf(z)) / cutoff,
                "cornish_fisher_var": mean + std * zcf,
            })
        results[name] = {
            "tails": tails,
            "skew": s,
            "excess_kurtosis": k,
            "annual_volatility": float(ep.annual_volatility(r)),
            "annual_return": float(ep.annual_return(r)),
            "sharpe": float(ep.sharpe_ratio(r)),
            "sharpe_rf": float(ep.sharpe_ratio(r, risk_free=0.0001)),
            "sortino": float(ep.sortino_ratio(r)),
            "sortino_required": float(ep.sortino_ratio(r, required_return=0.0002)),
            "calmar": float(ep.calmar_ratio(r)),
            "max_drawdown": float(ep.max_drawdown(r)),
            "max_drawdown_duration": longest_underwater(r),
            "beta": float(ep.beta(r, bench)),
        }
    names = list(d)
    corr = np.corrcoef(np.vstack([d[n] for n in names]))
    print(json.dumps({
        "generator": f"empyrical-reloaded {ep.__version__}, numpy {np.__version__}, scipy {scipy.__version__}",
        "periods_per_year": 252,
        "risk_free": 0.0001,
        "required_return": 0.0002,
        "returns": {n: [float(x) for x in r] for n, r in d.items()},
        "results": results,
        "correlation": {"names": names, "matrix": [[float(x) for x in row] for row in corr]},
    }, indent=0))


if __name__ == "__main__":
    main()
