//! VADER (Hutto & Gilbert, 2014), rule for rule as `vaderSentiment` 3.3.2 scores a sentence:
//! the lexicon valence of each word, adjusted by the three words before it (boosters and
//! dampeners, negations, "never so", "without doubt", special idioms), "no" and "least",
//! ALL-CAPS emphasis when only some words are in capitals, "but" clauses (before ×0.5, after
//! ×1.5), `!` and `?` emphasis, and the compound `x / √(x² + 15)`.
//!
//! Intentional differences from the Python library: emoji are not translated into words
//! (headlines are emoji-free) and the scores are not rounded (Python rounds `pos`, `neg`,
//! `neu` to 3 decimals and `compound` to 4).

use std::collections::HashMap;
use std::sync::LazyLock;

const B_INCR: f64 = 0.293;
const B_DECR: f64 = -0.293;
const C_INCR: f64 = 0.733;
const N_SCALAR: f64 = -0.74;

const NEGATE: &[&str] = &[
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

const BOOST_UP: &[&str] = &[
    "absolutely",
    "amazingly",
    "awfully",
    "completely",
    "considerable",
    "considerably",
    "decidedly",
    "deeply",
    "effing",
    "enormous",
    "enormously",
    "entirely",
    "especially",
    "exceptional",
    "exceptionally",
    "extreme",
    "extremely",
    "fabulously",
    "flipping",
    "flippin",
    "frackin",
    "fracking",
    "fricking",
    "frickin",
    "frigging",
    "friggin",
    "fully",
    "fuckin",
    "fucking",
    "fuggin",
    "fugging",
    "greatly",
    "hella",
    "highly",
    "hugely",
    "incredible",
    "incredibly",
    "intensely",
    "major",
    "majorly",
    "more",
    "most",
    "particularly",
    "purely",
    "quite",
    "really",
    "remarkably",
    "so",
    "substantially",
    "thoroughly",
    "total",
    "totally",
    "tremendous",
    "tremendously",
    "uber",
    "unbelievably",
    "unusually",
    "utter",
    "utterly",
    "very",
];

const BOOST_DOWN: &[&str] = &[
    "almost",
    "barely",
    "hardly",
    "just enough",
    "kind of",
    "kinda",
    "kindof",
    "kind-of",
    "less",
    "little",
    "marginal",
    "marginally",
    "occasional",
    "occasionally",
    "partly",
    "scarce",
    "scarcely",
    "slight",
    "slightly",
    "somewhat",
    "sort of",
    "sorta",
    "sortof",
    "sort-of",
];

const SPECIAL_CASES: &[(&str, f64)] = &[
    ("the shit", 3.0),
    ("the bomb", 3.0),
    ("bad ass", 1.5),
    ("badass", 1.5),
    ("bus stop", 0.0),
    ("yeah right", -2.0),
    ("kiss of death", -1.5),
    ("to die for", 3.0),
    ("beating heart", 3.5),
];

/// ASCII punctuation, as Python's `string.punctuation`.
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

static VADER_LEXICON: LazyLock<HashMap<String, f64>> =
    LazyLock::new(|| parse_lexicon(include_str!("vader_lexicon.txt")));

/// Parses `word<TAB>valence` lines (`#` comments; a later duplicate wins, as in Python).
pub(crate) fn parse_lexicon(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut parts = line.split('\t');
        if let (Some(word), Some(v)) = (parts.next(), parts.next())
            && let Ok(v) = v.trim().parse::<f64>()
        {
            out.insert(word.trim().to_owned(), v);
        }
    }
    out
}

/// The plain VADER lexicon shipped with the crate.
pub(crate) fn vader_lexicon() -> &'static HashMap<String, f64> {
    &VADER_LEXICON
}

fn booster(word: &str) -> Option<f64> {
    if BOOST_UP.contains(&word) {
        Some(B_INCR)
    } else if BOOST_DOWN.contains(&word) {
        Some(B_DECR)
    } else {
        None
    }
}

fn special_case(seq: &str) -> Option<f64> {
    SPECIAL_CASES
        .iter()
        .find(|(k, _)| *k == seq)
        .map(|(_, v)| *v)
}

/// Python's `str.isupper()`: at least one cased character and no lowercase one.
fn is_upper(word: &str) -> bool {
    word.chars().any(char::is_uppercase) && !word.chars().any(char::is_lowercase)
}

fn negated(word_lower: &str) -> bool {
    NEGATE.contains(&word_lower) || word_lower.contains("n't")
}

