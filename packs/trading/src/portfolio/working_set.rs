//! The working-set loop around Clarabel: solve over a few assets, price the rest by the full
//! problem's KKT conditions, add the assets that would enter, repeat.
//!
//! Long-only optimal portfolios hold a fraction of the universe. The problem restricted to a
//! working set `W` (every other weight fixed at 0, which needs their lower bound to be 0) is
//! much smaller for Clarabel. Its solution is optimal for the full problem when every asset
//! outside `W` has a non-negative reduced cost: the gradient of the Lagrangian at that asset,
//! `∇f(x)ᵢ + Σ_r A_{r,i}·z_r` over the constraint rows it appears in (budget, return and group
//! rows; Clarabel's dual `z` satisfies `Px + q + Aᵀz = 0`), is the multiplier its lower bound
//! `wᵢ >= 0` would need, and a multiplier must be `>= 0`. Assets with a negative one enter and
//! the loop repeats; rounds are bounded, and a restricted problem that fails, a working set
//! that grows past most of the universe, or a loop that does not settle ends in the full
//! solve, so the answer is always the full problem's.

use cadre_core::Result;

use super::active_set::Problem;
use super::conic::{Conic, Row};
use super::optimize::Optimizer;

/// The problems the optimiser solves over the weights.
#[derive(Debug, Clone, Copy)]
pub(super) enum Objective {
    /// Minimise `wᵀΣw`.
    MinVolatility,
    /// PyPortfolioOpt's variable-scaling max Sharpe: minimise `vᵀΣv` with
    /// `(μ − r_f)ᵀv = 1` and every constraint scaled by `k`.
    MaxSharpe { risk_free: f64 },
    /// Minimise `wᵀΣw` with `μᵀw >= target`.
    EfficientReturn { target: f64 },
    /// Maximise `μᵀw` with `√(wᵀΣw) <= volatility` (a second-order cone).
    EfficientRisk { volatility: f64 },
}

/// A constraint row that involves every asset, kept to price the assets outside the set.
#[derive(Debug, Clone, Copy)]
pub(super) enum Link {
    /// `Σw`: coefficient 1.
    Budget,
    /// Max Sharpe's `(μ − r_f)ᵀv`: coefficient `μᵢ − r_f`.
    Excess(f64),
    /// Efficient return's `−μᵀw`: coefficient `−μᵢ`.
    Return,
    /// A group's sum, coefficient `sign` for its members.
    Group(usize, f64),
    /// Factor row `j`, `y_j − F_j·w = 0`: coefficient `−F_{j,i}`.
    Factor(usize),
}

/// A restricted problem and what is needed to read its solution.
struct Built {
    conic: Conic,
    /// `(row index in Clarabel's A, link)`.
    links: Vec<(usize, Link)>,
    /// Max Sharpe's scale variable.
    scale: Option<usize>,
    /// Whether `P` holds `2Σ_WW` densely (otherwise the factored form, gradient via the
    /// factor rows' duals).
    dense: bool,
}

/// A solution over all assets.
pub(super) struct Solution {
    /// One value per asset (weights, or max Sharpe's `v`).
    pub(super) x: Vec<f64>,
    /// Max Sharpe's scale `k`.
    pub(super) scale: Option<f64>,
}

/// The fewest assets a round may add (it adds up to the set's size, doubling it).
const MIN_ENTER: usize = 32;
/// Rounds before the loop gives up and solves the full problem.
const MAX_ROUNDS: usize = 8;
/// A working set above this fraction of the assets is solved as the full problem.
const FULL_FRACTION: f64 = 0.8;
/// A working set whose factorisation would cost more than this fraction of the full
/// problem's is solved as the full problem (another round may follow, so it would not pay);
/// so is a round whose entering assets would take the set there.
const FULL_COST: f64 = 0.5;
/// Reduced costs below `-TOLERANCE × scale` enter (Clarabel's default tolerances are 1e-8).
const TOLERANCE: f64 = 1e-7;
/// A weight above this (relative to the sum of their sizes) counts as held in a warm start;
/// the interior-point method leaves the others at ~1e-9.
const HELD: f64 = 1e-6;

impl Objective {
    fn has_variance(self) -> bool {
        !matches!(self, Self::EfficientRisk { .. })
    }

