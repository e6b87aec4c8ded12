#!/usr/bin/env python3
"""Reference values of cadre-pack-trading's indicators, computed with TA-Lib.

    python3 -m venv /work/venvs/talib && /work/venvs/talib/bin/pip install TA-Lib numpy
    /work/venvs/talib/bin/python packs/trading/tests/golden/generate.py \
        > packs/trading/tests/golden/indicators.json

(The `TA-Lib` wheel on PyPI ships the C library, so nothing else needs installing.)

The input is one deterministic OHLCV series of 2,000 daily bars: a seeded numpy generator
(`default_rng(20261125)`) draws a geometric Brownian motion with a volatility regime switch,
prices are rounded to cents (so equal closes happen, as in real data), opens gap a little
from the previous close, highs/lows extend beyond max/min(open, close), volumes are whole
numbers. The same file comes out on every run.

Conventions (the same as cadre_pack_trading::indicators, see its doc comments):
- every function is called with TA-Lib's defaults for what is not listed (classic EMA
  seeding by the SMA of the first `period` values, no unstable period, `matype` 0 = SMA for
  BBANDS and STOCH);
- outputs are as long as the input; TA-Lib's warm-up (the lookback) is NaN, written as null,
  and the Rust side must have NaN at exactly the same places;
- VWAP is not in TA-Lib: it is computed here directly with numpy as the cumulative
  typical-price VWAP, cumsum((high + low + close) / 3 * volume) / cumsum(volume).
- candlestick patterns (`patterns`) use TA-Lib's default candle settings; their outputs are
  integers (100 bullish, -100 bearish, +-80 for a weaker engulfing, 0 none and during the
  warm-up) and must match exactly.
Floats are written with Python's repr, which round-trips exactly.
"""
import json
import math

import numpy as np
import talib


def series(n=2000):
    rng = np.random.default_rng(20261125)
    regime = 0
    vols = (0.011, 0.028)
    switch = (0.02, 0.08)
    close = 100.0
    rows = []
    for _ in range(n):
        if rng.random() < switch[regime]:
            regime = 1 - regime
        sigma = vols[regime]
        o = round(close * math.exp(rng.normal(0.0, sigma / 4)), 2)
        c = round(o * math.exp(rng.normal(0.0002, sigma)), 2)
        h = round(max(o, c) + abs(rng.normal(0.0, sigma / 2)) * o, 2)
        lo = round(min(o, c) - abs(rng.normal(0.0, sigma / 2)) * o, 2)
        v = float(round(1_000_000 * math.exp(rng.normal(0.0, 0.5)) * (2.0 if regime else 1.0)))
        rows.append((o, h, lo, c, v))
        close = c
    cols = [np.array(col, dtype=np.float64) for col in zip(*rows)]
    return dict(zip(("open", "high", "low", "close", "volume"), cols))


def out(a):
    return [None if math.isnan(x) else float(x) for x in a]


def main():
    d = series()
    o, h, lo, c, v = (d[k] for k in ("open", "high", "low", "close", "volume"))
    cases = []

    def case(indicator, params, **outputs):
        cases.append({"indicator": indicator, "params": params,
                      "outputs": {k: out(a) for k, a in outputs.items()}})

    for p in (5, 20):
        case("sma", {"period": p}, real=talib.SMA(c, timeperiod=p))
    for p in (10, 30):
        case("ema", {"period": p}, real=talib.EMA(c, timeperiod=p))
    for p in (9, 20):
        case("wma", {"period": p}, real=talib.WMA(c, timeperiod=p))
    for p in (14, 6):
        case("rsi", {"period": p}, real=talib.RSI(c, timeperiod=p))
    for f, s, g in ((12, 26, 9), (5, 35, 5)):
        m, sig, hist = talib.MACD(c, fastperiod=f, slowperiod=s, signalperiod=g)
        case("macd", {"fast": f, "slow": s, "signal": g}, macd=m, signal=sig, histogram=hist)
    for p, up, dn in ((20, 2.0, 2.0), (10, 1.5, 2.5)):
        u, mid, low = talib.BBANDS(c, timeperiod=p, nbdevup=up, nbdevdn=dn, matype=0)
        case("bollinger", {"period": p, "dev_up": up, "dev_down": dn}, upper=u, middle=mid, lower=low)
    for p in (14, 5):
        case("atr", {"period": p}, real=talib.ATR(h, lo, c, timeperiod=p))
    for fk, sk, sd in ((5, 3, 3), (14, 3, 5)):
        k, dd = talib.STOCH(h, lo, c, fastk_period=fk, slowk_period=sk, slowk_matype=0,
                            slowd_period=sd, slowd_matype=0)
        case("stoch", {"fastk": fk, "slowk": sk, "slowd": sd}, k=k, d=dd)
    case("obv", {}, real=talib.OBV(c, v))
    tp = (h + lo + c) / 3.0
    case("vwap", {}, real=np.cumsum(tp * v) / np.cumsum(v))

    patterns = []
    for name, fn in (("doji", talib.CDLDOJI), ("hammer", talib.CDLHAMMER),
                     ("shooting_star", talib.CDLSHOOTINGSTAR), ("engulfing", talib.CDLENGULFING)):
        patterns.append({"pattern": name, "params": {}, "output": [int(x) for x in fn(o, h, lo, c)]})
    for name, fn in (("morning_star", talib.CDLMORNINGSTAR), ("evening_star", talib.CDLEVENINGSTAR)):
        for pen in (0.3, 0.5):
            patterns.append({"pattern": name, "params": {"penetration": pen},
                             "output": [int(x) for x in fn(o, h, lo, c, penetration=pen)]})

    print(json.dumps({
        "generator": f"TA-Lib {talib.__version__} (C library {talib.__ta_version__.decode()}), numpy {np.__version__}",
        "inputs": {k: [float(x) for x in a] for k, a in d.items()},
        "cases": cases,
        "patterns": patterns,
    }, separators=(",", ":")))


if __name__ == "__main__":
    main()