/// Splits on whitespace and strips leading and trailing punctuation from a token unless that
/// leaves two characters or fewer (then the token is kept whole, as an emoticon).
fn tokens(text: &str) -> Vec<&str> {
    text.split_whitespace()
        .map(|t| {
            let stripped = t.trim_matches(|c| PUNCTUATION.contains(c));
            if stripped.chars().count() <= 2 {
                t
            } else {
                stripped
            }
        })
        .collect()
}

/// The raw VADER scores of one text, unrounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Scores {
    pub(crate) compound: f64,
    pub(crate) pos: f64,
    pub(crate) neg: f64,
    pub(crate) neu: f64,
    /// Tokens in the text.
    pub(crate) words: usize,
    /// Tokens the lexicon knows.
    pub(crate) known: usize,
}

pub(crate) fn polarity_scores(text: &str, lexicon: &HashMap<String, f64>) -> Scores {
    let text = text.trim();
    let words = tokens(text);
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let in_lex = |w: &str| lexicon.contains_key(w);
    let caps = words.iter().filter(|w| is_upper(w)).count();
    let cap_diff = caps > 0 && caps < words.len();
    let mut sentiments: Vec<f64> = Vec::with_capacity(words.len());
    for (i, item) in words.iter().enumerate() {
        let il = lower[i].as_str();
        if booster(il).is_some() || (il == "kind" && lower.get(i + 1).is_some_and(|n| n == "of")) {
            sentiments.push(0.0);
            continue;
        }
        let Some(&lex) = lexicon.get(il) else {
            sentiments.push(0.0);
            continue;
        };
        let mut valence = lex;
        if il == "no" && i + 1 < words.len() && in_lex(&lower[i + 1]) {
            valence = 0.0;
        }
        if (i > 0 && lower[i - 1] == "no")
            || (i > 1 && lower[i - 2] == "no")
            || (i > 2 && lower[i - 3] == "no" && (lower[i - 1] == "or" || lower[i - 1] == "nor"))
        {
            valence = lex * N_SCALAR;
        }
        if is_upper(item) && cap_diff {
            valence += if valence > 0.0 { C_INCR } else { -C_INCR };
        }
        for start in 0..3 {
            if i > start && !in_lex(&lower[i - (start + 1)]) {
                let prev = words[i - (start + 1)];
                let mut s = scalar_inc_dec(prev, &lower[i - (start + 1)], valence, cap_diff);
                if start == 1 && s != 0.0 {
                    s *= 0.95;
                }
                if start == 2 && s != 0.0 {
                    s *= 0.9;
                }
                valence += s;
                valence = negation_check(valence, &lower, start, i);
                if start == 2 {
                    valence = special_idioms_check(valence, &lower, i);
                }
            }
        }
        valence = least_check(valence, &lower, i, &in_lex);
        sentiments.push(valence);
    }
    but_check(&lower, &mut sentiments);
    let known = lower.iter().filter(|w| in_lex(w)).count();
    let mut out = score_valence(&sentiments, text);
    out.words = words.len();
    out.known = known;
    out
}

fn scalar_inc_dec(word: &str, word_lower: &str, valence: f64, cap_diff: bool) -> f64 {
    let Some(mut scalar) = booster(word_lower) else {
        return 0.0;
    };
    if valence < 0.0 {
        scalar = -scalar;
    }
    if is_upper(word) && cap_diff {
        scalar += if valence > 0.0 { C_INCR } else { -C_INCR };
    }
    scalar
}

fn negation_check(valence: f64, w: &[String], start: usize, i: usize) -> f64 {
    match start {
        0 if negated(&w[i - 1]) => valence * N_SCALAR,
        1 => {
            if w[i - 2] == "never" && (w[i - 1] == "so" || w[i - 1] == "this") {
                valence * 1.25
            } else if w[i - 2] == "without" && w[i - 1] == "doubt" {
                valence
            } else if negated(&w[i - 2]) {
                valence * N_SCALAR
            } else {
                valence
            }
        }
        2 => {
            // Python's precedence: `a and (b or c) or (d or e)`.
            if (w[i - 3] == "never" && (w[i - 2] == "so" || w[i - 2] == "this"))
                || (w[i - 1] == "so" || w[i - 1] == "this")
            {
                valence * 1.25
            } else if w[i - 3] == "without" && (w[i - 2] == "doubt" || w[i - 1] == "doubt") {
                valence
            } else if negated(&w[i - 3]) {
                valence * N_SCALAR
            } else {
                valence
            }
        }
        _ => valence,
    }
}

