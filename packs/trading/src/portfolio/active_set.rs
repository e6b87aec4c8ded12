//! An exact solver for the optimiser's common problems: minimise `½xᵀΣx` subject to a few
//! equality rows `Ex = e` (the budget, a return target, max Sharpe's excess return) and bounds
//! `l <= x <= u`, with the covariance in its factored form `Σ = diag(d) + FᵀF`, `d > 0`, when
//! `F` has fewer rows than assets, else as the dense matrix.
//!
//! It is block principal pivoting (Júdice and Pires, 1994) on the bounds: guess which weights
//! sit at a bound, solve the equality-constrained problem over the others exactly, move every
//! weight that left its bounds to the bound and every bound weight whose multiplier has the
//! wrong sign back in, repeat. A guess that does not reduce the number of wrong weights gets a
//! few more full exchanges and then single ones (Murty's rule, which cannot cycle). Each
//! solve goes through the Woodbury identity, so its cost is that of an `m × m` Cholesky
//! factorisation (`m`, the factor's rows, is the number of return periods), kept up to date
//! by rank-one terms as weights come and go, instead of an interior-point method's
//! factorisation of an `(n + m)`-sized system at each of its iterations. With the dense matrix
//! each step factors the free weights' block `Σ_FF` by Cholesky (a singular one, e.g. a sample
//! covariance of fewer periods than assets, ends the attempt).
//!
//! The answer is checked against the full problem's optimality (KKT) conditions before it is
//! returned: stationarity over the free weights, the equality rows, the bounds and the sign
//! of every bound's multiplier, all to tolerances far below the interior-point solver's. A
//! problem it cannot settle (a singular system, too many exchanges, a check that fails) gives
//! `None`, and the optimiser solves it with Clarabel as before.

use crate::simd;

/// Exchanges before giving up.
const MAX_ITERATIONS: usize = 200;
/// Full exchanges allowed without progress before single ones (Júdice and Pires use 3).
const BACKUPS: usize = 3;
/// A free weight beyond its bound by more than this (relative to the largest weight) leaves.
const X_TOLERANCE: f64 = 1e-12;
/// A bound multiplier of the wrong sign by more than this (relative to the gradient's scale)
/// frees its weight; the final check allows as much stationarity error over the free weights.
const G_TOLERANCE: f64 = 1e-10;

/// The problem: `Σ = diag(d) + FᵀF` with `F`'s columns given asset by asset (`ft[i·m..]` is
/// asset `i`'s column), or the dense `Σ` (`dense`, row by row; then `d`, `ft` and `m` are
/// unused), `p <= 2` equality rows and the bounds (`lower` finite, `upper` may be `+inf`).
pub(super) struct Problem<'a> {
    pub(super) d: &'a [f64],
    pub(super) ft: &'a [f64],
    pub(super) m: usize,
    pub(super) dense: Option<&'a [f64]>,
    pub(super) rows: Vec<Vec<f64>>,
    pub(super) rhs: Vec<f64>,
    pub(super) lower: &'a [f64],
    pub(super) upper: &'a [f64],
}

/// A solution: the weights and the equality rows' multipliers (`Σx + Eᵀλ` is the bounds'
/// multiplier, zero over the free weights).
pub(super) struct Solved {
    pub(super) x: Vec<f64>,
    pub(super) lambda: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Free,
    Lower,
    Upper,
}

