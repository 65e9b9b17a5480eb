#!/usr/bin/env python3
"""Reference values for tests/unit/test_indicators.c.

Reads the 120 ORCL daily bars that end on 2004-06-29 from
data/orcl-1995-2014.txt and computes each indicator in exact rational
arithmetic (fractions.Fraction on the doubles the CSV parses to; square
roots in 40-digit decimal), independently of the C code and of its order of
floating-point operations. Prints the C literals the test pins.

    python3 tests/data/indicators_reference.py data/orcl-1995-2014.txt
"""
import csv
import sys
from decimal import Decimal, getcontext
from fractions import Fraction as F

getcontext().prec = 40
END = "2004-06-29"
N_BARS = 120

rows = list(csv.DictReader(open(sys.argv[1])))
end = [r["Date"] for r in rows].index(END)
bars = rows[end - N_BARS + 1 : end + 1]
close = [F(float(r["Close"])) for r in bars]
high = [F(float(r["High"])) for r in bars]
low = [F(float(r["Low"])) for r in bars]


def sma(x, n):
    return sum(x[-n:]) / n


def ema(x, n):
    a = F(2, n + 1)
    e = sum(x[:n]) / n
    for v in x[n:]:
        e = a * v + (1 - a) * e
    return e


def wilder(values, n):
    avg = sum(values[:n]) / n
    for v in values[n:]:
        avg = (avg * (n - 1) + v) / n
    return avg


def rsi(x, n):
    d = [b - a for a, b in zip(x, x[1:])]
    g = wilder([max(v, 0) for v in d], n)
    l = wilder([max(-v, 0) for v in d], n)
    if l == 0:
        return F(50) if g == 0 else F(100)
    return 100 - F(100) / (1 + g / l)


def atr(h, l, c, n):
    tr = [max(h[i] - l[i], abs(h[i] - c[i - 1]), abs(l[i] - c[i - 1])) for i in range(1, len(c))]
    return wilder(tr, n)


def roc(x, n):
    return (x[-1] / x[-1 - n] - 1) * 100


def sqrt(q):
    return F(str((Decimal(q.numerator) / Decimal(q.denominator)).sqrt()))


def bollinger(x, n, k):
    m = sma(x, n)
    sd = sqrt(sum((v - m) ** 2 for v in x[-n:]) / n)
    return m - k * sd, m, m + k * sd, sd


def lit(name, q):
    print(f"#define {name} {float(q)!r}")


print(f"/* {bars[0]['Date']} .. {bars[-1]['Date']}, {len(bars)} bars */")
lit("REF_SMA10", sma(close, 10))
lit("REF_SMA30", sma(close, 30))
lit("REF_SMA10_PREV", sma(close[:-1], 10))
lit("REF_EMA10", ema(close, 10))
lit("REF_RSI14", rsi(close, 14))
lit("REF_ATR14", atr(high, low, close, 14))
lit("REF_ROC10", roc(close, 10))
lo, mid, up, sd = bollinger(close, 20, 2)
lit("REF_BB20_LOWER", lo)
lit("REF_BB20_MIDDLE", mid)
lit("REF_BB20_UPPER", up)
lit("REF_BB20_SD", sd)
lit("REF_MAX20_HIGH", max(high[-20:]))
lit("REF_MIN20_LOW", min(low[-20:]))
