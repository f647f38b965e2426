"""common.py - shared code of the bench baselines: CSV loading without
pandas, column typing, the scikit-learn preprocessing pipeline, timing and
the JSON report that bench/ml.sh reads. Baselines only; kiln does not use it.
"""
import csv
import json
import statistics
import sys
import time

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def read_csv(path):
    """Header and rows (lists of str; '' is a missing value)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def is_number(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def split_xy(header, rows, target):
    """Object array of inputs, target values, input names."""
    t = header.index(target)
    names = [h for i, h in enumerate(header) if i != t]
    x = np.array([[v for i, v in enumerate(r) if i != t] for r in rows], dtype=object)
    y = [r[t] for r in rows]
    return x, y, names


def column_kinds(x):
    """Indices of numeric and of categorical columns (numeric: every
    non-empty value parses as a number)."""
    num, cat = [], []
    for j in range(x.shape[1]):
        col = [v for v in x[:, j] if v != ""]
        (num if all(is_number(v) for v in col) else cat).append(j)
    return num, cat


def to_numeric(x, num):
    """Numeric columns as float (NaN for missing), in place."""
    for j in num:
        x[:, j] = [float(v) if v != "" else np.nan for v in x[:, j]]
    return x


def tabular_preprocessor(num, cat, scale):
    """Numeric: median imputation (+ scaling for linear models);
    categorical: missing as its own level, one-hot, unseen ignored."""
    num_steps = [SimpleImputer(strategy="median")]
    if scale:
        num_steps.append(StandardScaler())
    return ColumnTransformer([
        ("num", make_pipeline(*num_steps), num),
        ("cat", make_pipeline(
            SimpleImputer(strategy="constant", fill_value="(missing)", missing_values=""),
            OneHotEncoder(handle_unknown="ignore")), cat),
    ])


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def single_row_latency_us(pipe, x, n=2000):
    """Median microseconds of pipe.predict on one row, over n calls."""
    times = []
    for i in range(n):
        row = x[i % len(x):i % len(x) + 1]
        t = time.perf_counter()
        pipe.predict(row)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e6


def batch_rows_per_s(pipe, x, rows=100_000):
    """Rows per second of one pipe.predict call on x repeated to ~rows."""
    reps = max(1, rows // len(x))
    big = np.concatenate([x] * reps) if isinstance(x, np.ndarray) else list(x) * reps
    _, secs = timed(lambda: pipe.predict(big))
    return len(big) / secs


def batch_file_rows_per_s(pipe, path, out_path, drop=None, text=None, cat=(), proba=True):
    """Rows per second of the batch a user's script would run on a file:
    pandas.read_csv of path (drop: the target column, if there), predict
    (and predict_proba), and the predictions written as CSV to out_path.
    text: the one text column to predict from; cat: indices of categorical
    columns, read as strings ("" when missing) as for training."""
    import pandas as pd
    t0 = time.perf_counter()
    df = pd.read_csv(path, keep_default_na=False, na_values=[""])
    if drop is not None and drop in df.columns:
        df = df.drop(columns=[drop])
    if text is not None:
        x = df[text].fillna("").astype(str).to_numpy(dtype=object)
    else:
        for j in cat:
            col = df.columns[j]
            df[col] = df[col].fillna("").astype(str)
        x = df.to_numpy(dtype=object)
    out = pd.DataFrame({"prediction": pipe.predict(x)})
    if proba:
        p = pipe.predict_proba(x)
        for k, name in enumerate(pipe.classes_):
            out["p_%s" % name] = p[:, k]
    out.to_csv(out_path, index=False, float_format="%.6f")
    return len(x) / (time.perf_counter() - t0)


def report(d):
    json.dump(d, sys.stdout, indent=2)
    sys.stdout.write("\n")


def main_args():
    """bench/baselines/X.py DATASET_DIR [--serve [BATCH.csv OUT.csv]]: --serve
    also measures one-row latency and batch throughput (and, given a CSV,
    the batch from that file to OUT.csv)."""
    if len(sys.argv) < 2:
        sys.exit("usage: %s DATASET_DIR [--serve [BATCH.csv OUT.csv]]" % sys.argv[0])
    return sys.argv[1], "--serve" in sys.argv[2:]


def batch_files(argv):
    """The BATCH.csv and OUT.csv after --serve, or (None, None)."""
    i = argv.index("--serve") if "--serve" in argv else len(argv)
    return (argv[i + 1], argv[i + 2]) if len(argv) > i + 2 else (None, None)
