//! A conic problem for Clarabel, built row by row, and the typed errors of its statuses.

use cadre_core::{Error, Result};
use clarabel::algebra::CscMatrix;
use clarabel::solver::{
    DefaultSettingsBuilder, DefaultSolver, IPSolver, SolverStatus, SupportedConeT,
};

/// A sparse row: `(column, coefficient)` pairs and its right-hand side.
pub(super) type Row = (Vec<(usize, f64)>, f64);

/// A conic problem `min ½xᵀPx + qᵀx` s.t. `Ax + s = b`, `s` in zero, non-negative and (at most
/// one) second-order cone, built row by row. Clarabel's rows are `eq`, then `ineq`, then `soc`.
pub(super) struct Conic {
    pub(super) vars: usize,
    /// Upper-triangle entries `(row, column, value)` of `P`, `row <= column`.
    pub(super) p: Vec<(usize, usize, f64)>,
    pub(super) q: Vec<f64>,
    pub(super) eq: Vec<Row>,
    pub(super) ineq: Vec<Row>,
    pub(super) soc: Vec<Row>,
}

/// A solved problem: the primal `x` and Clarabel's dual `z` (one entry per row; the solution
/// satisfies `Px + q + Aᵀz = 0` with `z` in the dual cone).
pub(super) struct Solved {
    pub(super) x: Vec<f64>,
    pub(super) z: Vec<f64>,
}

impl Conic {
    pub(super) fn new(vars: usize) -> Self {
        Self {
            vars,
            p: Vec::new(),
            q: vec![0.0; vars],
            eq: Vec::new(),
            ineq: Vec::new(),
            soc: Vec::new(),
        }
    }

    /// Solves with Clarabel's default settings.
    ///
    /// # Errors
    ///
    /// `InvalidInput` (via [`finish`]) when the problem is infeasible, unbounded or the
    /// solver stops without a solution.
    pub(super) fn solve(self, what: &str) -> Result<Solved> {
        let (mut solver, _) = self.solver(what)?;
        solver.solve();
        let x = finish(&solver, what)?;
        Ok(Solved {
            x,
            z: solver.solution.z.clone(),
        })
    }

    /// Clarabel set up for this problem, and its `b` vector (for [`DefaultSolver::update_b`]).
    pub(super) fn solver(self, what: &str) -> Result<(DefaultSolver<f64>, Vec<f64>)> {
        let p = if self.p.is_empty() {
            CscMatrix::zeros((self.vars, self.vars))
        } else {
            CscMatrix::new_from_triplets(
                self.vars,
                self.vars,
                self.p.iter().map(|e| e.0).collect(),
                self.p.iter().map(|e| e.1).collect(),
                self.p.iter().map(|e| e.2).collect(),
            )
        };
        let (mut rows, mut cols, mut vals, mut b) = (Vec::new(), Vec::new(), Vec::new(), vec![]);
        for (r, (coefs, rhs)) in self
            .eq
            .iter()
            .chain(&self.ineq)
            .chain(&self.soc)
            .enumerate()
        {
            for &(c, v) in coefs {
                rows.push(r);
                cols.push(c);
                vals.push(v);
            }
            b.push(*rhs);
        }
        let a = CscMatrix::new_from_triplets(b.len(), self.vars, rows, cols, vals);
        let mut cones = Vec::new();
        if !self.eq.is_empty() {
            cones.push(SupportedConeT::ZeroConeT(self.eq.len()));
        }
        if !self.ineq.is_empty() {
            cones.push(SupportedConeT::NonnegativeConeT(self.ineq.len()));
        }
        if !self.soc.is_empty() {
            cones.push(SupportedConeT::SecondOrderConeT(self.soc.len()));
        }
        let settings = DefaultSettingsBuilder::default()
            .verbose(false)
            .build()
            .map_err(|e| Error::internal(format!("solver settings: {e}")))?;
        let solver = DefaultSolver::new(&p, &self.q, &a, &b, &cones, settings)
            .map_err(|e| Error::internal(format!("{what}: solver setup: {e}")))?;
        Ok((solver, b))
    }
}

/// The solution of a solved problem, or a typed error for its status.
pub(super) fn finish(solver: &DefaultSolver<f64>, what: &str) -> Result<Vec<f64>> {
    match solver.solution.status {
        SolverStatus::Solved | SolverStatus::AlmostSolved => Ok(solver.solution.x.clone()),
        SolverStatus::PrimalInfeasible | SolverStatus::AlmostPrimalInfeasible => {
            Err(Error::invalid_input(format!(
                "{what}: infeasible, no portfolio satisfies the constraints"
            )))
        }
        SolverStatus::DualInfeasible | SolverStatus::AlmostDualInfeasible => Err(
            Error::invalid_input(format!("{what}: unbounded (set finite weight bounds)")),
        ),
        other => Err(Error::invalid_input(format!(
            "{what}: the solver stopped without a solution ({other:?})"
        ))),
    }
}
