//! Lexicon-based sentiment of dated headlines: VADER's scores per headline with a confidence,
//! a `date,symbol,headline` CSV format and a daily score per symbol.
//!
//! The scorer is VADER (Hutto & Gilbert, 2014), rule for rule as Python's `vaderSentiment`
//! 3.3.2 with its lexicon (MIT licence, shipped in `sentiment/vader_lexicon.txt` with its
//! notice); `tests/sentiment_golden.rs` checks about 200 finance headlines against the Python
//! library to 1e-4. Extra terms (a finance layer, say) can be laid over the plain lexicon with
//! [`SentimentAnalyzer::with_terms`]; without them the scores are plain VADER's.
//!
//! ```
//! use cadre_pack_trading::sentiment::SentimentAnalyzer;
//! let vader = SentimentAnalyzer::new();
//! let s = vader.score("Profits surge as demand stays strong");
//! assert!(s.compound > 0.5 && s.confidence > 0.0);
//! let s = vader.score("Shares did not crash despite weak guidance");
//! assert!(s.compound < 0.5);
//! ```

mod vader;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use cadre_core::{Error, ErrorCode, Result};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use crate::market::parse_date;

/// The sentiment of one text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sentiment {
    /// VADER's normalised compound score in [−1, 1]: `x / √(x² + 15)` of the summed valences.
    pub compound: f64,
    /// The positive share of the text (`pos + neg + neu = 1` when any word was scored).
    pub pos: f64,
    /// The negative share.
    pub neg: f64,
    /// The neutral share.
    pub neu: f64,
    /// How far to trust the score, in [0, 1]: `√coverage · (0.5 + 0.5·|compound|)`, where
    /// `coverage` is the share of the text's words the lexicon knows. 0 when it knows none; a
    /// strong score from a text whose every word is known gives 1.
    pub confidence: f64,
}

/// A VADER scorer over the shipped lexicon, optionally with extra terms laid over it.
#[derive(Debug, Clone, Default)]
pub struct SentimentAnalyzer {
    /// Terms added to or overriding the VADER lexicon (lowercase word → valence, −4 to 4).
    extra: Option<HashMap<String, f64>>,
}

impl SentimentAnalyzer {
    /// Plain VADER.
    pub fn new() -> Self {
        Self::default()
    }

    /// VADER with extra terms laid over its lexicon (a later one wins). Words are matched in
    /// lowercase, so give them in lowercase; valences use VADER's −4 to 4 scale.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a word with whitespace, an empty word or a valence outside [−4, 4].
    pub fn with_terms<'a>(terms: impl IntoIterator<Item = (&'a str, f64)>) -> Result<Self> {
        let mut lexicon = vader::vader_lexicon().clone();
        for (word, v) in terms {
            if word.is_empty() || word.chars().any(char::is_whitespace) {
                return Err(Error::invalid_input(format!(
                    "sentiment: term `{word}` must be one word"
                )));
            }
            if !(-4.0..=4.0).contains(&v) {
                return Err(Error::invalid_input(format!(
                    "sentiment: term `{word}`: valence {v} must lie in [-4, 4]"
                )));
            }
            lexicon.insert(word.to_lowercase(), v);
        }
        Ok(Self {
            extra: Some(lexicon),
        })
    }

    /// Scores one text (a headline, a sentence).
    pub fn score(&self, text: &str) -> Sentiment {
        let lexicon = self
            .extra
            .as_ref()
            .unwrap_or_else(|| vader::vader_lexicon());
        let s = vader::polarity_scores(text, lexicon);
        let coverage = if s.words == 0 {
            0.0
        } else {
            s.known as f64 / s.words as f64
        };
        Sentiment {
            compound: s.compound,
            pos: s.pos,
            neg: s.neg,
            neu: s.neu,
            confidence: coverage.sqrt() * (0.5 + 0.5 * s.compound.abs()),
        }
    }
}

/// One dated headline about a symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headline {
    /// When it was published (UTC).
    pub time: DateTime<Utc>,
    /// The symbol it is about.
    pub symbol: String,
    /// The headline's text.
    pub text: String,
}

const COLUMNS: [&str; 3] = ["date", "symbol", "headline"];

/// Loads a headlines CSV file. See [`parse_headlines`] for the format.
///
/// # Errors
///
/// `InvalidInput` naming the file (and line and field) when it cannot be read or parsed.
pub fn load_headlines(path: impl AsRef<Path>) -> Result<Vec<Headline>> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::new(
            ErrorCode::InvalidInput,
            format!("{}: cannot read: {e}", path.display()),
        )
    })?;
    parse_headlines(&text, &path.display().to_string())
}

