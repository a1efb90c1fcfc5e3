#!/usr/bin/env python3
"""Reference Student-t quantiles for engine/tests/t_quantile.rs, computed with scipy.

    python3 scripts/t_quantiles.py > engine/tests/data/t_quantiles.csv

Columns: p, df, quantile (17 significant digits). p are the levels the ranking-and-selection
and confidence intervals ask for; df runs over 1..=1000 (every df to 30, then a spread).
"""
import scipy
from scipy.stats import t

ps = [0.9, 0.95, 0.975, 0.99, 0.995, 0.999, 0.9995, 0.9999]
dfs = list(range(1, 31)) + [35, 40, 50, 60, 75, 100, 120, 150, 200, 250, 300, 400, 500, 750, 1000]
print(f"# scipy {scipy.__version__}: scipy.stats.t.ppf(p, df)")
print("p,df,quantile")
for p in ps:
    for df in dfs:
        print(f"{p},{df},{t.ppf(p, df):.17g}")
