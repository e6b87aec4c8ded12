#!/usr/bin/env python3
"""Fit the rational approximation of erfcx(a) = erfc(a)·e^(a²) used by the batch pricing
kernel (packs/trading/src/pricing/vmath.rs, `ERFCX_P` and `ERFCX_Q`).

    erfcx(a) ≈ P(a) / Q(a),  0 <= a <= 27,  deg P = n, deg Q = n + 1, Q(0) = 1

The degree of Q exceeds P's by one, so the fit follows erfcx's 1/(a·√π) tail out to where
erfc underflows (a ≈ 26.5). The coefficients come out positive, so Horner's rule in `a >= 0`
adds positive terms only and loses nothing to cancellation.

Method: linearised least squares on the relative error (Sanathanan–Koerner iteration: each
step minimises |P - f·Q| / (f·Q_prev) at 400 points crowded towards 0, a = 27·s², s on
Chebyshev nodes), then Lawson reweighting towards the minimax error. mpmath at 50 digits.
Prints the Rust constants and the largest relative error of the double-precision evaluation
(Horner in f64, as the kernel does) on 20,000 seeded points.

Venv (recreate with):
    python3 -m venv /work/venvs/mpmath && /work/venvs/mpmath/bin/pip install mpmath==1.4.1
Run:
    /work/venvs/mpmath/bin/python scripts/fit/erfc_rational.py 9
"""
import random
import sys

import mpmath as mp

mp.mp.dps = 50
A = mp.mpf(27)


def erfcx(a):
    return mp.erfc(a) * mp.exp(a * a)


def nodes(m):
    out = []
    for k in range(m):
        s = (1 - mp.cos(mp.pi * (k + mp.mpf(0.5)) / m)) / 2
        out.append(A * s * s)
    return out


def fit(n, m=400, sk_steps=12, lawson_steps=8):
    xs = nodes(m)
    fs = [erfcx(x) for x in xs]
    qprev = [mp.mpf(1)] * m
    w = [mp.mpf(1)] * m
    worst = None
    for step in range(sk_steps + lawson_steps):
        rows, rhs = [], []
        for x, fx, qp, wi in zip(xs, fs, qprev, w):
            s = wi / (fx * qp)
            # P(x) - f·Q(x) with q0 = 1; unknowns p0..pn, q1..q(n+1)
            rows.append([s * x**j for j in range(n + 1)] + [-s * fx * x**j for j in range(1, n + 2)])
            rhs.append(s * fx)
        sol, _ = mp.qr_solve(mp.matrix(rows), mp.matrix(rhs))
        p = [sol[j] for j in range(n + 1)]
        q = [mp.mpf(1)] + [sol[n + 1 + j] for j in range(n + 1)]
        qprev = [mp.polyval(q[::-1], x) for x in xs]
        errs = [abs(mp.polyval(p[::-1], x) / qv / fx - 1) for x, qv, fx in zip(xs, qprev, fs)]
        worst = max(errs)
        if step >= sk_steps:
            w = [wi * mp.sqrt(e / worst) + mp.mpf(10) ** -30 for wi, e in zip(w, errs)]
    return p, q, worst


def horner(coeffs, a):
    v = coeffs[-1]
    for c in reversed(coeffs[:-1]):
        v = c + a * v
    return v


def double_error(p, q, count=20000):
    pf = [float(c) for c in p]
    qf = [float(c) for c in q]
    rng = random.Random(1)
    pts = [27 * rng.random() ** 2 for _ in range(count)] + [0.0, 1e-8, 0.5, 1.0, 2.0, 5.0, 26.5]
    return max(float(abs((horner(pf, a) / horner(qf, a)) / erfcx(mp.mpf(a)) - 1)) for a in pts)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    p, q, worst = fit(n)
    print(f"// erfcx(a) = P(a)/Q(a) on [0, 27], degrees {n}/{n + 1}: fitted relative error "
          f"{mp.nstr(worst, 3)}, in f64 {double_error(p, q):.3g}")
    for name, cs in (("ERFCX_P", p), ("ERFCX_Q", q)):
        print(f"const {name}: [f64; {len(cs)}] = [")
        for c in cs:
            print(f"    {mp.nstr(c, 21, strip_zeros=False)},")
        print("];")


if __name__ == "__main__":
    main()