/// Parses headlines CSV text; `source` names it in errors.
///
/// The header is `date,symbol,headline` (case and surrounding spaces ignored). Dates are RFC
/// 3339 (any offset, converted to UTC) or `YYYY-MM-DD` (midnight UTC). A field may be
/// double-quoted, and then hold commas and doubled quotes (`"He said ""buy"", twice"`), but
/// not line breaks. Blank lines are skipped; the symbol and the headline must not be empty.
///
/// # Errors
///
/// `InvalidInput` as `source:line: field `name`: ...`.
pub fn parse_headlines(text: &str, source: &str) -> Result<Vec<Headline>> {
    let rows = crate::table::read(
        text,
        source,
        &COLUMNS,
        " (quote a headline that has commas)",
    )?;
    let at = |line: usize, msg: &str| crate::table::error_at(source, line, msg);
    rows.into_iter()
        .map(|row| {
            // `read` checked the count: one field per column.
            let mut fields = row.fields.into_iter();
            let mut next = || fields.next().unwrap_or_default();
            let (date, symbol, headline) = (next(), next(), next());
            let time =
                parse_date(&date).map_err(|m| at(row.line, &format!("field `date`: {m}")))?;
            if symbol.is_empty() {
                return Err(at(row.line, "field `symbol`: is empty"));
            }
            if headline.is_empty() {
                return Err(at(row.line, "field `headline`: is empty"));
            }
            Ok(Headline {
                time,
                symbol,
                text: headline,
            })
        })
        .collect()
}

/// A headline with its score.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredHeadline {
    /// The headline.
    pub headline: Headline,
    /// Its sentiment.
    pub sentiment: Sentiment,
}

impl SentimentAnalyzer {
    /// Scores every headline.
    pub fn score_all(&self, headlines: &[Headline]) -> Vec<ScoredHeadline> {
        headlines
            .iter()
            .map(|h| ScoredHeadline {
                headline: h.clone(),
                sentiment: self.score(&h.text),
            })
            .collect()
    }
}

/// The sentiment of one symbol on one UTC day.
#[derive(Debug, Clone, PartialEq)]
pub struct DailySentiment {
    /// The symbol.
    pub symbol: String,
    /// The UTC day.
    pub date: NaiveDate,
    /// The confidence-weighted mean compound score (0 when every weight is 0).
    pub score: f64,
    /// The total weight behind `score` (sum of confidences, decayed).
    pub weight: f64,
    /// Headlines published on the day.
    pub headlines: usize,
}