    fn what(self) -> &'static str {
        match self {
            Self::MinVolatility => "min volatility",
            Self::MaxSharpe { .. } => "max Sharpe",
            Self::EfficientReturn { .. } => "efficient return",
            Self::EfficientRisk { .. } => "efficient risk",
        }
    }
}

impl Optimizer {
    /// The problem over the assets `cols` (every other weight fixed at 0).
    fn build(&self, obj: Objective, cols: &[usize], dense: bool) -> Built {
        let n = self.assets();
        let k = cols.len();
        let m = self.factor_rows();
        let factored = !dense;
        let y0 = k;
        let scale_col = k + if factored { m } else { 0 };
        let sharpe = matches!(obj, Objective::MaxSharpe { .. });
        let mut c = Conic::new(scale_col + usize::from(sharpe));
        let mut links: Vec<(RowRef, Link)> = Vec::new();
        let (d, f, cov) = (
            self.covariance().diag(),
            self.covariance().factor(),
            self.covariance().matrix(),
        );
        let mu = self.expected_returns();
        if obj.has_variance() {
            if dense {
                for (b, &j) in cols.iter().enumerate() {
                    for (a, &i) in cols[..=b].iter().enumerate() {
                        c.p.push((a, b, 2.0 * cov[i * n + j]));
                    }
                }
            } else {
                for (a, &i) in cols.iter().enumerate() {
                    if d[i] > 0.0 {
                        c.p.push((a, a, 2.0 * d[i]));
                    }
                }
                for j in 0..m {
                    c.p.push((y0 + j, y0 + j, 2.0));
                }
            }
        }
        if let Objective::MaxSharpe { risk_free } = obj {
            links.push((RowRef::Eq(c.eq.len()), Link::Excess(risk_free)));
            c.eq.push((
                cols.iter()
                    .enumerate()
                    .map(|(a, &i)| (a, mu[i] - risk_free))
                    .collect(),
                1.0,
            ));
        }
        if factored {
            for j in 0..m {
                let row = &f[j * n..j * n + n];
                let mut coefs: Vec<(usize, f64)> = cols
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| row[**i] != 0.0)
                    .map(|(a, &i)| (a, -row[i]))
                    .collect();
                coefs.push((y0 + j, 1.0));
                links.push((RowRef::Eq(c.eq.len()), Link::Factor(j)));
                c.eq.push((coefs, 0.0));
            }
        }
        self.weight_rows(&mut c, &mut links, cols, sharpe.then_some(scale_col));
        match obj {
            Objective::MaxSharpe { .. } => c.ineq.push((vec![(scale_col, -1.0)], 0.0)),
            Objective::EfficientReturn { target } => {
                links.push((RowRef::Ineq(c.ineq.len()), Link::Return));
                c.ineq.push((
                    cols.iter().enumerate().map(|(a, &i)| (a, -mu[i])).collect(),
                    -target,
                ));
            }
            Objective::EfficientRisk { volatility } => {
                for (a, &i) in cols.iter().enumerate() {
                    c.q[a] = -mu[i];
                }
                c.soc.push((Vec::new(), volatility));
                for (a, &i) in cols.iter().enumerate() {
                    if d[i] > 0.0 {
                        c.soc.push((vec![(a, -d[i].sqrt())], 0.0));
                    }
                }
                for j in 0..m {
                    c.soc.push((vec![(y0 + j, -1.0)], 0.0));
                }
            }
            Objective::MinVolatility => {}
        }
        let eqs = c.eq.len();
        let links = links
            .into_iter()
            .map(|(r, l)| {
                let row = match r {
                    RowRef::Eq(i) => i,
                    RowRef::Ineq(i) => eqs + i,
                };
                (row, l)
            })
            .collect();
        Built {
            conic: c,
            links,
            scale: sharpe.then_some(scale_col),
            dense,
        }
    }

    /// `Σw = scale`, the bounds and the group constraints over `cols`, each right-hand side
    /// multiplied by the variable `scale` when given (max Sharpe's homogenised form) or by 1.
    pub(super) fn weight_rows(
        &self,
        c: &mut Conic,
        links: &mut Vec<(RowRef, Link)>,
        cols: &[usize],
        scale: Option<usize>,
    ) {
        let (lower, upper) = self.bounds();
        // row: coefs·x <= rhs·(scale or 1)
        let homog = |mut coefs: Vec<(usize, f64)>, rhs: f64| -> Row {
            match scale {
                Some(k) => {
                    coefs.push((k, -rhs));
                    (coefs, 0.0)
                }
                None => (coefs, rhs),
            }
        };
        links.push((RowRef::Eq(c.eq.len()), Link::Budget));
        c.eq.push(homog((0..cols.len()).map(|a| (a, 1.0)).collect(), 1.0));
        for (a, &i) in cols.iter().enumerate() {
            if upper[i].is_finite() {
                c.ineq.push(homog(vec![(a, 1.0)], upper[i]));
            }
            if lower[i].is_finite() {
                c.ineq.push(homog(vec![(a, -1.0)], -lower[i]));
            }
        }
        let mut pos = vec![usize::MAX; self.assets()];
        for (a, &i) in cols.iter().enumerate() {
            pos[i] = a;
        }
        for (gi, g) in self.groups().iter().enumerate() {
            let members = || {
                g.assets
                    .iter()
                    .filter(|&&i| pos[i] != usize::MAX)
                    .map(|&i| pos[i])
            };
            if g.upper.is_finite() {
                links.push((RowRef::Ineq(c.ineq.len()), Link::Group(gi, 1.0)));
                c.ineq
                    .push(homog(members().map(|a| (a, 1.0)).collect(), g.upper));
            }
            if g.lower.is_finite() {
                links.push((RowRef::Ineq(c.ineq.len()), Link::Group(gi, -1.0)));
                c.ineq
                    .push(homog(members().map(|a| (a, -1.0)).collect(), -g.lower));
            }
        }
    }

    /// Solves `obj` as the optimiser's [`Method`](super::Method) says, starting a working set
    /// from `warm` (assets held before) when given.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when the full problem is infeasible, unbounded or the solver fails.
    pub(super) fn solve_objective(
        &self,
        obj: Objective,
        warm: Option<&[usize]>,
    ) -> Result<Solution> {
        let n = self.assets();
        let start = match (self.method(), warm) {
            (super::Method::Full, _) => return self.solve_full(obj),
            (super::Method::WarmStart(assets), None) => Some(assets.as_slice()),
            (_, warm) => warm,
        };
        let exact = match self.method() {
            super::Method::ActiveSet => true,
            super::Method::Auto | super::Method::WarmStart(_) => {
                n >= super::Method::EXACT_MIN_ASSETS
            }
            super::Method::WorkingSet | super::Method::Full => false,
        };
        if exact && let Some(solution) = self.exact(obj, start) {
            return Ok(solution);
        }
        let mut set = self.initial_set(obj, start);
        let mut rounds = 0;
        let full_cost = factor_flops(n, self.factor_rows());
        while rounds < MAX_ROUNDS
            && (set.len() as f64) < FULL_FRACTION * n as f64
            && restricted_flops(set.len(), self.factor_rows()) < FULL_COST * full_cost
        {
            rounds += 1;
            let dense = obj.has_variance() && dense_is_cheaper(set.len(), self.factor_rows());
            let built = self.build(obj, &set, dense);
            let (links, scale, dense) = (built.links, built.scale, built.dense);
            let Ok(solved) = built.conic.solve(obj.what()) else {
                break;
            };
            let mut x = vec![0.0; n];
            for (a, &i) in set.iter().enumerate() {
                x[i] = solved.x[a];
            }
            let entering = self.entering(obj, &set, &x, &solved.z, &links, dense);
            if restricted_flops(set.len() + entering.len(), self.factor_rows())
                >= FULL_COST * full_cost
            {
                // With every asset that would enter, the restricted problem would cost a
                // good part of the full one: the optimum holds much of the universe, and
                // growing the set round by round would only add solves.
                break;
            }
            if entering.is_empty() {
                return Ok(Solution {
                    x,
                    scale: scale.map(|k| solved.x[k]),
                });
            }
            // At most doubling: the reduced costs at a small set overstate how many assets
            // the optimum holds, and the most negative enter first.
            let room = set.len().max(MIN_ENTER);
            set.extend(entering.into_iter().take(room));
            set.sort_unstable();
        }
        self.solve_full(obj)
    }

    /// The problem solved exactly by [`active_set`](super::active_set) when it is one of its
    /// kind (no groups; for max Sharpe, bounds `[0, >= 1]`, so that the scaled bounds are
    /// `v >= 0`), or `None` (also when the pivoting does not settle, e.g. on a singular
    /// covariance), for the interior-point path.
    fn exact(&self, obj: Objective, warm: Option<&[usize]>) -> Option<Solution> {
        if !self.groups().is_empty() {
            return None;
        }
        let (n, m) = (self.assets(), self.factor_rows());
        let (lower, upper) = self.bounds();
        let mu = self.expected_returns();
        let cov = self.covariance();
        // The factored form when it has fewer rows than assets and a positive diagonal (the
        // Woodbury solve), else the dense matrix.
        let factored = m < n && cov.diag().iter().all(|&d| d > 0.0);
        let mut ft = Vec::new();
        if factored {
            ft = vec![0.0; n * m];
            for (r, row) in cov.factor().chunks_exact(n).enumerate() {
                for (i, &v) in row.iter().enumerate() {
                    ft[i * m + r] = v;
                }
            }
        }
        let problem = |rows: Vec<Vec<f64>>, rhs: Vec<f64>, lower, upper| Problem {
            d: cov.diag(),
            ft: &ft,
            m: if factored { m } else { 0 },
            dense: (!factored).then(|| cov.matrix()),
            rows,
            rhs,
            lower,
            upper,
        };
        let budget = vec![1.0; n];
        match obj {
            Objective::MinVolatility => {
                let s = problem(vec![budget], vec![1.0], lower, upper).solve(warm)?;
                Some(Solution {
                    x: s.x,
                    scale: None,
                })
            }
            Objective::MaxSharpe { risk_free } => {
                if lower.iter().any(|&l| l != 0.0) || upper.iter().any(|&u| u.is_nan() || u < 1.0) {
                    return None;
                }
                let (zero, unbounded) = (vec![0.0; n], vec![f64::INFINITY; n]);
                let excess = mu.iter().map(|m| m - risk_free).collect();
                let s = problem(vec![excess], vec![1.0], &zero, &unbounded).solve(warm)?;
                let scale = s.x.iter().sum();
                Some(Solution {
                    x: s.x,
                    scale: Some(scale),
                })
            }
            Objective::EfficientReturn { target } => {
                let rows = vec![budget.clone(), mu.to_vec()];
                let s = problem(rows, vec![1.0, target], lower, upper).solve(warm)?;
                // `μᵀw >= target` binds when its multiplier (`-λ₁`) is >= 0; otherwise the
                // minimum-volatility portfolio already earns more than the target.
                if s.lambda[1] <= 0.0 {
                    return Some(Solution {
                        x: s.x,
                        scale: None,
                    });
                }
                let s = problem(vec![budget], vec![1.0], lower, upper).solve(warm)?;
                let earned: f64 = s.x.iter().zip(mu).map(|(w, m)| w * m).sum();
                (earned >= target - 1e-12 * target.abs().max(1.0)).then_some(Solution {
                    x: s.x,
                    scale: None,
                })
            }
            Objective::EfficientRisk { .. } => None,
        }
    }

    /// The full efficient-return problem for `target`, and the row of `b` holding `−target`
    /// (the frontier's full method reuses one solver across targets).
    pub(super) fn efficient_return_conic(&self, target: f64) -> (Conic, usize) {
        let cols: Vec<usize> = (0..self.assets()).collect();
        let built = self.build(Objective::EfficientReturn { target }, &cols, false);
        let row = built
            .links
            .iter()
            .find(|(_, l)| matches!(l, Link::Return))
            .map_or(0, |(r, _)| *r);
        (built.conic, row)
    }

    /// The full problem in one solve (the factored form over every asset).
    fn solve_full(&self, obj: Objective) -> Result<Solution> {
        let n = self.assets();
        let cols: Vec<usize> = (0..n).collect();
        let built = self.build(obj, &cols, false);
        let scale = built.scale;
        let solved = built.conic.solve(obj.what())?;
        Ok(Solution {
            scale: scale.map(|k| solved.x[k]),
            x: solved.x[..n].to_vec(),
        })
    }

    /// The assets outside `set` whose reduced cost is negative, most negative first.
    fn entering(
        &self,
        obj: Objective,
        set: &[usize],
        x: &[f64],
        z: &[f64],
        links: &[(usize, Link)],
        dense: bool,
    ) -> Vec<usize> {
        let n = self.assets();
        let mu = self.expected_returns();
        let cov = self.covariance();
        let mut reduced = vec![0.0; n];
        let mut scale: f64 = 0.0;
        if dense {
            // ∇(xᵀΣx) = 2Σx over the held columns.
            let m = cov.matrix();
            for &j in set {
                let xj = 2.0 * x[j];
                if xj != 0.0 {
                    for (r, s) in reduced.iter_mut().zip(m.iter().skip(j).step_by(n)) {
                        *r += s * xj;
                    }
                }
            }
            scale = reduced.iter().fold(0.0, |a, r| a.max(r.abs()));
        }
        if let Objective::EfficientRisk { .. } = obj {
            for (r, m) in reduced.iter_mut().zip(mu) {
                *r -= m;
            }
            scale = scale.max(mu.iter().fold(0.0, |a, m| a.max(m.abs())));
        }
        let f = cov.factor();
        for &(row, link) in links {
            let zr = z[row];
            scale = scale.max(zr.abs() * link_size(link, mu));
            match link {
                Link::Budget => reduced.iter_mut().for_each(|r| *r += zr),
                Link::Excess(rf) => {
                    for (r, m) in reduced.iter_mut().zip(mu) {
                        *r += (m - rf) * zr;
                    }
                }
                Link::Return => {
                    for (r, m) in reduced.iter_mut().zip(mu) {
                        *r -= m * zr;
                    }
                }
                Link::Group(g, sign) => {
                    for &i in &self.groups()[g].assets {
                        reduced[i] += sign * zr;
                    }
                }
                Link::Factor(j) => {
                    if zr != 0.0 {
                        for (r, fj) in reduced.iter_mut().zip(&f[j * n..j * n + n]) {
                            *r -= fj * zr;
                        }
                    }
                }
            }
        }
        let (_, upper) = self.bounds();
        let mut inside = vec![false; n];
        for &i in set {
            inside[i] = true;
        }
        let tol = TOLERANCE * scale.max(f64::MIN_POSITIVE);
        let mut out: Vec<(f64, usize)> = (0..n)
            .filter(|&i| !inside[i] && upper[i] > 0.0 && reduced[i] < -tol)
            .map(|i| (reduced[i], i))
            .collect();
        out.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        out.into_iter().map(|(_, i)| i).collect()
    }

    /// The first working set: the assets that cannot be left at 0, enough to make the budget,
    /// the groups' lower bounds and the return target reachable, the warm start, and the best
    /// assets by a cheap score for the objective.
    fn initial_set(&self, obj: Objective, warm: Option<&[usize]>) -> Vec<usize> {
        let n = self.assets();
        let (lower, upper) = self.bounds();
        let mu = self.expected_returns();
        let mut inside = vec![false; n];
        let mut set = Vec::new();
        let add = |i: usize, set: &mut Vec<usize>, inside: &mut Vec<bool>| {
            if !inside[i] {
                inside[i] = true;
                set.push(i);
            }
        };
        for (i, lo) in lower.iter().enumerate() {
            if *lo != 0.0 {
                add(i, &mut set, &mut inside);
            }
        }
        // A warm start too large to pay (e.g. the previous frontier point held most of the
        // universe) is dropped: a cold start that grows costs less than its first solve.
        let m = self.factor_rows();
        if let Some(warm) = warm
            && restricted_flops(warm.len(), m) < FULL_COST * factor_flops(n, m)
        {
            for &i in warm {
                add(i, &mut set, &mut inside);
            }
        }
        let by_variance = self.variance_order();
        let mut by_return: Vec<usize> = (0..n).collect();
        by_return.sort_by(|&a, &b| mu[b].total_cmp(&mu[a]).then(a.cmp(&b)));
        let order: Vec<usize> = match obj {
            Objective::MinVolatility => by_variance,
            Objective::MaxSharpe { risk_free } => {
                let cov = self.covariance();
                let mut o: Vec<usize> = (0..n).filter(|&i| mu[i] > risk_free).collect();
                let score = |i: usize| (mu[i] - risk_free) / cov.get(i, i).max(f64::MIN_POSITIVE);
                o.sort_by(|&a, &b| score(b).total_cmp(&score(a)).then(a.cmp(&b)));
                interleave(n, &o, &by_variance)
            }
            Objective::EfficientReturn { .. } | Objective::EfficientRisk { .. } => {
                interleave(n, &by_return, &by_variance)
            }
        };
        // Budget (and the highest returns, for a return target or max Sharpe).
        let mut room: f64 = set.iter().map(|&i| upper[i]).sum();
        let fill = if matches!(obj, Objective::MinVolatility) {
            &order
        } else {
            &by_return
        };
        for &i in fill {
            if room >= 1.0 + 1e-9 {
                break;
            }
            add(i, &mut set, &mut inside);
            room += upper[i];
        }
        for g in self.groups() {
            if g.lower > 0.0 {
                let mut have: f64 = g
                    .assets
                    .iter()
                    .filter(|&&i| inside[i])
                    .map(|&i| upper[i])
                    .sum();
                for &i in &order {
                    if have >= g.lower + 1e-9 {
                        break;
                    }
                    if g.assets.contains(&i) && !inside[i] {
                        add(i, &mut set, &mut inside);
                        have += upper[i];
                    }
                }
            }
        }
        let target = initial_size(n).max(set.len());
        for &i in &order {
            if set.len() >= target {
                break;
            }
            add(i, &mut set, &mut inside);
        }
        set.sort_unstable();
        set
    }

    /// Assets by their marginal variance at the inverse-variance portfolio, lowest first.
    fn variance_order(&self) -> Vec<usize> {
        let n = self.assets();
        let cov = self.covariance();
        let m = cov.matrix();
        let w0: Vec<f64> = (0..n)
            .map(|i| 1.0 / cov.get(i, i).max(f64::MIN_POSITIVE))
            .collect();
        let marginal: Vec<f64> = (0..n)
            .map(|i| {
                m[i * n..i * n + n]
                    .iter()
                    .zip(&w0)
                    .map(|(s, w)| s * w)
                    .sum()
            })
            .collect();
        let mut o: Vec<usize> = (0..n).collect();
        o.sort_by(|&a, &b| marginal[a].total_cmp(&marginal[b]).then(a.cmp(&b)));
        o
    }

    /// The assets held by weights `x`, for a warm start.
    pub(super) fn held(x: &[f64]) -> Vec<usize> {
        let total: f64 = x.iter().map(|v| v.abs()).sum();
        (0..x.len())
            .filter(|&i| x[i].abs() > HELD * total)
            .collect()
    }
}