fn special_idioms_check(mut valence: f64, w: &[String], i: usize) -> f64 {
    let onezero = format!("{} {}", w[i - 1], w[i]);
    let twoonezero = format!("{} {} {}", w[i - 2], w[i - 1], w[i]);
    let twoone = format!("{} {}", w[i - 2], w[i - 1]);
    let threetwoone = format!("{} {} {}", w[i - 3], w[i - 2], w[i - 1]);
    let threetwo = format!("{} {}", w[i - 3], w[i - 2]);
    for seq in [&onezero, &twoonezero, &twoone, &threetwoone, &threetwo] {
        if let Some(v) = special_case(seq) {
            valence = v;
            break;
        }
    }
    if w.len() - 1 > i
        && let Some(v) = special_case(&format!("{} {}", w[i], w[i + 1]))
    {
        valence = v;
    }
    if w.len() - 1 > i + 1
        && let Some(v) = special_case(&format!("{} {} {}", w[i], w[i + 1], w[i + 2]))
    {
        valence = v;
    }
    for gram in [&threetwoone, &threetwo, &twoone] {
        if let Some(b) = booster(gram) {
            valence += b;
        }
    }
    valence
}

fn least_check(valence: f64, w: &[String], i: usize, in_lex: &impl Fn(&str) -> bool) -> f64 {
    if i > 1 && !in_lex(&w[i - 1]) && w[i - 1] == "least" {
        if w[i - 2] != "at" && w[i - 2] != "very" {
            return valence * N_SCALAR;
        }
    } else if i > 0 && !in_lex(&w[i - 1]) && w[i - 1] == "least" {
        return valence * N_SCALAR;
    }
    valence
}

/// The "but" rule exactly as `vaderSentiment` 3.3.2 runs it: for each position in turn, the
/// *first* sentiment equal to the current value is halved before the first "but" and scaled by
/// 1.5 after it (Python's `list.index`, so equal values interact the same way).
fn but_check(w: &[String], sentiments: &mut [f64]) {
    let Some(bi) = w.iter().position(|x| x == "but") else {
        return;
    };
    for k in 0..sentiments.len() {
        let s = sentiments[k];
        let Some(si) = sentiments.iter().position(|&x| x == s) else {
            continue;
        };
        if si < bi {
            sentiments[si] = s * 0.5;
        } else if si > bi {
            sentiments[si] = s * 1.5;
        }
    }
}

fn punctuation_emphasis(text: &str) -> f64 {
    let ep = text.matches('!').count().min(4) as f64 * 0.292;
    let qm = match text.matches('?').count() {
        0 | 1 => 0.0,
        n @ 2..=3 => n as f64 * 0.18,
        _ => 0.96,
    };
    ep + qm
}

fn score_valence(sentiments: &[f64], text: &str) -> Scores {
    let zero = Scores {
        compound: 0.0,
        pos: 0.0,
        neg: 0.0,
        neu: 0.0,
        words: 0,
        known: 0,
    };
    if sentiments.is_empty() {
        return zero;
    }
    let mut sum: f64 = sentiments.iter().sum();
    let amp = punctuation_emphasis(text);
    if sum > 0.0 {
        sum += amp;
    } else if sum < 0.0 {
        sum -= amp;
    }
    let compound = (sum / (sum * sum + 15.0).sqrt()).clamp(-1.0, 1.0);
    let (mut pos, mut neg, mut neu) = (0.0f64, 0.0f64, 0usize);
    for &s in sentiments {
        if s > 0.0 {
            pos += s + 1.0;
        }
        if s < 0.0 {
            neg += s - 1.0;
        }
        if s == 0.0 {
            neu += 1;
        }
    }
    if pos > neg.abs() {
        pos += amp;
    } else if pos < neg.abs() {
        neg -= amp;
    }
    let total = pos + neg.abs() + neu as f64;
    Scores {
        compound,
        pos: (pos / total).abs(),
        neg: (neg / total).abs(),
        neu: (neu as f64 / total).abs(),
        ..zero
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(t: &str) -> Scores {
        polarity_scores(t, vader_lexicon())
    }

    #[test]
    fn the_readme_examples() {
        // vaderSentiment's own examples (rounded as the library prints them).
        for (text, compound) in [
            ("VADER is smart, handsome, and funny.", 0.8316),
            ("VADER is very smart, handsome, and funny.", 0.8545),
            ("VADER is VERY SMART, handsome, and FUNNY!!!", 0.9342),
            ("VADER is not smart, handsome, nor funny.", -0.7424),
            ("At least it isn't a horrible book.", 0.431),
            ("Today SUX!", -0.5461),
            ("Not bad at all", 0.431),
        ] {
            let got = score(text).compound;
            assert!(
                (got - compound).abs() < 5e-5,
                "{text}: {got}, want {compound}"
            );
        }
        assert_eq!(score("").compound, 0.0);
        assert_eq!(tokens("up, (a) wow!!"), vec!["up,", "(a)", "wow"]);
    }
}