/// Aggregates scored headlines per symbol and UTC day, in symbol then date order.
///
/// Without a half-life, a day's score is the mean compound of that day's headlines weighted by
/// their confidence. With `half_life_days`, every headline of the symbol published up to the
/// end of the day counts, its weight multiplied by `0.5^(age / half_life)`, the age measured
/// from the end of the day (midnight UTC after it): a decaying memory of earlier news.
///
/// # Errors
///
/// `InvalidInput` for a half-life that is not a positive number.
pub fn aggregate_daily(
    scored: &[ScoredHeadline],
    half_life_days: Option<f64>,
) -> Result<Vec<DailySentiment>> {
    if let Some(h) = half_life_days
        && !(h.is_finite() && h > 0.0)
    {
        return Err(Error::invalid_input(format!(
            "sentiment: `half_life_days` must be > 0, got {h}"
        )));
    }
    let mut by_symbol: BTreeMap<&str, Vec<&ScoredHeadline>> = BTreeMap::new();
    for s in scored {
        by_symbol.entry(&s.headline.symbol).or_default().push(s);
    }
    let mut out = Vec::new();
    for (symbol, mut items) in by_symbol {
        items.sort_by_key(|s| s.headline.time);
        let mut days: BTreeMap<NaiveDate, usize> = BTreeMap::new();
        for s in &items {
            *days.entry(s.headline.time.date_naive()).or_default() += 1;
        }
        for (date, count) in days {
            let end = (date + TimeDelta::days(1))
                .and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc())
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            let (mut num, mut den) = (0.0, 0.0);
            for s in items.iter().take_while(|s| s.headline.time < end) {
                let decay = match half_life_days {
                    None if s.headline.time.date_naive() != date => continue,
                    None => 1.0,
                    Some(h) => {
                        let age = (end - s.headline.time).num_milliseconds() as f64 / 86_400_000.0;
                        0.5f64.powf(age / h)
                    }
                };
                let w = s.sentiment.confidence * decay;
                num += w * s.sentiment.compound;
                den += w;
            }
            out.push(DailySentiment {
                symbol: symbol.to_owned(),
                date,
                score: if den > 0.0 { num / den } else { 0.0 },
                weight: den,
                headlines: count,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse_headlines(text, "news.csv").unwrap_err().to_string()
    }

    #[test]
    fn parses_quoted_headlines_and_names_bad_fields() {
        let text = "Date,Symbol,Headline\n\
                    2026-01-05,AAPL,\"Apple beats, raises \"\"strong\"\" guidance\"\n\
                    \n\
                    2026-01-05T15:00:00+01:00, MSFT , Microsoft slips\n";
        let h = parse_headlines(text, "news.csv").unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].text, "Apple beats, raises \"strong\" guidance");
        assert_eq!(h[1].symbol, "MSFT");
        assert_eq!(h[1].time.to_rfc3339(), "2026-01-05T14:00:00+00:00");
        let hd = "date,symbol,headline\n";
        assert_eq!(
            err(&format!("{hd}2026-01-05,AAPL,a, b\n")),
            "news.csv:2: 4 fields, expected 3 (quote a headline that has commas)"
        );
        assert_eq!(
            err(&format!("{hd}2026-02-30,AAPL,x\n")),
            "news.csv:2: field `date`: `2026-02-30` is neither RFC 3339 nor YYYY-MM-DD"
        );
        assert_eq!(
            err(&format!("{hd}2026-01-05,,x\n")),
            "news.csv:2: field `symbol`: is empty"
        );
        assert_eq!(
            err(&format!("{hd}2026-01-05,A,\"open\n")),
            "news.csv:2: field 3: unterminated quoted field"
        );
        assert!(err("a,b\n").starts_with("news.csv:1: header is `a,b`"));
        assert!(err("").starts_with("news.csv: empty file"));
    }

    fn scored(time: &str, symbol: &str, compound: f64, confidence: f64) -> ScoredHeadline {
        ScoredHeadline {
            headline: Headline {
                time: parse_date(time).unwrap(),
                symbol: symbol.into(),
                text: String::new(),
            },
            sentiment: Sentiment {
                compound,
                pos: 0.0,
                neg: 0.0,
                neu: 1.0,
                confidence,
            },
        }
    }

    #[test]
    fn daily_means_are_confidence_weighted_and_decay() {
        let s = [
            scored("2026-01-06T10:00:00Z", "A", -0.5, 0.5),
            scored("2026-01-05T12:00:00Z", "A", 0.8, 1.0),
            scored("2026-01-05T18:00:00Z", "A", 0.2, 0.5),
            scored("2026-01-05T18:00:00Z", "B", 0.1, 0.0),
        ];
        let d = aggregate_daily(&s, None).unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!((d[0].symbol.as_str(), d[0].headlines), ("A", 2));
        assert!((d[0].score - (0.8 + 0.1) / 1.5).abs() < 1e-12);
        assert_eq!(d[1].score, -0.5);
        assert_eq!((d[2].score, d[2].weight), (0.0, 0.0));
        // Half-life of one day: on the 6th, the 5th's news (aged 1.5 and 1.25 days) still counts.
        let d = aggregate_daily(&s, Some(1.0)).unwrap();
        let w = [
            0.5 * 0.5f64.powf(14.0 / 24.0),
            0.5f64.powf(1.5),
            0.5 * 0.5f64.powf(1.25),
        ];
        let want = (w[0] * -0.5 + w[1] * 0.8 + w[2] * 0.2) / (w[0] + w[1] + w[2]);
        assert!(
            (d[1].score - want).abs() < 1e-12,
            "{} vs {want}",
            d[1].score
        );
        assert!(aggregate_daily(&s, Some(0.0)).is_err());
    }

    #[test]
    fn confidence_follows_coverage_and_strength_and_terms_layer_over() {
        let vader = SentimentAnalyzer::new();
        assert_eq!(vader.score("Acme files 10-Q").confidence, 0.0);
        let strong = vader.score("great wonderful excellent");
        assert!(strong.confidence > 0.95, "{strong:?}");
        let finance =
            SentimentAnalyzer::with_terms([("bullish", 2.5), ("downgrade", -2.0)]).unwrap();
        let plain = vader.score("Analysts downgrade Acme");
        assert_eq!(plain.compound, 0.0);
        assert!(finance.score("Analysts downgrade Acme").compound < -0.3);
        assert!(SentimentAnalyzer::with_terms([("two words", 1.0)]).is_err());
        assert!(SentimentAnalyzer::with_terms([("x", 5.0)]).is_err());
    }
}
