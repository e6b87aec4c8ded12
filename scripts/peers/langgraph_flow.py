#!/usr/bin/env python3
"""Durable 3-step workflows in LangGraph with a checkpointer (SqliteSaver or the in-memory saver).

Peer figure for `cadre bench flow`: a StateGraph `a -> b -> c` over a TypedDict state
(an int `n` and a list `trail` with an `operator.add` reducer). Each node does trivial work:
`n + 1` and appends its own name to `trail`. Every workflow is one `graph.invoke` on its own
`thread_id`, so the checkpointer stores a checkpoint per super-step: the input (step -1), the
`__start__` super-step that applies it (step 0), then one after each of a, b and c (steps 1-3),
5 in all, plus each task's writes. Only a, b and c are counted as steps (3 per workflow).

Savers:
  sqlite  SqliteSaver on a fresh file in a temporary directory, over one sqlite3 connection
          opened with check_same_thread=False. SqliteSaver takes a lock around every statement
          and commit, so sharing it across threads is safe (its docs say it "does not scale to
          multiple threads": the lock serialises them, it does not break them).
  memory  InMemorySaver (formerly MemorySaver).

Concurrency C: 1 runs the workflows one after another on the main thread; C > 1 spreads them
over C threads of a concurrent.futures.ThreadPoolExecutor, each thread invoking its share one
workflow at a time, so at most C workflows are in flight.

An unmeasured warm-up runs first (on its own thread ids). After the measured phase every
final state is checked (n == 3, trail == ["a", "b", "c"]), and so is every measured thread's
checkpoint through graph.get_state; the first thread's checkpoint history is counted.

Prints ONE JSON object on stdout:
  {"peer":"langgraph","version":...,"saver":"sqlite","durability":"async","workflows":N,
   "steps":3N,"concurrency":C,"seconds":...,"steps_per_s":...,"workflows_per_s":...,
   "p50_ms":...,"p99_ms":...,"checkpoints_per_workflow":5}
Latency is per workflow (one graph.invoke), nearest-rank percentiles. Everything else goes to
stderr. The workload has no randomness (sequential thread ids, fixed input); LangGraph itself
draws ids and version suffixes, which is part of what is measured.

Requires:  pip install "langgraph>=1.0,<2" "langgraph-checkpoint-sqlite>=3,<4"
"""

import argparse
import json
import logging
import math
import operator
import platform
import sqlite3
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, TypedDict

try:
    from langgraph.graph import END, START, StateGraph
except ImportError:  # pragma: no cover - reported in main()
    StateGraph = None

log = logging.getLogger("langgraph_flow")

NODES = ("a", "b", "c")
EXPECTED_TRAIL = list(NODES)
INSTALL_HINT = 'pip install "langgraph>=1.0,<2" "langgraph-checkpoint-sqlite>=3,<4"'


class FlowState(TypedDict):
    n: int
    trail: Annotated[list[str], operator.add]


def step(name: str):
    """A node that adds one to `n` and appends its own name to `trail`."""

    def node(state: FlowState) -> dict:
        return {"n": state["n"] + 1, "trail": [name]}

    node.__name__ = name
    return node


def build_graph(checkpointer):
    builder = StateGraph(FlowState)
    for name in NODES:
        builder.add_node(name, step(name))
    builder.add_edge(START, NODES[0])
    for prev, nxt in zip(NODES, NODES[1:]):
        builder.add_edge(prev, nxt)
    builder.add_edge(NODES[-1], END)
    return builder.compile(checkpointer=checkpointer)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Measure LangGraph 3-node workflows (a -> b -> c) with a checkpoint per step.",
    )
    p.add_argument("--workflows", type=int, default=2000, help="measured workflows (default 2000)")
    p.add_argument(
        "--saver",
        choices=("sqlite", "memory"),
        default="sqlite",
        help="checkpointer: SqliteSaver on a temp file, or InMemorySaver (default sqlite)",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="workflows in flight: 1 = sequential, C > 1 = C threads (default 1)",
    )
    p.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="unmeasured warm-up workflows (default: min(50, workflows))",
    )
    p.add_argument(
        "--durability",
        choices=("async", "sync", "exit"),
        default="async",
        help="LangGraph durability mode passed to invoke (default async, LangGraph's own default: "
        "each step's checkpoint is written while the next step runs, all before invoke returns; "
        "sync: written before the next step starts; exit: only when the run ends)",
    )
    p.add_argument(
        "--synchronous",
        choices=("default", "off", "normal", "full"),
        default="default",
        help="sqlite saver only: PRAGMA synchronous on the connection (default: leave SQLite's "
        "default, FULL; SqliteSaver itself switches the file to WAL)",
    )
    args = p.parse_args(argv)
    if args.workflows < 1:
        p.error("--workflows must be >= 1")
    if args.concurrency < 1:
        p.error("--concurrency must be >= 1")
    if args.warmup is None:
        args.warmup = min(50, args.workflows)
    if args.warmup < 0:
        p.error("--warmup must be >= 0")
    if args.saver != "sqlite" and args.synchronous != "default":
        p.error("--synchronous applies to --saver sqlite only")
    return args


def langgraph_version() -> str:
    from importlib.metadata import version

    return version("langgraph")


def percentile_ms(sorted_ns: list[int], q: float) -> float:
    """Nearest-rank percentile of sorted nanosecond samples, in milliseconds."""
    if not sorted_ns:
        return 0.0
    rank = max(1, math.ceil(q / 100.0 * len(sorted_ns)))
    return sorted_ns[rank - 1] / 1e6