impl Problem<'_> {
    /// Solves from `warm` (the weights guessed free; every weight when `None`), or `None` when
    /// the pivoting does not settle to a verified optimum.
    pub(super) fn solve(&self, warm: Option<&[usize]>) -> Option<Solved> {
        if simd::avx2_fma() {
            // SAFETY: `solve_avx2` only enables AVX2 and FMA, which the CPU has (checked
            // above).
            #[allow(unsafe_code)]
            unsafe {
                self.solve_avx2(warm)
            }
        } else {
            self.solve_with(warm)
        }
    }

    /// [`solve_with`](Self::solve_with) compiled for AVX2: the rank-one updates, the Cholesky
    /// factorisation and the dot products run four lanes wide.
    #[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
    fn solve_avx2(&self, warm: Option<&[usize]>) -> Option<Solved> {
        self.solve_with(warm)
    }

    #[inline(always)]
    fn solve_with(&self, warm: Option<&[usize]>) -> Option<Solved> {
        let (n, p) = (self.lower.len(), self.rows.len());
        let factored_ok = self.d.len() == n && self.d.iter().all(|&d| d > 0.0 && d.is_finite());
        if n == 0 || p == 0 || p > 2 || (self.dense.is_none() && !factored_ok) {
            return None;
        }
        let mut state = vec![State::Free; n];
        if let Some(warm) = warm {
            state.fill(State::Lower);
            for &i in warm {
                state[i] = State::Free;
            }
        }
        for (s, lower) in state.iter_mut().zip(self.lower) {
            if !lower.is_finite() {
                *s = State::Free;
            }
        }
        let mut gram = Gram::new(self.m);
        let mut x = vec![0.0; n];
        let (mut best, mut backups) = (usize::MAX, BACKUPS);
        // Single exchanges once full ones stop making progress, or once a full exchange left
        // a system that cannot be solved (e.g. every weight at a bound, so the equality rows
        // have nothing to move): then the exchange is undone and single ones take over.
        let mut single = false;
        let mut previous: Option<Vec<State>> = None;
        for _ in 0..MAX_ITERATIONS {
            let solved = match gram.sync(self, &state) {
                Some(()) => self.solve_free(&gram, &state, &mut x),
                None => None,
            };
            let Some(lambda) = solved else {
                gram.reset();
                match previous.take() {
                    Some(before) if !single => {
                        state = before;
                        single = true;
                        continue;
                    }
                    _ => return None,
                }
            };
            let (g, g_scale) = self.gradient(&x, &lambda);
            let x_scale = x.iter().fold(0.0_f64, |a, v| a.max(v.abs())).max(1e-300);
            let (tol_x, tol_g) = (X_TOLERANCE * x_scale, G_TOLERANCE * g_scale);
            let wrong: Vec<usize> = (0..n)
                .filter(|&i| match state[i] {
                    State::Free => x[i] < self.lower[i] - tol_x || x[i] > self.upper[i] + tol_x,
                    State::Lower => g[i] < -tol_g,
                    State::Upper => g[i] > tol_g,
                })
                .collect();
            if wrong.is_empty() {
                return self.verified(x, lambda, &state, &g, tol_g);
            }
            previous = Some(state.clone());
            let flip = |i: usize, state: &mut [State]| {
                state[i] = match state[i] {
                    State::Free if x[i] < self.lower[i] => State::Lower,
                    State::Free => State::Upper,
                    State::Lower | State::Upper => State::Free,
                };
            };
            if !single && wrong.len() < best {
                (best, backups) = (wrong.len(), BACKUPS);
                wrong.iter().for_each(|&i| flip(i, &mut state));
            } else if !single && backups > 0 {
                backups -= 1;
                wrong.iter().for_each(|&i| flip(i, &mut state));
            } else {
                // Murty's rule (the largest index), preferring a weight that enters: one
                // leaving the last free weights would leave the rows nothing to move.
                single = true;
                let entering = wrong.iter().rev().find(|&&i| state[i] != State::Free);
                flip(*entering.or(wrong.last())?, &mut state);
            }
        }
        None
    }

    /// Sets the bound weights to their bounds and solves the equality-constrained problem over
    /// the free ones into `x`; returns the rows' multipliers.
    #[inline(always)]
    fn solve_free(&self, gram: &Gram, state: &[State], x: &mut [f64]) -> Option<Vec<f64>> {
        let n = self.lower.len();
        let (m, p) = (self.m, self.rows.len());
        // The bound weights' factor sum `F_B·x_B` and what they use of each row.
        let mut fb = vec![0.0; m];
        let mut rhs = self.rhs.clone();
        for i in 0..n {
            let v = match state[i] {
                State::Free => continue,
                State::Lower => self.lower[i],
                State::Upper => self.upper[i],
            };
            x[i] = v;
            if v != 0.0 && self.dense.is_none() {
                axpy(v, self.col(i), &mut fb);
                for (r, row) in self.rows.iter().enumerate() {
                    rhs[r] -= row[i] * v;
                }
            }
        }
        // z = Q_FF⁻¹·(−F_Fᵀ·fb) and Y_r = Q_FF⁻¹·E_r,F, then λ from E_F·(z − Yλ) = rhs.
        let free: Vec<usize> = (0..n).filter(|&i| state[i] == State::Free).collect();
        let mut z: Vec<f64> = match self.dense {
            None => free.iter().map(|&i| -dot(self.col(i), &fb)).collect(),
            Some(sigma) => {
                let bound: Vec<usize> = (0..n)
                    .filter(|&j| state[j] != State::Free && x[j] != 0.0)
                    .collect();
                free.iter()
                    .map(|&i| -bound.iter().map(|&j| sigma[i * n + j] * x[j]).sum::<f64>())
                    .collect()
            }
        };
        self.apply_inverse(gram, &free, &mut z)?;
        // The rows over the free weights, `E_F`, and `Y = Q_FF⁻¹·E_Fᵀ` from them.
        let e: Vec<Vec<f64>> = self
            .rows
            .iter()
            .map(|row| free.iter().map(|&i| row[i]).collect())
            .collect();
        let mut y = e.clone();
        for yr in &mut y {
            self.apply_inverse(gram, &free, yr)?;
        }
        let mut s = [[0.0; 2]; 2];
        let mut t = [0.0; 2];
        for (r, er) in e.iter().enumerate() {
            t[r] = dot(er, &z) - rhs[r];
            for (c, yc) in y.iter().enumerate() {
                s[r][c] = dot(er, yc);
            }
        }
        let lambda = if p == 1 {
            (s[0][0] > 0.0 && s[0][0].is_finite()).then(|| vec![t[0] / s[0][0]])?
        } else {
            let det = s[0][0] * s[1][1] - s[0][1] * s[1][0];
            if !(det > 1e-12 * (s[0][0] * s[1][1]).abs() && det.is_finite()) {
                return None;
            }
            vec![
                (t[0] * s[1][1] - s[0][1] * t[1]) / det,
                (s[0][0] * t[1] - s[1][0] * t[0]) / det,
            ]
        };
        for (a, &i) in free.iter().enumerate() {
            x[i] = z[a] - y.iter().zip(&lambda).map(|(yr, l)| yr[a] * l).sum::<f64>();
        }
        Some(lambda)
    }

    /// `Σx + Eᵀλ` (the bounds' multipliers) and its scale: the largest term in it.
    #[inline(always)]
    fn gradient(&self, x: &[f64], lambda: &[f64]) -> (Vec<f64>, f64) {
        if let Some(sigma) = self.dense {
            let n = x.len();
            let mut scale = 0.0_f64;
            let g = (0..n)
                .map(|i| {
                    let row = &sigma[i * n..(i + 1) * n];
                    let (sum, size) = row
                        .iter()
                        .zip(x)
                        .fold((0.0, 0.0), |(s, z), (a, v)| (s + a * v, z + (a * v).abs()));
                    let rows: f64 = self.rows.iter().zip(lambda).map(|(r, l)| r[i] * l).sum();
                    scale = scale.max(size).max(rows.abs());
                    sum + rows
                })
                .collect();
            return (g, scale.max(1e-300));
        }
        let mut fx = vec![0.0; self.m];
        for (i, &v) in x.iter().enumerate() {
            if v != 0.0 {
                axpy(v, self.col(i), &mut fx);
            }
        }
        let mut scale = 0.0_f64;
        let g = (0..x.len())
            .map(|i| {
                let diag = self.d[i] * x[i];
                let low_rank = dot(self.col(i), &fx);
                let rows: f64 = self.rows.iter().zip(lambda).map(|(r, l)| r[i] * l).sum();
                scale = scale.max(diag.abs()).max(low_rank.abs()).max(rows.abs());
                diag + low_rank + rows
            })
            .collect();
        (g, scale.max(1e-300))
    }

    /// Checks the optimality conditions the pivoting stopped at once more, in full, and clamps
    /// free weights within rounding of a bound onto it.
    fn verified(
        &self,
        mut x: Vec<f64>,
        lambda: Vec<f64>,
        state: &[State],
        g: &[f64],
        tol_g: f64,
    ) -> Option<Solved> {
        for (i, s) in state.iter().enumerate() {
            match s {
                State::Free if g[i].abs() > tol_g => return None,
                State::Free => x[i] = x[i].clamp(self.lower[i], self.upper[i]),
                State::Lower if g[i] < -tol_g => return None,
                State::Upper if g[i] > tol_g => return None,
                _ => {}
            }
        }
        for (row, &e) in self.rows.iter().zip(&self.rhs) {
            let (sum, size) = row.iter().zip(&x).fold((0.0, 0.0_f64), |(s, z), (a, v)| {
                (s + a * v, z.max((a * v).abs()))
            });
            let within = (sum - e).abs() <= 1e-10 * size.max(e.abs()).max(1e-300);
            if !within {
                return None;
            }
        }
        x.iter()
            .all(|v| v.is_finite())
            .then_some(Solved { x, lambda })
    }

    /// `Q_FF⁻¹·v` in place over the free weights `free`, by Woodbury:
    /// `D⁻¹v − D⁻¹F_Fᵀ·M⁻¹·F_F·D⁻¹v` with `M = I + F_F·D_F⁻¹·F_Fᵀ`.
    #[inline(always)]
    fn apply_inverse(&self, gram: &Gram, free: &[usize], v: &mut [f64]) -> Option<()> {
        if self.dense.is_some() {
            gram.solve(v);
            return v.iter().all(|x| x.is_finite()).then_some(());
        }
        let mut t = vec![0.0; self.m];
        for (a, &i) in free.iter().enumerate() {
            v[a] /= self.d[i];
            axpy(v[a], self.col(i), &mut t);
        }
        gram.solve(&mut t);
        for (a, &i) in free.iter().enumerate() {
            v[a] -= dot(self.col(i), &t) / self.d[i];
        }
        v.iter().all(|x| x.is_finite()).then_some(())
    }

    #[inline(always)]
    fn col(&self, i: usize) -> &[f64] {
        &self.ft[i * self.m..(i + 1) * self.m]
    }
}