/// Where a row sits before the rows are numbered (`eq` rows come first in Clarabel's `A`).
#[derive(Debug, Clone, Copy)]
pub(super) enum RowRef {
    Eq(usize),
    Ineq(usize),
}

/// The size of a link's coefficients, for the tolerance's scale.
fn link_size(link: Link, mu: &[f64]) -> f64 {
    match link {
        Link::Budget | Link::Group(..) => 1.0,
        Link::Excess(rf) => mu.iter().fold(0.0, |a, m| a.max((m - rf).abs())),
        Link::Return => mu.iter().fold(0.0, |a, m| a.max(m.abs())),
        Link::Factor(_) => 0.0,
    }
}

/// Flops of one factorisation of the factored form over `k` assets and `m` factor rows.
fn factor_flops(k: usize, m: usize) -> f64 {
    let (k, m) = (k as f64, m as f64);
    k * m * m / 2.0 + m * m * m / 3.0
}

/// Flops of one factorisation of a restricted problem over `k` assets (the cheaper form).
fn restricted_flops(k: usize, m: usize) -> f64 {
    let kf = k as f64;
    (kf * kf * kf / 3.0).min(factor_flops(k, m))
}

/// Whether `2Σ_WW` as a dense `P` factors in fewer flops than the factored form: eliminating
/// `k` dense columns costs `k³/3`; the factored form, `k` columns each coupled to the `m`
/// factor rows, `k·m²/2 + m³/3`.
fn dense_is_cheaper(k: usize, m: usize) -> bool {
    let (k, m) = (k as f64, m as f64);
    k * k * k / 3.0 < k * m * m / 2.0 + m * m * m / 3.0
}

