#!/usr/bin/env python3
"""In-process request/response round trips through autogen-core's SingleThreadedAgentRuntime.

Peer figure for `cadre bench runtime`: one RoutedAgent echo agent, requests sent with
`runtime.send_message(...)` and awaited for the reply. A warm-up phase is run first and
not measured. Then N round trips are spread over C worker coroutines (asyncio.gather);
each worker sends sequentially, so at most C requests are in flight.

Prints ONE JSON object on stdout:
  {"peer":"autogen-core","version":...,"round_trips":N,"concurrency":C,
   "seconds":...,"per_s":...,"p50_us":...,"p99_us":...}
Everything else goes to stderr.

The workload has no randomness: request ids are sequential and the payload is fixed.
(autogen-core itself draws a uuid4 message id per send; that is part of what is measured.)

Requires autogen-core 0.7:  pip install "autogen-core>=0.7,<0.8"
"""

import argparse
import asyncio
import json
import logging
import math
import platform
import sys
import time
from dataclasses import dataclass

try:
    import autogen_core
    from autogen_core import (
        AgentId,
        MessageContext,
        RoutedAgent,
        SingleThreadedAgentRuntime,
        message_handler,
    )
except ImportError:  # pragma: no cover - reported in main()
    autogen_core = None

log = logging.getLogger("autogen_echo")


@dataclass
class EchoRequest:
    id: int
    text: str


@dataclass
class EchoResponse:
    id: int
    text: str


if autogen_core is not None:

    class EchoAgent(RoutedAgent):
        """Replies to each EchoRequest with an EchoResponse carrying the same id and text."""

        def __init__(self) -> None:
            super().__init__("echo")

        @message_handler
        async def on_echo(self, message: EchoRequest, ctx: MessageContext) -> EchoResponse:
            return EchoResponse(id=message.id, text=message.text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Measure autogen-core in-process request/response round trips (echo agent).",
    )
    p.add_argument("--round-trips", type=int, default=20000, help="measured round trips (default 20000)")
    p.add_argument("--concurrency", type=int, default=1, help="requests in flight (default 1)")
    p.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="unmeasured warm-up round trips (default: min(2000, round trips))",
    )
    p.add_argument("--payload", default="ping", help="string carried by each request (default 'ping')")
    args = p.parse_args(argv)
    if args.round_trips < 1:
        p.error("--round-trips must be >= 1")
    if args.concurrency < 1:
        p.error("--concurrency must be >= 1")
    if args.warmup is None:
        args.warmup = min(2000, args.round_trips)
    if args.warmup < 0:
        p.error("--warmup must be >= 0")
    return args


def autogen_version() -> str:
    v = getattr(autogen_core, "__version__", None)
    if v:
        return str(v)
    from importlib.metadata import version

    return version("autogen-core")


def percentile_us(sorted_ns: list[int], q: float) -> float:
    """Nearest-rank percentile of sorted nanosecond samples, in microseconds."""
    if not sorted_ns:
        return 0.0
    rank = max(1, math.ceil(q / 100.0 * len(sorted_ns)))
    return sorted_ns[rank - 1] / 1000.0


def split(total: int, parts: int) -> list[int]:
    """Spread `total` over `parts` workers as evenly as possible (deterministic)."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


async def run(args: argparse.Namespace) -> dict:
    runtime = SingleThreadedAgentRuntime()
    await EchoAgent.register(runtime, "echo", lambda: EchoAgent())
    recipient = AgentId("echo", "default")
    payload = args.payload
    runtime.start()

    async def worker(start_id: int, count: int, latencies: list[int] | None) -> None:
        clock = time.perf_counter_ns
        for i in range(start_id, start_id + count):
            t0 = clock()
            reply = await runtime.send_message(EchoRequest(id=i, text=payload), recipient)
            t1 = clock()
            if reply.id != i:
                raise RuntimeError(f"reply id {reply.id} != request id {i}")
            if latencies is not None:
                latencies.append(t1 - t0)

    async def phase(total: int, measure: bool) -> tuple[float, list[int]]:
        counts = split(total, args.concurrency)
        per_worker: list[list[int]] = [[] for _ in counts]
        starts, acc = [], 0
        for c in counts:
            starts.append(acc)
            acc += c
        t0 = time.perf_counter()
        await asyncio.gather(
            *(
                worker(s, c, per_worker[w] if measure else None)
                for w, (s, c) in enumerate(zip(starts, counts))
                if c > 0
            )
        )
        elapsed = time.perf_counter() - t0
        return elapsed, [x for lst in per_worker for x in lst]

    try:
        if args.warmup:
            log.info("warm-up: %d round trips, concurrency %d", args.warmup, args.concurrency)
            await phase(args.warmup, measure=False)
        log.info("measuring: %d round trips, concurrency %d", args.round_trips, args.concurrency)
        seconds, lat = await phase(args.round_trips, measure=True)
    finally:
        await runtime.stop_when_idle()
        await runtime.close()

    lat.sort()
    assert len(lat) == args.round_trips
    return {
        "peer": "autogen-core",
        "version": autogen_version(),
        "round_trips": args.round_trips,
        "concurrency": args.concurrency,
        "seconds": round(seconds, 6),
        "per_s": round(args.round_trips / seconds, 1),
        "p50_us": round(percentile_us(lat, 50), 1),
        "p99_us": round(percentile_us(lat, 99), 1),
    }


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s: %(message)s")
    log.setLevel(logging.INFO)
    args = parse_args(argv)
    if autogen_core is None:
        print('autogen_echo: autogen-core is not installed (pip install "autogen-core>=0.7,<0.8")', file=sys.stderr)
        return 2
    version = autogen_version()
    log.info("autogen-core %s on Python %s (%s)", version, platform.python_version(), sys.executable)
    result = asyncio.run(run(args))
    log.info("%.0f round trips/s, p50 %.1f us, p99 %.1f us", result["per_s"], result["p50_us"], result["p99_us"])
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
