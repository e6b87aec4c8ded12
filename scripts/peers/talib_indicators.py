#!/usr/bin/env python3
"""TA-Lib's side of `scripts/peers/indicators-vs-talib`: times the same indicators as
`cadre bench indicators` on a series of the same length, best of --repeat runs each.

    python3 -m venv VENV && VENV/bin/pip install TA-Lib numpy
    VENV/bin/python scripts/peers/talib_indicators.py --points 10000000 --repeat 3

The series is a seeded random walk (numpy default_rng(20261125)) of float64 closes with
highs/lows around them and volumes; speed does not depend on the values. VWAP is not in
TA-Lib: it is timed as the direct numpy computation (cumulative typical-price VWAP), and the
output says so. Prints one JSON object on stdout:
{"peer","version","points","repeat","indicators":[{"name","points","seconds","points_per_s","impl"}]}
Progress goes to stderr.
"""
import argparse
import json
import sys
import time

import numpy as np
import talib


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n = args.points
    rng = np.random.default_rng(20261125)
    close = 100.0 * np.cumprod(1.0 + (rng.random(n) - 0.5) * 0.02)
    spread = close * rng.random(n) * 0.01
    high = close + spread
    low = close - spread
    volume = 1000.0 + rng.random(n) * 9000.0

    def vwap():
        tp = (high + low + close) / 3.0
        return np.cumsum(tp * volume) / np.cumsum(volume)

    cases = [
        ("sma_20", lambda: talib.SMA(close, 20), "talib"),
        ("ema_20", lambda: talib.EMA(close, 20), "talib"),
        ("wma_20", lambda: talib.WMA(close, 20), "talib"),
        ("rsi_14", lambda: talib.RSI(close, 14), "talib"),
        ("macd_12_26_9", lambda: talib.MACD(close, 12, 26, 9), "talib"),
        ("bbands_20_2", lambda: talib.BBANDS(close, 20, 2.0, 2.0), "talib"),
        ("atr_14", lambda: talib.ATR(high, low, close, 14), "talib"),
        ("stoch_5_3_3", lambda: talib.STOCH(high, low, close, 5, 3, 0, 3, 0), "talib"),
        ("obv", lambda: talib.OBV(close, volume), "talib"),
        ("vwap", vwap, "numpy"),
    ]
    out = []
    for name, fn, impl in cases:
        best = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t)
        out.append({"name": name, "points": n, "seconds": best, "points_per_s": n / best, "impl": impl})
        print(f"talib_indicators: {name}: {n / best / 1e6:.1f} M points/s ({impl})", file=sys.stderr)
    json.dump({"peer": "ta-lib", "version": talib.__version__, "points": n, "repeat": args.repeat, "indicators": out}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