/// The first working set's size before the loop adds assets.
fn initial_size(n: usize) -> usize {
    (n / 4).clamp(16.min(n), 64)
}

/// `a` and `b` (orders of assets `0..n`) merged alternately, each asset once.
fn interleave(n: usize, a: &[usize], b: &[usize]) -> Vec<usize> {
    let mut seen = vec![false; n];
    let mut out = Vec::with_capacity(n);
    for i in 0..a.len().max(b.len()) {
        for &next in [a.get(i), b.get(i)].into_iter().flatten() {
            if !seen[next] {
                seen[next] = true;
                out.push(next);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portfolio::Covariance;

    /// `n` assets with a factored covariance `diag(d) + FᵀF` (`m` rows) and seeded returns.
    fn factored(n: usize, m: usize, seed: u64) -> Optimizer {
        let mut rng = fastrand::Rng::with_seed(seed);
        let f: Vec<f64> = (0..m * n).map(|_| (rng.f64() - 0.5) * 0.08).collect();
        let d: Vec<f64> = (0..n).map(|_| 0.002 + rng.f64() * 0.01).collect();
        let mut matrix = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                let low: f64 = (0..m).map(|r| f[r * n + i] * f[r * n + j]).sum();
                matrix[i * n + j] = low + if i == j { d[i] } else { 0.0 };
            }
        }
        let cov = Covariance::with_factor(n, matrix, d, f, None).expect("covariance");
        let mu = (0..n).map(|_| rng.f64() * 0.3 - 0.05).collect();
        Optimizer::new(mu, cov).expect("optimizer")
    }

    #[test]
    fn the_active_set_settles_and_is_never_worse_than_clarabel() {
        // The last two have more factor rows than assets: the dense path. A 4 % cap can leave
        // the pivoting with every weight at a bound before it settles (it does on the dense
        // two); it then hands the problem back to the working set, which the integration
        // tests check. Most must settle.
        let mut capped_settled = 0;
        for (seed, n, m) in [
            (1, 90, 40),
            (2, 150, 60),
            (3, 64, 63),
            (4, 30, 80),
            (5, 70, 70),
        ] {
            let opt = factored(n, m, seed);
            let variance = |x: &[f64]| opt.covariance().variance(x);
            let min_vol = opt
                .exact(Objective::MinVolatility, None)
                .expect("min volatility settles");
            let full = opt.solve_full(Objective::MinVolatility).expect("full");
            assert!(variance(&min_vol.x) <= variance(&full.x) * (1.0 + 1e-9));
            let sharpe = |s: &Solution| {
                let w: Vec<f64> = s.x.iter().map(|v| v / s.scale.expect("scale")).collect();
                opt.portfolio(w).sharpe(0.01)
            };
            let obj = Objective::MaxSharpe { risk_free: 0.01 };
            let best = opt.exact(obj, None).expect("max Sharpe settles");
            let full = opt.solve_full(obj).expect("full");
            assert!(sharpe(&best) >= sharpe(&full) * (1.0 - 1e-9));
            let lo = opt.portfolio(min_vol.x.clone()).expected_return;
            let hi = opt.max_return().expect("max return");
            for f in [-0.5, 0.2, 0.7] {
                let target = lo + f * (hi - lo);
                let obj = Objective::EfficientReturn { target };
                let x = opt.exact(obj, None).expect("efficient return settles").x;
                let full = opt.solve_full(obj).expect("full").x;
                assert!(opt.portfolio(x.clone()).expected_return >= target - 1e-12);
                assert!(
                    variance(&x) <= variance(&full) * (1.0 + 1e-9),
                    "target {target}"
                );
            }
            // Bounds away from 0 and a cap.
            let capped = opt.clone().with_bounds(0.001, 0.04).expect("bounds");
            let full = capped.solve_full(Objective::MinVolatility).expect("full").x;
            if let Some(s) = capped.exact(Objective::MinVolatility, None) {
                assert!(s.x.iter().all(|w| (0.001..=0.04).contains(w)));
                assert!(variance(&s.x) <= variance(&full) * (1.0 + 1e-9));
                capped_settled += 1;
            }
        }
        assert!(
            capped_settled >= 3,
            "{capped_settled} capped problems settled"
        );
    }

    #[test]
    fn dense_only_while_it_factors_cheaper() {
        assert!(dense_is_cheaper(60, 251));
        assert!(dense_is_cheaper(317, 251));
        assert!(!dense_is_cheaper(450, 251));
        // The Cholesky form (m = n): dense is always cheaper.
        assert!(dense_is_cheaper(80, 80));
    }

    #[test]
    fn interleave_keeps_each_asset_once_in_turn() {
        assert_eq!(
            interleave(5, &[4, 3, 2], &[3, 0, 1, 4]),
            vec![4, 3, 0, 2, 1]
        );
        assert_eq!(interleave(3, &[], &[2, 1, 0]), vec![2, 1, 0]);
    }

    #[test]
    fn first_set_sizes() {
        assert_eq!(initial_size(10), 10);
        assert_eq!(initial_size(80), 20);
        assert_eq!(initial_size(500), 64);
    }
}
