//! `report.html`: the figures, SVG plots (plotters) of the equity curve, the drawdown and the
//! weights over time, and the decision log.

use std::fmt::Write as _;

use plotters::prelude::*;

use super::report::{Report, Summary};

const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One line chart over the report's dates; `xs` are indices into `dates`.
fn chart(
    title: &str,
    dates: &[String],
    series: &[(String, Vec<(usize, f64)>)],
    percent: bool,
) -> String {
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (960, 320)).into_drawing_area();
        root.fill(&WHITE)?;
        let n = dates.len().max(2);
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (_, pts) in series {
            for (_, y) in pts {
                lo = lo.min(*y);
                hi = hi.max(*y);
            }
        }
        if !lo.is_finite() || !hi.is_finite() {
            lo = 0.0;
            hi = 1.0;
        }
        if hi - lo < 1e-12 {
            hi = lo + 1.0;
        }
        let pad = (hi - lo) * 0.05;
        let mut c = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(80)
            .build_cartesian_2d(0..n - 1, (lo - pad)..(hi + pad))?;
        c.configure_mesh()
            .x_labels(8)
            .y_labels(6)
            .x_label_formatter(&|i| dates.get(*i).cloned().unwrap_or_default())
            .y_label_formatter(&|y| {
                if percent {
                    format!("{:.0}%", y * 100.0)
                } else {
                    format!("{y:.0}")
                }
            })
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        for (i, (name, pts)) in series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            c.draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        if series.len() > 1 {
            c.configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK.mix(0.3))
                .draw()?;
        }
        root.present()?;
        Ok(())
    })();
    match drawn {
        Ok(()) => svg,
        Err(e) => format!(
            "<p>(plot `{}` unavailable: {})</p>",
            escape(title),
            escape(&e.to_string())
        ),
    }
}

fn drawdown(equity: &[f64]) -> Vec<(usize, f64)> {
    let mut peak = f64::MIN;
    equity
        .iter()
        .enumerate()
        .map(|(i, e)| {
            peak = peak.max(*e);
            (i, if peak > 0.0 { e / peak - 1.0 } else { 0.0 })
        })
        .collect()
}

fn row(t: &mut String, cells: &[String]) {
    t.push_str("<tr>");
    for c in cells {
        let _ = write!(t, "<td>{}</td>", escape(c));
    }
    t.push_str("</tr>\n");
}

fn summary_table(t: &mut String, cols: &[&Summary]) {
    t.push_str("<table class=\"figures\"><tr><th></th>");
    for c in cols {
        let _ = write!(t, "<th>{} weights</th>", escape(&c.weighting));
    }
    t.push_str("</tr>\n");
    let pct = |x: f64| format!("{:.2}%", x * 100.0);
    let opt = |x: Option<f64>| x.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
    let lines: Vec<(&str, Vec<String>)> = vec![
        (
            "final equity",
            cols.iter()
                .map(|s| format!("{:.0}", s.final_equity))
                .collect(),
        ),
        ("CAGR", cols.iter().map(|s| pct(s.cagr)).collect()),
        (
            "volatility",
            cols.iter().map(|s| pct(s.volatility)).collect(),
        ),
        ("Sharpe", cols.iter().map(|s| opt(s.sharpe)).collect()),
        ("Sortino", cols.iter().map(|s| opt(s.sortino)).collect()),
        (
            "max drawdown",
            cols.iter().map(|s| pct(s.max_drawdown)).collect(),
        ),
        (
            "VaR 95% (1 day)",
            cols.iter().map(|s| pct(s.var_95)).collect(),
        ),
        (
            "CVaR 95% (1 day)",
            cols.iter().map(|s| pct(s.cvar_95)).collect(),
        ),
        (
            "turnover / year",
            cols.iter().map(|s| format!("{:.2}x", s.turnover)).collect(),
        ),
        (
            "hit rate",
            cols.iter()
                .map(|s| s.hit_rate.map_or_else(|| "-".into(), pct))
                .collect(),
        ),
        (
            "trades",
            cols.iter().map(|s| s.trades.to_string()).collect(),
        ),
        (
            "fees",
            cols.iter().map(|s| format!("{:.0}", s.fees)).collect(),
        ),
        (
            "slippage",
            cols.iter().map(|s| format!("{:.0}", s.slippage)).collect(),
        ),
        (
            "decisions",
            cols.iter().map(|s| s.decisions.to_string()).collect(),
        ),
    ];
    for (name, vals) in lines {
        let mut cells = vec![name.to_owned()];
        cells.extend(vals);
        row(t, &cells);
    }
    t.push_str("</table>\n");
}

