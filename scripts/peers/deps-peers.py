#!/usr/bin/env python3
"""Fixture repositories and peer runs for `scripts/peers/deps-vs-grimp-madge`.

Venv (recreate): python3 -m venv /work/venvs/grimp &&
  /work/venvs/grimp/bin/pip install grimp==3.20 pydeps==3.0.9
madge (recreate): npm install --prefix "$MADGE_DIR" madge@8.0.0 typescript@5.6.3

Subcommands (every output is JSON on stdout, progress on stderr):
  gen-python DIR --modules N --seed S   a package `genpkg` of N modules in sub-packages
  gen-ts DIR --files N --seed S         a TypeScript/JavaScript project under DIR/src
  grimp DIR                             grimp's modules and edges of `genpkg` in DIR
  madge-json MADGE_BIN DIR              madge's modules and edges of DIR (relative paths)
  compare CADRE_JSON PEER_JSON          module and edge set differences
  time N CMD...                         best-of-N whole-process wall time in seconds
"""

import json
import os
import random
import subprocess
import sys
import time


def gen_python(root, modules, seed):
    """Writes genpkg/ with sub-packages of ~20 modules; imports in every supported form."""
    rng = random.Random(seed)
    per_pkg = 20
    names = []  # (package, module)
    for i in range(modules):
        names.append((f"sub{i // per_pkg}", f"mod{i % per_pkg}"))
    pkgs = sorted({p for p, _ in names})
    os.makedirs(os.path.join(root, "genpkg"), exist_ok=True)
    with open(os.path.join(root, "genpkg", "__init__.py"), "w") as f:
        f.write('"""Generated package."""\n')
    for p in pkgs:
        os.makedirs(os.path.join(root, "genpkg", p), exist_ok=True)
        with open(os.path.join(root, "genpkg", p, "__init__.py"), "w") as f:
            f.write(f"from .mod0 import value as first\n")
    for idx, (p, m) in enumerate(names):
        lines = ['"""Generated module."""', "import os", "import json"]
        typed = []
        # Mostly imports of earlier modules (a DAG), a few of later ones (cycles).
        targets = set()
        for _ in range(rng.randint(1, 5)):
            if idx == 0:
                break
            if rng.random() < 0.03:
                j = rng.randrange(len(names))
            else:
                j = rng.randrange(max(0, idx - 60), idx)
            if j != idx:
                targets.add(j)
        for j in sorted(targets):
            tp, tm = names[j]
            form = rng.randrange(7)
            if form == 0:
                lines.append(f"import genpkg.{tp}.{tm}")
            elif form == 1:
                lines.append(f"from genpkg.{tp} import {tm}")
            elif form == 2:
                lines.append(f"from genpkg.{tp}.{tm} import value as v{j}")
            elif form == 3 and tp == p:
                lines.append(f"from . import {tm}")
            elif form == 3:
                lines.append(f"from ..{tp} import {tm}")
            elif form == 4:
                lines.append(f"from .{tm} import value as v{j}" if tp == p else f"from ..{tp}.{tm} import value as v{j}")
            elif form == 5:
                typed.append(f"    from genpkg.{tp}.{tm} import value as t{j}")
            else:
                lines.append(f"def load{j}():\n    import genpkg.{tp}.{tm} as lazy\n    return lazy")
        if typed:
            lines.append("from typing import TYPE_CHECKING")
            lines.append("if TYPE_CHECKING:")
            lines.extend(typed)
        lines.append("")
        lines.append("value = 1")
        for k in range(rng.randint(5, 40)):
            lines.append(f"def f{k}(x):\n    # step {k}\n    if x > {k}:\n        return x - {k}\n    return x + {k}")
        with open(os.path.join(root, "genpkg", p, f"{m}.py"), "w") as f:
            f.write("\n".join(lines) + "\n")
    print(json.dumps({"files": modules + len(pkgs) + 1}))


