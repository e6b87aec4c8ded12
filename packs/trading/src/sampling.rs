//! Random variates and the Cholesky factor shared by the synthetic market and the Monte Carlo
//! engine. Every variate is drawn from a caller-owned seeded [`fastrand::Rng`], so a seed fixes
//! the whole stream.

use cadre_core::{Error, Result};

/// A standard normal variate (Box–Muller, one draw of two uniforms per variate).
pub(crate) fn normal(rng: &mut fastrand::Rng) -> f64 {
    let u1 = 1.0 - rng.f64(); // (0, 1]
    let u2 = rng.f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A Poisson variate (Knuth; fine for small intensities).
pub(crate) fn poisson(rng: &mut fastrand::Rng, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    let limit = (-lambda).exp();
    let mut k = 0;
    let mut p = rng.f64();
    while p > limit {
        k += 1;
        p *= rng.f64();
    }
    k
}

/// The lower Cholesky factor of an `n`×`n` correlation matrix, or an error prefixed by `who`
/// saying what is wrong with it (shape, unit diagonal, symmetry, range, positive definiteness).
#[allow(clippy::needless_range_loop)] // matrix indices read clearer here
pub(crate) fn cholesky(m: &[Vec<f64>], n: usize, who: &str) -> Result<Vec<Vec<f64>>> {
    let bad = |msg: String| Err(Error::invalid_input(format!("{who}: `correlation`: {msg}")));
    if m.len() != n || m.iter().any(|row| row.len() != n) {
        return bad(format!("must be {n}x{n}, one row and column per symbol"));
    }
    for i in 0..n {
        if m[i][i] != 1.0 {
            return bad(format!("[{i}][{i}] must be 1, got {}", m[i][i]));
        }
        for j in 0..i {
            if !m[i][j].is_finite() || m[i][j] != m[j][i] || m[i][j].abs() > 1.0 {
                return bad(format!(
                    "[{i}][{j}] = {} must equal [{j}][{i}] = {} and lie in [-1, 1]",
                    m[i][j], m[j][i]
                ));
            }
        }
    }
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = m[i][i] - s;
                if d <= 1e-12 {
                    return bad("is not positive definite".into());
                }
                l[i][j] = d.sqrt();
            } else {
                l[i][j] = (m[i][j] - s) / l[j][j];
            }
        }
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_reproduces_the_matrix_and_rejects_bad_ones() {
        let m = vec![
            vec![1.0, 0.5, 0.2],
            vec![0.5, 1.0, -0.3],
            vec![0.2, -0.3, 1.0],
        ];
        let l = cholesky(&m, 3, "t").unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| l[i][k] * l[j][k]).sum();
                assert!((v - m[i][j]).abs() < 1e-14, "[{i}][{j}] {v}");
            }
        }
        let not_psd = vec![
            vec![1.0, 0.9, -0.9],
            vec![0.9, 1.0, 0.9],
            vec![-0.9, 0.9, 1.0],
        ];
        let e = cholesky(&not_psd, 3, "t").unwrap_err();
        assert_eq!(e.message(), "t: `correlation`: is not positive definite");
        assert!(cholesky(&m, 2, "t").is_err());
    }
}
