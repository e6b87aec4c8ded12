"""Writes sentiment.json: VADER scores of ~200 finance headlines, for tests/sentiment_golden.rs.

Reference: vaderSentiment 3.3.2 (MIT), the lexicon the crate ships. Recreate the venv with

    python3 -m venv /work/venvs/vader
    /work/venvs/vader/bin/pip install vaderSentiment==3.3.2

and run `/work/venvs/vader/bin/python packs/trading/tests/golden/generate_sentiment.py`.

The library rounds its scores (pos/neg/neu to 3 decimals, compound to 4); the fixture holds
the unrounded values (the module's `round` is replaced by the identity) so that the Rust port
can be compared to 1e-4 and better.
"""

import itertools
import json
import pathlib

import vaderSentiment
import vaderSentiment.vaderSentiment as vs

vs.round = lambda x, n=None: x  # unrounded scores

HAND_WRITTEN = [
    "Apple beats earnings expectations, raises guidance",
    "Tesla shares plunge after disappointing deliveries",
    "Microsoft posts record revenue as cloud growth accelerates",
    "Bank stocks tumble on fears of a credit crunch",
    "Oil prices are not expected to recover this year",
    "Investors are not worried about the rate hike",
    "Amazon profit is very strong but margins are weak",
    "Fed signals no cuts, markets are hardly impressed",
    "The merger is a HUGE win for shareholders!",
    "Shares CRASH as fraud probe widens!!!",
    "Retailer warns of slightly weaker holiday sales",
    "Chipmaker reports extremely good results and upbeat outlook",
    "Analysts say the stock is kind of overvalued",
    "Company denies wrongdoing but faces lawsuit",
    "Earnings were good, but guidance was terrible",
    "Guidance was terrible, but earnings were good",
    "Regulators approve the deal without conditions",
    "Without a doubt, an excellent quarter for the bank",
    "The outlook has never been so bright",
    "The outlook has never been bright",
    "Profit warning: losses widen and debt piles up",
    "Strong dollar hurts exporters",
    "Gold rallies as investors seek safety",
    "Bitcoin soars to a new all-time high!!",
    "Crypto exchange collapses amid bankruptcy fears",
    "Startup raises funding in an oversubscribed round",
    "Airline cancels flights, stock falls sharply",
    "Pharma giant wins approval for breakthrough drug",
    "Drug trial fails, shares sink",
    "CEO resigns amid scandal",
    "Board praises CEO for outstanding leadership",
    "Dividend cut disappoints income investors",
    "Dividend increase delights shareholders",
    "Unemployment rises unexpectedly",
    "Inflation cools, easing pressure on consumers",
    "Markets are calm ahead of the jobs report",
    "Volatility spikes as panic selling hits Wall Street",
    "Is this the end of the bull market??",
    "Why is nobody talking about this risk???",
    "Will stocks rally? Maybe.",
    "No growth expected for the sector",
    "No problem with the balance sheet, says CFO",
    "The company is at least profitable",
    "The least profitable quarter in a decade",
    "Very least concern for investors",
    "Shares rose 5% on upbeat guidance.",
    "Shares fell 5%, wiping out gains.",
    "Up, up and away: stock triples",
    "Sales are down; costs are up.",
    "WARNING: major accounting errors found",
    "ACME Corp DOUBLES profit",
    "ALL CAPS HEADLINE ABOUT GREAT RESULTS",
    "The deal is dead",
    "Layoffs hit thousands of workers",
    "Company avoids bankruptcy, secures rescue loan",
    "Rescue deal fails to calm nervous markets",
    "Sentiment improves as trade tensions ease",
    "Trade war escalates, hurting global growth",
    "Record highs for the index despite weak data",
    "Weak data, yet the index hits record highs",
    "Not bad at all for a turnaround story",
    "Not good enough, says activist investor",
    "Hardly a disaster, analysts argue",
    "Barely profitable, the firm struggles to grow",
    "Somewhat better than feared",
    "Quite a disappointing quarter",
    "Totally unexpected loss shocks the market",
    "Incredibly resilient consumer spending supports growth",
    "Bond yields jump; equities slide",
    "Housing market slows but prices hold up",
    "Tech stocks rebound after brutal selloff",
    "Brutal selloff continues, no end in sight",
    "Merger talks collapse",
    "Merger talks progress well",
    "Buyback plan boosts confidence",
    "Short sellers bet against the struggling retailer",
    "Credit rating downgraded to junk",
    "Credit rating upgraded on solid cash flow",
    "Supply chain problems ease",
    "Supply chain problems worsen",
    "Factory output surprises to the upside",
    "Consumer confidence plunges to a record low",
    "Consumer confidence hits a five-year high",
    "Shareholders reject the generous offer",
    "Shareholders welcome the generous offer",
    "Fraud charges filed against former executives",
    "Executives cleared of all charges",
    "Stock is a great buy, says bullish analyst",
    "Stock is a terrible buy, says cautious analyst",
    "Company fails to meet targets yet again",
    "Company meets targets, but investors want more",
    "Earnings miss; shares drop sharply!",
    "Earnings beat; shares jump!",
    "Kind of a good week for small caps",
    "Sort of a bad week for tech",
    "It isn't a horrible result",
    "It wasn't a great result",
    "Nothing good came out of the meeting",
    "Investors seldom see such a strong rally",
    "Rarely has the market been this optimistic",
    "The economy is in the red",
    "Growth is the bomb, says bullish strategist",
    "Yeah right, another soft landing",
    "This rally is the kiss of death for shorts",
    "Defensive stocks outperform as fear grips markets",
]

SUBJECTS = ["Acme", "Globex shares", "The bank", "Initech", "Tech stocks"]
PATTERNS = [
    "{s} report {adv} {adj} results",
    "{s} are not {adj} after the announcement",
    "{s} post {adj} numbers, but the outlook is {adj2}",
    "{s}: {ADJ} quarter{bang}",
    "{s} see {adv} {adj} demand{bang}",
]
ADVERBS = ["very", "slightly", "extremely", "barely", "really", "somewhat"]
ADJECTIVES = ["strong", "weak", "good", "bad", "disappointing", "excellent", "solid", "poor"]


def templated():
    out = []
    combos = itertools.product(PATTERNS, SUBJECTS, ADVERBS, ADJECTIVES)
    for k, (p, s, adv, adj) in enumerate(combos):
        if k % 5 != 0:
            continue
        adj2 = ADJECTIVES[(k // 5) % len(ADJECTIVES)]
        bang = "!" * (k % 4)
        out.append(p.format(s=s, adv=adv, adj=adj, adj2=adj2, ADJ=adj.upper(), bang=bang))
    return out


def main():
    analyzer = vs.SentimentIntensityAnalyzer()
    headlines = HAND_WRITTEN + templated()
    headlines = list(dict.fromkeys(headlines))[:200]
    cases = []
    for h in headlines:
        s = analyzer.polarity_scores(h)
        cases.append({"text": h, **{k: float(s[k]) for k in ("compound", "pos", "neg", "neu")}})
    out = {
        "reference": "vaderSentiment 3.3.2 (unrounded scores)",
        "cases": cases,
    }
    path = pathlib.Path(__file__).with_name("sentiment.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"{len(cases)} headlines -> {path}")


if __name__ == "__main__":
    main()
