#!/usr/bin/env python3
"""SMA(fast)/SMA(slow) crossover in backtrader, the peer of `cadre desk backtest`.

Runs over a directory of OHLCV CSV files (`date,open,high,low,close,volume`, one file per
symbol, as `cadre desk data` writes them), with commission in basis points of the notional
and fixed slippage in basis points applied to the open (`set_slippage_perc(slip_open=True)`,
capped at the bar's high/low: `slip_match=True, slip_out=False`), market orders filled at the
next bar's open (backtrader's default). The rules mirror cadre's SmaCross: long only, buy
`stake` when `CrossOver(SMA(fast), SMA(slow)) > 0` while flat, `close()` when it is < 0.

Writes every fill to --trades (`time,symbol,side,quantity,price,commission`) and prints one
JSON object on stdout: version, bars, seconds (cerebro.run, loading included), bars_per_s,
final_equity, fills.

Venv (pinned): python3 -m venv /work/venvs/backtrader &&
    /work/venvs/backtrader/bin/pip install backtrader==1.9.78.123
"""
import argparse
import glob
import json
import os
import time

import backtrader as bt


class SmaCross(bt.Strategy):
    params = dict(fast=10, slow=30, stake=100.0, daily=True)

    def __init__(self):
        self.cross = {}
        for d in self.datas:
            fast = bt.ind.SMA(d.close, period=self.p.fast)
            slow = bt.ind.SMA(d.close, period=self.p.slow)
            self.cross[d] = bt.ind.CrossOver(fast, slow)
        self.fills = []

    def next(self):
        for d in self.datas:
            if not self.getposition(d).size:
                if self.cross[d][0] > 0:
                    self.buy(data=d, size=self.p.stake)
            elif self.cross[d][0] < 0:
                self.close(data=d)

    def notify_order(self, order):
        if order.status != order.Completed:
            return
        when = bt.num2date(order.executed.dt)
        stamp = when.strftime("%Y-%m-%d") if self.p.daily else when.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.fills.append(
            (
                stamp,
                order.data._name,
                "buy" if order.isbuy() else "sell",
                abs(order.executed.size),
                order.executed.price,
                order.executed.comm,
            )
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="directory of OHLCV CSV files")
    ap.add_argument("--fast", type=int, default=10)
    ap.add_argument("--slow", type=int, default=30)
    ap.add_argument("--stake", type=float, default=100.0)
    ap.add_argument("--cash", type=float, default=1_000_000.0)
    ap.add_argument("--commission-bps", type=float, default=0.0)
    ap.add_argument("--slippage-bps", type=float, default=0.0)
    ap.add_argument("--minutes", action="store_true", help="intraday bars (RFC 3339 times)")
    ap.add_argument("--trades", required=True, help="CSV file to write the fills to")
    a = ap.parse_args()

    files = sorted(glob.glob(os.path.join(a.data, "*.csv")))
    if not files:
        raise SystemExit(f"backtrader_sma.py: no .csv files in {a.data}")
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(a.cash)
    cerebro.broker.set_slippage_perc(
        perc=a.slippage_bps / 10_000.0, slip_open=True, slip_limit=True, slip_match=True, slip_out=False
    )
    cerebro.broker.addcommissioninfo(
        bt.CommInfoBase(
            commission=a.commission_bps / 10_000.0,
            commtype=bt.CommInfoBase.COMM_PERC,
            stocklike=True,
            percabs=True,
        )
    )
    bars = 0
    for f in files:
        with open(f) as fh:
            bars += sum(1 for _ in fh) - 1
        feed = bt.feeds.GenericCSVData(
            dataname=f,
            dtformat="%Y-%m-%dT%H:%M:%SZ" if a.minutes else "%Y-%m-%d",
            timeframe=bt.TimeFrame.Minutes if a.minutes else bt.TimeFrame.Days,
            datetime=0, open=1, high=2, low=3, close=4, volume=5, openinterest=-1,
        )
        cerebro.adddata(feed, name=os.path.splitext(os.path.basename(f))[0])
    cerebro.addstrategy(SmaCross, fast=a.fast, slow=a.slow, stake=a.stake, daily=not a.minutes)
    start = time.perf_counter()
    strat = cerebro.run()[0]
    seconds = time.perf_counter() - start
    with open(a.trades, "w") as out:
        out.write("time,symbol,side,quantity,price,commission\n")
        for row in strat.fills:
            out.write(",".join(repr(x) if isinstance(x, float) else str(x) for x in row) + "\n")
    print(json.dumps({
        "version": bt.__version__,
        "bars": bars,
        "seconds": seconds,
        "bars_per_s": bars / seconds,
        "final_equity": cerebro.broker.getvalue(),
        "fills": len(strat.fills),
    }))


if __name__ == "__main__":
    main()
