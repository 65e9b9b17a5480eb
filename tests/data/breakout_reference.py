#!/usr/bin/env python3
"""The Donchian breakout of examples/cpp/breakout.cpp, recomputed from the
ORCL file alone, for the trades tests/unit/test_examples.c pins.

Rule: flat and the close above the highest high of the 20 bars before it:
buy 100 at the next bar's open; held and the close below the lowest low of
the 10 bars before it: sell at the next bar's open; still held at the end:
closed at the last close (the backtest's end_of_data).

    python3 tests/data/breakout_reference.py data/orcl-1995-2014.txt
"""
import csv
import sys

rows = list(csv.DictReader(open(sys.argv[1])))
o, h, l, c = ([float(r[k]) for r in rows] for k in ("Open", "High", "Low", "Close"))
d = [r["Date"] for r in rows]
trades, pos = [], None
for i in range(len(rows) - 1):
    if pos is None and i >= 20 and c[i] > max(h[i - 20 : i]):
        pos = (d[i + 1], o[i + 1])
    elif pos is not None and i >= 10 and c[i] < min(l[i - 10 : i]):
        trades.append((*pos, d[i + 1], o[i + 1]))
        pos = None
if pos is not None:
    trades.append((*pos, d[-1], c[-1]))
pnl = sum(round((x - e) * 100, 6) for _, e, _, x in trades)
print(len(trades), "trades; first", trades[0], "last", trades[-1])
print("final equity %.2f" % (100000 + pnl))