/// `M = I + Σ_{i free} fᵢfᵢᵀ/dᵢ` (lower triangle, row by row) and its Cholesky factor, kept in
/// step with the free set by rank-one terms (rebuilt when that would cost more).
struct Gram {
    m: usize,
    /// Which assets' terms `M` holds.
    holds: Vec<bool>,
    matrix: Vec<f64>,
    factor: Vec<f64>,
}

impl Gram {
    fn new(m: usize) -> Self {
        Self {
            m,
            holds: Vec::new(),
            matrix: Vec::new(),
            factor: vec![0.0; m * m],
        }
    }

    /// Forgets `M`, so that the next [`sync`](Self::sync) rebuilds it (after a failed
    /// factorisation, whose rank-one downdates may have lost precision).
    fn reset(&mut self) {
        self.holds.clear();
    }

    /// Brings `M` in step with the free weights of `state` and factors it; with a dense `Σ`,
    /// `M` is `Σ_FF` itself, rebuilt each time.
    #[inline(always)]
    fn sync(&mut self, p: &Problem<'_>, state: &[State]) -> Option<()> {
        let n = state.len();
        if let Some(sigma) = p.dense {
            let free: Vec<usize> = (0..n).filter(|&i| state[i] == State::Free).collect();
            let k = free.len();
            self.m = k;
            self.matrix = vec![0.0; k * k];
            self.factor = vec![0.0; k * k];
            for (a, &i) in free.iter().enumerate() {
                for (b, &j) in free[..=a].iter().enumerate() {
                    self.matrix[a * k + b] = sigma[i * n + j];
                }
            }
            return self.factor();
        }
        let free = |i: usize| state[i] == State::Free;
        let changes = if self.holds.is_empty() {
            n + 1
        } else {
            (0..n).filter(|&i| free(i) != self.holds[i]).count()
        };
        let count = (0..n).filter(|&i| free(i)).count();
        if changes > count {
            self.holds = vec![false; n];
            self.matrix = vec![0.0; self.m * self.m];
            for k in 0..self.m {
                self.matrix[k * self.m + k] = 1.0;
            }
        }
        for i in 0..n {
            if free(i) != self.holds[i] {
                let s = if free(i) { 1.0 } else { -1.0 } / p.d[i];
                let f = p.col(i);
                for (j, &fj) in f.iter().enumerate() {
                    axpy(
                        s * fj,
                        &f[..=j],
                        &mut self.matrix[j * self.m..j * self.m + j + 1],
                    );
                }
                self.holds[i] = free(i);
            }
        }
        self.factor()
    }

