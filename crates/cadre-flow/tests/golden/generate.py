#!/usr/bin/env python3
"""Reference critical-path figures for cadre-flow's DAG scheduler, computed with networkx.

    python3 -m pip install "networkx>=3,<4"
    python3 crates/cadre-flow/tests/golden/generate.py > crates/cadre-flow/tests/golden/dags.json

Conventions (the same as cadre_flow::dag):
- weights sit on tasks (nodes); an edge a -> b means b depends on a (b starts after a ends);
- the makespan is the heaviest chain's total node weight (networkx: dag_longest_path_length
  on a graph whose edge u->v weighs w(u), plus a sink so the last task's weight counts);
- earliest start of a task = heaviest chain ending just before it; latest start = makespan -
  heaviest chain starting at it; slack = latest - earliest.
Seeded: the same file every run.
"""
import json
import random

import networkx as nx


def one(rng, n):
    weights = [rng.randint(0, 20) for _ in range(n)]
    edges = sorted({(a, b) for a, b in ((rng.randrange(n), rng.randrange(n)) for _ in range(rng.randint(0, 3 * n))) if a < b})
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    for a, b in edges:
        g.add_edge(a, b, w=weights[a])
    sink = n
    for v in range(n):
        g.add_edge(v, sink, w=weights[v])
    makespan = nx.dag_longest_path_length(g, weight="w", default_weight=0)
    order = list(nx.topological_sort(g))
    earliest = {v: 0 for v in g}
    for v in order:
        for s in g.successors(v):
            earliest[s] = max(earliest[s], earliest[v] + g[v][s]["w"])
    tail = {v: 0 for v in g}
    for v in reversed(order):
        for s in g.successors(v):
            tail[v] = max(tail[v], g[v][s]["w"] + tail[s])
    slack = [makespan - tail[v] - earliest[v] for v in range(n)]
    return {
        "n": n,
        "weights": weights,
        "edges": edges,
        "makespan": makespan,
        "earliest_start": [earliest[v] for v in range(n)],
        "slack": slack,
    }


def main():
    rng = random.Random(20261125)
    cases = [one(rng, rng.randint(1, 40)) for _ in range(60)]
    print(json.dumps({"generator": f"networkx {nx.__version__}", "cases": cases}, indent=1))


if __name__ == "__main__":
    main()
