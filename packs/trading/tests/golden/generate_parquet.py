"""Writes the Parquet fixtures of tests/parquet.rs: the same 12 daily OHLCV bars as
prices.csv, in every `date` encoding the loader reads, plus one file with a bad row.

Recreate the venv (shared with generate_sentiment.py) and run:

    python3 -m venv /work/venvs/vader
    /work/venvs/vader/bin/pip install vaderSentiment==3.3.2 pyarrow==26.0.1
    /work/venvs/vader/bin/python packs/trading/tests/golden/generate_parquet.py

Files (pyarrow's defaults unless noted: Snappy pages, format 2.6):
- prices_ns_utc.parquet: timestamp[ns, tz=UTC] (what pandas writes for a UTC DatetimeIndex),
  float64 prices, int64 volume, with a pandas-style `__index_level_0__` column to ignore;
- prices_us_naive.parquet: timestamp[us] without a time zone, float32 volume, uncompressed;
- prices_ms_tz.parquet: timestamp[ms, tz=America/New_York] (stored as UTC), int32 volume;
- prices_date32.parquet: date32 dates;
- prices_string.parquet: dates as `YYYY-MM-DD` strings, upper-case column names;
- bad_high.parquet: row 3's high is below its close;
- no_volume.parquet: no `volume` column.
"""

import datetime as dt
import pathlib

import pyarrow as pa
import pyarrow.parquet as pq

HERE = pathlib.Path(__file__).parent

DAYS = [dt.date(2026, 1, 5) + dt.timedelta(days=i) for i in range(12)]
OPEN = [100.0 + 0.5 * i for i in range(12)]
CLOSE = [o + (0.75 if i % 3 else -0.25) for i, o in enumerate(OPEN)]
HIGH = [max(o, c) + 0.5 for o, c in zip(OPEN, CLOSE)]
LOW = [min(o, c) - 0.5 for o, c in zip(OPEN, CLOSE)]
VOLUME = [1000 + 10 * i for i in range(12)]


def midnight(d):
    return dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc)


def table(date_array, volume_type=pa.int64(), names=("date", "open", "high", "low", "close", "volume"), high=HIGH):
    return pa.table(
        [
            date_array,
            pa.array(OPEN, pa.float64()),
            pa.array(high, pa.float64()),
            pa.array(LOW, pa.float64()),
            pa.array(CLOSE, pa.float64()),
            pa.array(VOLUME, volume_type),
        ],
        names=list(names),
    )


def main():
    lines = ["date,open,high,low,close,volume"]
    for d, o, h, l, c, v in zip(DAYS, OPEN, HIGH, LOW, CLOSE, VOLUME):
        lines.append(f"{d.isoformat()},{o!r},{h!r},{l!r},{c!r},{v}")
    (HERE / "prices.csv").write_text("\n".join(lines) + "\n")

    stamps = [midnight(d) for d in DAYS]
    t = table(pa.array(stamps, pa.timestamp("ns", tz="UTC")))
    t = t.append_column("__index_level_0__", pa.array(range(12), pa.int64()))
    pq.write_table(t, HERE / "prices_ns_utc.parquet")

    naive = [s.replace(tzinfo=None) for s in stamps]
    pq.write_table(
        table(pa.array(naive, pa.timestamp("us")), pa.float32()),
        HERE / "prices_us_naive.parquet",
        compression="none",
    )
    pq.write_table(
        table(pa.array(stamps, pa.timestamp("ms", tz="America/New_York")), pa.int32()),
        HERE / "prices_ms_tz.parquet",
    )
    pq.write_table(table(pa.array(DAYS, pa.date32())), HERE / "prices_date32.parquet")
    pq.write_table(
        table(
            pa.array([d.isoformat() for d in DAYS], pa.string()),
            names=("Date", "Open", "High", "Low", "Close", "Volume"),
        ),
        HERE / "prices_string.parquet",
    )
    bad = list(HIGH)
    bad[2] = CLOSE[2] - 1.0
    pq.write_table(table(pa.array(DAYS, pa.date32()), high=bad), HERE / "bad_high.parquet")
    no_volume = table(pa.array(DAYS, pa.date32())).drop_columns(["volume"])
    pq.write_table(no_volume, HERE / "no_volume.parquet")
    print("wrote prices.csv and 7 Parquet files to", HERE)


if __name__ == "__main__":
    main()
