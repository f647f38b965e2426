"""sentiment_logreg.py - baseline for bench/ml.sh: TF-IDF word (1,2)-grams +
scikit-learn LogisticRegression(liblinear) on the sentiment data set.
Prints a JSON report: fit time, test accuracy, and with --serve one-row
latency and batch throughput.
"""
import os
import sys
import time

T0 = time.perf_counter()

import numpy as np  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

import common  # noqa: E402

d, serve = common.main_args()
h, tr = common.read_csv(os.path.join(d, "train.csv"))
_, te = common.read_csv(os.path.join(d, "test.csv"))
ti, li = h.index("text"), h.index("label")
xtr = [r[ti] for r in tr]
xte = [r[ti] for r in te]
ytr = [r[li] for r in tr]
yte = [r[li] for r in te]

pipe = make_pipeline(TfidfVectorizer(ngram_range=(1, 2)),
                     LogisticRegression(solver="liblinear"))
_, fit_s = common.timed(lambda: pipe.fit(xtr, ytr))
pred = pipe.predict(xte)
prob = pipe.predict_proba(xte)[:, list(pipe.classes_).index("positive")]
out = {
    "model": "TfidfVectorizer(ngram_range=(1,2)) + LogisticRegression(liblinear)",
    "fit_s": fit_s,
    "accuracy": accuracy_score(yte, pred),
    "auc": roc_auc_score([y == "positive" for y in yte], prob),
    "f1": f1_score(yte, pred, average="macro"),
}
if serve:
    out["latency_us"] = common.single_row_latency_us(pipe, np.array(xte, dtype=object))
    out["batch_rows_per_s"] = common.batch_rows_per_s(pipe, np.array(xte, dtype=object))
    batch, batch_out = common.batch_files(sys.argv)
    if batch:
        out["batch_file_rows_per_s"] = common.batch_file_rows_per_s(
            pipe, batch, batch_out, drop="label", text="text")
out["process_s"] = time.perf_counter() - T0
common.report(out)
