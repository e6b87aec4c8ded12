//! A covariance matrix together with a factored form the solver can keep sparse.

use cadre_core::{Error, Result};

/// An `n × n` covariance matrix (annualised, as the optimiser's expected returns) and a
/// factored form of it, `Σ = diag(d) + FᵀF` with `F` an `m × n` matrix.
///
/// The optimiser never puts the dense `Σ` into the solver: it adds `m` auxiliary variables
/// `y = F·w`, so `wᵀΣw = Σᵢ dᵢwᵢ² + ‖y‖²` and the solver's linear system stays sparse. The
/// estimators ([`sample_cov`](super::sample_cov), [`ledoit_wolf`](super::ledoit_wolf)) give
/// `F` from the demeaned returns (`m` = periods); when there are more periods than assets the
/// optimiser uses the `n × n` Cholesky factor instead (`m = n`), whichever is smaller.
/// [`Covariance::from_matrix`] takes a matrix from elsewhere and factors it by Cholesky.
#[derive(Debug, Clone, PartialEq)]
pub struct Covariance {
    n: usize,
    matrix: Vec<f64>,
    diag: Vec<f64>,
    factor: Vec<f64>,
    shrinkage: Option<f64>,
}

impl Covariance {
    /// Builds from the estimators' factored form; picks the smaller of the returns factor and
    /// the Cholesky factor.
    pub(crate) fn with_factor(
        n: usize,
        matrix: Vec<f64>,
        diag: Vec<f64>,
        factor: Vec<f64>,
        shrinkage: Option<f64>,
    ) -> Result<Self> {
        let rows = factor.len() / n;
        let mut cov = Self {
            n,
            matrix,
            diag,
            factor,
            shrinkage,
        };
        if rows > n
            && let Some(upper) = cholesky_upper(n, &cov.matrix)
        {
            cov.diag = vec![0.0; n];
            cov.factor = upper;
        }
        Ok(cov)
    }

    /// A covariance matrix given row by row (`matrix[i * n + j]`), e.g. one estimated
    /// elsewhere. It must be symmetric (to `1e-10` relative), finite and positive definite
    /// (it is factored by Cholesky).
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the entry that is not finite or not symmetric, a size that is not
    /// `n × n`, or a matrix that is not positive definite.
    pub fn from_matrix(n: usize, matrix: Vec<f64>) -> Result<Self> {
        if n == 0 || matrix.len() != n * n {
            return Err(Error::invalid_input(format!(
                "field `covariance`: {} entries, expected {n} × {n} (n > 0)",
                matrix.len()
            )));
        }
        for i in 0..n {
            for j in 0..n {
                let (a, b) = (matrix[i * n + j], matrix[j * n + i]);
                if !a.is_finite() {
                    return Err(Error::invalid_input(format!(
                        "field `covariance`: entry ({i}, {j}) is {a}, not finite"
                    )));
                }
                if (a - b).abs() > 1e-10 * a.abs().max(b.abs()).max(f64::MIN_POSITIVE) {
                    return Err(Error::invalid_input(format!(
                        "field `covariance`: not symmetric, ({i}, {j}) = {a} but ({j}, {i}) = {b}"
                    )));
                }
            }
        }
        let Some(upper) = cholesky_upper(n, &matrix) else {
            return Err(Error::invalid_input(
                "field `covariance`: not positive definite (its Cholesky factorisation fails)",
            ));
        };
        Ok(Self {
            n,
            matrix,
            diag: vec![0.0; n],
            factor: upper,
            shrinkage: None,
        })
    }

    /// The number of assets.
    pub fn assets(&self) -> usize {
        self.n
    }

    /// The matrix row by row: entry `(i, j)` is `matrix()[i * n + j]`.
    pub fn matrix(&self) -> &[f64] {
        &self.matrix
    }

    /// Entry `(i, j)`.
    ///
    /// # Panics
    ///
    /// When `i` or `j` is not below [`assets`](Self::assets).
    pub fn get(&self, i: usize, j: usize) -> f64 {
        assert!(i < self.n && j < self.n, "covariance index out of range");
        self.matrix[i * self.n + j]
    }

    /// The Ledoit-Wolf shrinkage intensity `δ` when the matrix came from
    /// [`ledoit_wolf`](super::ledoit_wolf).
    pub fn shrinkage(&self) -> Option<f64> {
        self.shrinkage
    }

    /// `wᵀΣw`.
    pub fn variance(&self, w: &[f64]) -> f64 {
        let n = self.n;
        let mut total = 0.0;
        for (i, wi) in w.iter().enumerate().take(n) {
            let row = &self.matrix[i * n..i * n + n];
            total += wi * row.iter().zip(w).map(|(s, wj)| s * wj).sum::<f64>();
        }
        total.max(0.0)
    }

    /// The diagonal part `d` of `Σ = diag(d) + FᵀF`.
    pub(crate) fn diag(&self) -> &[f64] {
        &self.diag
    }

    /// `F` row by row (`m × n`).
    pub(crate) fn factor(&self) -> &[f64] {
        &self.factor
    }
}

/// The upper Cholesky factor `U` (`Σ = UᵀU`), row by row, or `None` when the matrix is not
/// (numerically) positive definite.
fn cholesky_upper(n: usize, a: &[f64]) -> Option<Vec<f64>> {
    // Lower factor L column by column, then transpose.
    let mut l = vec![0.0; n * n];
    let scale = (0..n).map(|i| a[i * n + i].abs()).fold(0.0, f64::max);
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= l[j * n + k] * l[j * n + k];
        }
        if d.is_nan() || d <= 1e-14 * scale {
            return None;
        }
        let d = d.sqrt();
        l[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            let (ri, rj) = (&l[i * n..i * n + j], &l[j * n..j * n + j]);
            s -= ri.iter().zip(rj).map(|(x, y)| x * y).sum::<f64>();
            l[i * n + j] = s / d;
        }
    }
    let mut u = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            u[j * n + i] = l[i * n + j];
        }
    }
    Some(u)
}