def gen_ts(root, files, seed):
    """Writes src/featK/fileI.{ts,tsx,js} with index.ts barrels; relative imports only."""
    rng = random.Random(seed)
    per_dir = 20
    names = []
    for i in range(files):
        ext = "js" if i % 10 == 7 else ("tsx" if i % 10 == 3 else "ts")
        names.append((f"feat{i // per_dir}", f"file{i % per_dir}", ext))
    dirs = sorted({d for d, _, _ in names})
    for d in dirs:
        os.makedirs(os.path.join(root, "src", d), exist_ok=True)
        with open(os.path.join(root, "src", d, "index.ts"), "w") as f:
            f.write("export * from './file0';\nexport { value as v1 } from './file1';\n")
    with open(os.path.join(root, "tsconfig.json"), "w") as f:
        f.write('{\n  // generated\n  "compilerOptions": { "jsx": "react", "allowJs": true, },\n}\n')
    for idx, (d, n, ext) in enumerate(names):
        out = []
        targets = set()
        for _ in range(rng.randint(1, 5)):
            if idx == 0:
                break
            j = rng.randrange(len(names)) if rng.random() < 0.03 else rng.randrange(max(0, idx - 60), idx)
            if j != idx:
                targets.add(j)
        for j in sorted(targets):
            td, tn, _ = names[j]
            spec = f"./{tn}" if td == d else f"../{td}/{tn}"
            form = rng.randrange(6)
            if ext == "js":
                out.append(f"const m{j} = require('{spec}');")
            elif form == 0:
                out.append(f"import {{ value as v{j} }} from '{spec}';")
            elif form == 1:
                out.append(f"import * as m{j} from '{spec}';")
            elif form == 2:
                out.append(f"import type {{ T as T{j} }} from '{spec}';")
            elif form == 3:
                out.append(f"export {{ value as e{j} }} from '{spec}';")
            elif form == 4:
                out.append(f"export const lazy{j} = () => import('{spec}');")
            else:
                out.append(f"import {{ value as w{j} }} from '../{td}';" if td != d else f"import '{spec}';")
        if ext == "js":
            out.append("const React = require('react');")
            out.append("module.exports = { value: 1 };")
        else:
            out.append("import React from 'react';")
            out.append("export type T = { n: number };")
            out.append("export const value = 1;")
        for k in range(rng.randint(5, 40)):
            out.append(f"// step {k}\nexport function f{k}(x{': number' if ext != 'js' else ''}) {{\n  return x > {k} ? x - {k} : x + {k};\n}}")
        if ext == "tsx":
            out.append("export const View = () => <div>{value}</div>;")
        with open(os.path.join(root, "src", d, f"{n}.{ext}"), "w") as f:
            f.write("\n".join(out) + "\n")
    print(json.dumps({"files": files + len(dirs)}))


def grimp_graph(root):
    sys.path.insert(0, root)
    import grimp  # noqa: PLC0415

    graph = grimp.build_graph("genpkg", cache_dir=None)
    modules = sorted(graph.modules)
    edges = sorted(
        [m, t] for m in modules for t in graph.find_modules_directly_imported_by(m)
    )
    print(json.dumps({"peer": "grimp", "version": grimp.__version__ if hasattr(grimp, "__version__") else "", "modules": modules, "edges": edges}))


def madge_json(madge_bin, root):
    out = subprocess.run(
        [madge_bin, "--json", "--extensions", "ts,tsx,js,jsx", "--ts-config", "tsconfig.json", "src"],
        cwd=root, capture_output=True, text=True, check=True,
    ).stdout
    tree = json.loads(out)
    modules = sorted("src/" + k for k in tree)
    edges = sorted(["src/" + k, "src/" + v] for k, vs in tree.items() for v in vs)
    print(json.dumps({"peer": "madge", "modules": modules, "edges": edges}))


def compare(cadre_path, peer_path):
    cadre = json.load(open(cadre_path))
    peer = json.load(open(peer_path))
    cm = {m["id"] for m in cadre["modules"] if not m["external"]}
    ce = {(e["from"], e["to"]) for e in cadre["edges"] if e["from"] in cm and e["to"] in cm}
    kinds = {(e["from"], e["to"]): e["kind"] for e in cadre["edges"]}
    pm = set(peer["modules"])
    pe = {tuple(e) for e in peer["edges"]}
    only_cadre_e = sorted(ce - pe)
    only_peer_e = sorted(pe - ce)
    result = {
        "peer": peer["peer"],
        "modules": [len(cm), len(pm)],
        "edges": [len(ce), len(pe)],
        "modules_only_cadre": sorted(cm - pm)[:10],
        "modules_only_peer": sorted(pm - cm)[:10],
        "edges_only_cadre": len(only_cadre_e),
        "edges_only_cadre_by_kind": {k: sum(1 for e in only_cadre_e if kinds.get(e) == k) for k in ("runtime", "type-only", "dynamic")},
        "edges_only_peer": len(only_peer_e),
        "examples_only_cadre": only_cadre_e[:5],
        "examples_only_peer": only_peer_e[:5],
    }
    print(json.dumps(result))


def best_time(n, cmd):
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        best = min(best, time.perf_counter() - t)
    print(json.dumps({"seconds": best}))


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    cmd = args[0]
    if cmd in ("gen-python", "gen-ts"):
        root = args[1]
        n = int(args[args.index("--modules" if cmd == "gen-python" else "--files") + 1])
        seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 7
        (gen_python if cmd == "gen-python" else gen_ts)(root, n, seed)
    elif cmd == "grimp":
        grimp_graph(args[1])
    elif cmd == "madge-json":
        madge_json(args[1], args[2])
    elif cmd == "compare":
        compare(args[1], args[2])
    elif cmd == "time":
        best_time(int(args[1]), args[2:])
    else:
        sys.exit(f"unknown subcommand {cmd}\n{__doc__}")


if __name__ == "__main__":
    main()