def split(total: int, parts: int) -> list[int]:
    """Spread `total` over `parts` workers as evenly as possible (deterministic)."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def config_for(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}}


def check_final(thread_id: str, values) -> None:
    if not isinstance(values, dict) or values.get("n") != len(NODES) or values.get("trail") != EXPECTED_TRAIL:
        raise AssertionError(f"workflow {thread_id}: unexpected final state {values!r}")


def run_phase(graph, prefix: str, total: int, concurrency: int, durability: str) -> tuple[float, list[int], list[str]]:
    """Runs `total` workflows on thread ids `prefix-0..`; returns (seconds, latencies ns, thread ids)."""
    thread_ids = [f"{prefix}-{i}" for i in range(total)]
    latencies = [0] * total
    clock = time.perf_counter_ns

    def worker(start: int, count: int) -> None:
        for i in range(start, start + count):
            tid = thread_ids[i]
            t0 = clock()
            out = graph.invoke({"n": 0, "trail": []}, config_for(tid), durability=durability)
            latencies[i] = clock() - t0
            check_final(tid, out)

    t0 = time.perf_counter()
    if concurrency == 1:
        worker(0, total)
    else:
        counts = split(total, concurrency)
        starts, acc = [], 0
        for c in counts:
            starts.append(acc)
            acc += c
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="flow") as pool:
            futures = [pool.submit(worker, s, c) for s, c in zip(starts, counts) if c > 0]
            for f in futures:
                f.result()  # re-raises a worker's exception
    seconds = time.perf_counter() - t0
    return seconds, latencies, thread_ids


def verify_checkpoints(graph, checkpointer, thread_ids: list[str]) -> int:
    """Every thread's latest checkpoint holds the final state; returns the first thread's checkpoint count."""
    for tid in thread_ids:
        snap = graph.get_state(config_for(tid))
        check_final(tid, snap.values)
        if snap.next:
            raise AssertionError(f"workflow {tid}: checkpoint still has pending nodes {snap.next!r}")
    history = list(checkpointer.list(config_for(thread_ids[0])))
    # At least one per node (a, b, c) plus the input; LangGraph 1.x stores 5 (input, __start__, a, b, c).
    if len(history) < len(NODES) + 1:
        raise AssertionError(f"workflow {thread_ids[0]}: only {len(history)} checkpoints stored")
    return len(history)


def run(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="langgraph-flow-") as tmp:
        conn = None
        if args.saver == "sqlite":
            from langgraph.checkpoint.sqlite import SqliteSaver

            db = Path(tmp) / "checkpoints.sqlite"
            conn = sqlite3.connect(str(db), check_same_thread=False)
            if args.synchronous != "default":
                conn.execute(f"PRAGMA synchronous = {args.synchronous.upper()}")
            checkpointer = SqliteSaver(conn)
            checkpointer.setup()
            log.info("SqliteSaver on %s (journal_mode %s, synchronous %s)", db,
                     conn.execute("PRAGMA journal_mode").fetchone()[0],
                     conn.execute("PRAGMA synchronous").fetchone()[0])
        else:
            try:
                from langgraph.checkpoint.memory import InMemorySaver
            except ImportError:  # older langgraph-checkpoint
                from langgraph.checkpoint.memory import MemorySaver as InMemorySaver
            checkpointer = InMemorySaver()
            log.info("InMemorySaver")
        try:
            graph = build_graph(checkpointer)
            if args.warmup:
                log.info("warm-up: %d workflows, concurrency %d", args.warmup, args.concurrency)
                run_phase(graph, "warmup", args.warmup, args.concurrency, args.durability)
            log.info("measuring: %d workflows, concurrency %d, durability %s",
                     args.workflows, args.concurrency, args.durability)
            seconds, lat, thread_ids = run_phase(graph, "wf", args.workflows, args.concurrency, args.durability)
            log.info("checking %d final states and checkpoints", len(thread_ids))
            per_workflow = verify_checkpoints(graph, checkpointer, thread_ids)
            if conn is not None:
                (threads,) = conn.execute("SELECT COUNT(DISTINCT thread_id) FROM checkpoints").fetchone()
                if threads != args.warmup + args.workflows:
                    raise AssertionError(f"{threads} threads in the database, expected {args.warmup + args.workflows}")
        finally:
            if conn is not None:
                conn.close()

    lat.sort()
    steps = len(NODES) * args.workflows
    return {
        "peer": "langgraph",
        "version": langgraph_version(),
        "saver": args.saver,
        "durability": args.durability,
        "workflows": args.workflows,
        "steps": steps,
        "concurrency": args.concurrency,
        "seconds": round(seconds, 6),
        "steps_per_s": round(steps / seconds, 1),
        "workflows_per_s": round(args.workflows / seconds, 1),
        "p50_ms": round(percentile_ms(lat, 50), 3),
        "p99_ms": round(percentile_ms(lat, 99), 3),
        "checkpoints_per_workflow": per_workflow,
    }


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s: %(message)s")
    log.setLevel(logging.INFO)
    args = parse_args(argv)
    if StateGraph is None:
        print(f"langgraph_flow: langgraph is not installed ({INSTALL_HINT})", file=sys.stderr)
        return 2
    if args.saver == "sqlite":
        try:
            import langgraph.checkpoint.sqlite  # noqa: F401
        except ImportError:
            print(f"langgraph_flow: langgraph-checkpoint-sqlite is not installed ({INSTALL_HINT})", file=sys.stderr)
            return 2
    log.info("langgraph %s on Python %s (%s)", langgraph_version(), platform.python_version(), sys.executable)
    result = run(args)
    log.info("%.0f steps/s (%.0f workflows/s), p50 %.3f ms, p99 %.3f ms",
             result["steps_per_s"], result["workflows_per_s"], result["p50_ms"], result["p99_ms"])
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