/// The report as a standalone HTML page.
pub(super) fn render(r: &Report) -> String {
    let mut t = String::new();
    let _ = write!(
        t,
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>cadre trading desk report</title>\n\
         <style>body{{font-family:sans-serif;margin:2em;max-width:1000px}}table{{border-collapse:collapse;margin:1em 0}}\
         td,th{{border:1px solid #ddd;padding:3px 8px;text-align:right;font-size:13px}}td:first-child{{text-align:left}}\
         .log td{{text-align:left}}</style></head><body>\n<h1>Trading desk report</h1>\n<p>{} — {} to {}</p>\n",
        escape(&r.market),
        escape(&r.period.0),
        escape(&r.period.1)
    );
    let cols: Vec<&Summary> = std::iter::once(&r.summary)
        .chain(r.comparison.as_ref())
        .collect();
    summary_table(&mut t, &cols);
    let mut curves = vec![(
        format!("{} weights", r.summary.weighting),
        r.equity.iter().copied().enumerate().collect::<Vec<_>>(),
    )];
    if let Some(c) = &r.comparison {
        curves.push((
            format!("{} weights", c.weighting),
            r.equity_comparison.iter().copied().enumerate().collect(),
        ));
    }
    t.push_str("<h2>Equity</h2>\n");
    t.push_str(&chart("Equity", &r.dates, &curves, false));
    t.push_str("<h2>Drawdown</h2>\n");
    t.push_str(&chart(
        "Drawdown",
        &r.dates,
        &[("drawdown".to_owned(), drawdown(&r.equity))],
        true,
    ));
    // Weights over time: the symbols with the largest average weight.
    let k = r.symbols.len();
    let mut avg: Vec<(usize, f64)> = (0..k)
        .map(|s| {
            let sum: f64 = r
                .weights
                .iter()
                .map(|(_, w)| w.get(s).copied().unwrap_or(0.0))
                .sum();
            (s, sum)
        })
        .collect();
    avg.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let shown: Vec<(String, Vec<(usize, f64)>)> = avg
        .iter()
        .take(8)
        .filter(|(_, sum)| *sum > 0.0)
        .map(|(s, _)| {
            (
                r.symbols[*s].clone(),
                r.weights.iter().map(|(step, w)| (*step, w[*s])).collect(),
            )
        })
        .collect();
    t.push_str("<h2>Weights over time</h2>\n");
    if shown.is_empty() {
        t.push_str("<p>The desk held nothing.</p>\n");
    } else {
        t.push_str(&chart("Held weight (largest 8)", &r.dates, &shown, true));
    }
    if !r.walk_forward.is_empty() {
        t.push_str("<h2>Walk-forward</h2>\n<table><tr><th>fold</th><th>train</th><th>test</th><th>learned weights</th><th>CAGR (learned)</th><th>Sharpe (learned)</th><th>CAGR (configured)</th><th>Sharpe (configured)</th></tr>\n");
        for f in &r.walk_forward {
            let weights: Vec<String> = f
                .weights
                .iter()
                .map(|(k, w)| format!("{k} {w:.2}"))
                .collect();
            let opt = |x: Option<f64>| x.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
            row(
                &mut t,
                &[
                    f.fold.to_string(),
                    format!("{} .. {}", f.train.0, f.train.1),
                    format!("{} .. {}", f.test.0, f.test.1),
                    weights.join(", "),
                    format!("{:.2}%", f.test_summary.cagr * 100.0),
                    opt(f.test_summary.sharpe),
                    format!("{:.2}%", f.baseline_summary.cagr * 100.0),
                    opt(f.baseline_summary.sharpe),
                ],
            );
        }
        t.push_str("</table>\n");
    }
    t.push_str("<h2>Voters</h2>\n<table><tr><th>voter</th><th>votes</th><th>accuracy</th><th>weight at start</th><th>weight at end</th></tr>\n");
    for (name, a) in &r.agents {
        row(
            &mut t,
            &[
                name.clone(),
                a.votes.to_string(),
                a.accuracy
                    .map_or_else(|| "-".into(), |x| format!("{:.1}%", x * 100.0)),
                format!("{:.3}", a.start_weight),
                format!("{:.3}", a.final_weight),
            ],
        );
    }
    t.push_str("</table>\n");
    if let Some(s) = &r.stress {
        let _ = write!(
            t,
            "<h2>Stress of the final book</h2>\n<p>Exposure {:.0}; correlated GBM over {} trading days, {} paths: \
             VaR 95% {:.0}, CVaR 95% {:.0}, VaR 99% {:.0}.</p>\n<table><tr><th>scenario</th><th>P&amp;L</th></tr>\n",
            s.exposure, s.horizon_days, s.paths, s.var_95, s.cvar_95, s.var_99
        );
        for sc in &s.scenarios {
            row(&mut t, &[sc.name.clone(), format!("{:.0}", sc.pnl)]);
        }
        t.push_str("</table>\n");
    }
    if !r.breaches.is_empty() {
        t.push_str("<h2>Limit breaches</h2>\n<table class=\"log\">\n");
        for b in &r.breaches {
            row(&mut t, &[b.date.clone(), b.breach.clone()]);
        }
        t.push_str("</table>\n");
    }
    let _ = write!(
        t,
        "<h2>Decision log</h2>\n<p>{} decisions.</p>\n<table class=\"log\"><tr><th>date</th><th>symbol</th><th>side</th>\
         <th>size</th><th>proposer</th><th>outcome</th><th>score</th><th>votes</th><th>rationale</th></tr>\n",
        r.decision_log.len()
    );
    for d in &r.decision_log {
        let votes: Vec<String> = d
            .votes
            .iter()
            .map(|v| {
                format!(
                    "{} {} {:.2}×{:.2}",
                    v.agent, v.verdict, v.confidence, v.weight
                )
            })
            .collect();
        row(
            &mut t,
            &[
                d.date.clone(),
                d.symbol.clone(),
                d.side.clone(),
                format!("{:.0}", d.size),
                d.proposer.clone(),
                d.outcome.clone(),
                format!("{:+.2}", d.score),
                votes.join("; "),
                d.rationale.clone(),
            ],
        );
    }
    t.push_str("</table>\n</body></html>\n");
    t
}