    /// Cholesky `M = LLᵀ`, `L` lower, row by row.
    #[inline(always)]
    fn factor(&mut self) -> Option<()> {
        let m = self.m;
        let l = &mut self.factor;
        for i in 0..m {
            for j in 0..=i {
                let (head, row_i) = l.split_at_mut(i * m);
                let row_j = if j < i {
                    &head[j * m..j * m + j]
                } else {
                    &row_i[..j]
                };
                let s = self.matrix[i * m + j] - dot(&row_i[..j], row_j);
                if i == j {
                    if s.is_nan() || s <= 0.0 {
                        return None;
                    }
                    row_i[i] = s.sqrt();
                } else {
                    row_i[j] = s / head[j * m + j];
                }
            }
        }
        Some(())
    }

    /// `M⁻¹·t` in place (forward, then backward substitution).
    #[inline(always)]
    fn solve(&self, t: &mut [f64]) {
        let (m, l) = (self.m, &self.factor);
        for i in 0..m {
            t[i] = (t[i] - dot(&l[i * m..i * m + i], &t[..i])) / l[i * m + i];
        }
        for i in (0..m).rev() {
            let v = t[i] / l[i * m + i];
            t[i] = v;
            for k in 0..i {
                t[k] -= l[i * m + k] * v;
            }
        }
    }
}

/// `y += a·x`.
#[inline(always)]
fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// `x·y` with eight partial sums, so that it vectorises.
#[inline(always)]
fn dot(x: &[f64], y: &[f64]) -> f64 {
    let mut acc = [0.0; 8];
    let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        for k in 0..8 {
            acc[k] += a[k] * b[k];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (a, b) in xr.iter().zip(yr) {
        s += a * b;
    }
    s
}
