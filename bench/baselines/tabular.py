"""tabular.py - baselines for bench/ml.sh on the tabular data sets (churn,
ames, credit): XGBoost (200 trees, depth 4, hist, eta 0.1) or scikit-learn
LogisticRegression(liblinear) behind one-hot encoding and imputation.
  tabular.py DATASET_DIR TARGET POSITIVE_CLASS|- xgb|logreg [--serve [BATCH.csv OUT.csv]]
POSITIVE_CLASS "-" means regression. Prints a JSON report.
"""
import os
import sys
import time

T0 = time.perf_counter()

import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import (accuracy_score, f1_score, mean_absolute_error,  # noqa: E402
                             mean_squared_error, r2_score, roc_auc_score)
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import LabelEncoder  # noqa: E402
from xgboost import XGBClassifier, XGBRegressor  # noqa: E402

import common  # noqa: E402

if len(sys.argv) < 5:
    sys.exit(__doc__)
d, target, positive, algo = sys.argv[1:5]
serve = "--serve" in sys.argv[5:]
regression = positive == "-"

h, tr = common.read_csv(os.path.join(d, "train.csv"))
_, te = common.read_csv(os.path.join(d, "test.csv"))
xtr, ytr, names = common.split_xy(h, tr, target)
xte, yte, _ = common.split_xy(h, te, target)
num, cat = common.column_kinds(xtr)
common.to_numeric(xtr, num)
common.to_numeric(xte, num)

# One thread by default, like kiln's trainer: on a shared machine OpenMP
# threads fighting for cores make timings meaningless. BENCH_THREADS=0: all.
threads = int(os.environ.get("BENCH_THREADS", "1")) or None
xgb = dict(n_estimators=200, max_depth=4, learning_rate=0.1, tree_method="hist",
           n_jobs=threads)
if regression:
    ytr = np.array([float(v) for v in ytr])
    yte = np.array([float(v) for v in yte])
    model = XGBRegressor(**xgb)
    desc = "XGBRegressor(200 trees, depth 4, eta 0.1, hist, %s thread(s))" % (threads or "all")
else:
    enc = LabelEncoder().fit(ytr)  # sorted: class 1 is the second in byte order
    ytr = enc.transform(ytr)
    yte = enc.transform(yte)
    pos = list(enc.classes_).index(positive)
    if algo == "xgb":
        model = XGBClassifier(**xgb)
        desc = "XGBClassifier(200 trees, depth 4, eta 0.1, hist, %s thread(s))" % (threads or "all")
    else:
        model = LogisticRegression(solver="liblinear")
        desc = "LogisticRegression(liblinear), scaled numerics"

pipe = make_pipeline(common.tabular_preprocessor(num, cat, scale=algo == "logreg"), model)
_, fit_s = common.timed(lambda: pipe.fit(xtr, ytr))
pred = pipe.predict(xte)
out = {"model": desc + " + one-hot/imputation", "fit_s": fit_s}
if regression:
    out.update(r2=r2_score(yte, pred), rmse=mean_squared_error(yte, pred, squared=False),
               mae=mean_absolute_error(yte, pred))
else:
    prob = pipe.predict_proba(xte)
    out.update(accuracy=accuracy_score(yte, pred),
               auc=roc_auc_score(yte == pos, prob[:, pos]),
               f1_pos=f1_score(yte, pred, pos_label=pos))
if serve:
    out["latency_us"] = common.single_row_latency_us(pipe, xte)
    out["batch_rows_per_s"] = common.batch_rows_per_s(pipe, xte)
    batch, batch_out = common.batch_files(sys.argv)
    if batch:
        out["batch_file_rows_per_s"] = common.batch_file_rows_per_s(
            pipe, batch, batch_out, drop=target, cat=cat, proba=not regression)
out["process_s"] = time.perf_counter() - T0
common.report(out)
