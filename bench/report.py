"""report.py - turn bench/ml.sh's results (one JSON object per case) into the
Markdown table of bench/results/ml-<date>.md: kiln, baseline, ratio and the
target for each measure. Standard library only.
  report.py RESULTS.jsonl RUNS
"""
import json
import platform
import subprocess
import sys
import time

# Quality targets: case -> [(measure, kiln key, minimum)]
QUALITY = {
    "sentiment": [("accuracy", "accuracy", 0.83)],
    "churn": [("ROC-AUC", "auc", 0.915), ("F1(yes)", "f1_pos", 0.82)],
    "churn-200": [("ROC-AUC", "auc", 0.915), ("F1(yes)", "f1_pos", 0.82)],
    "ames": [("R²", "r2", 0.92)],
    "credit-logreg": [("ROC-AUC", "auc", 0.85)],
    "credit-gbdt": [("ROC-AUC", "auc", 0.85)],
}
LATENCY_US = {"sentiment": 20, "churn": 50, "churn-200": 50}
KILN_ARGS = {
    "sentiment": "--algo logreg --target label",
    "churn": "--algo gbdt --target churn",
    "churn-200": "--algo gbdt --target churn --early-stopping 0",
    "ames": "--algo gbdt --target Sale_Price",
    "credit-logreg": "--algo logreg --target Status",
    "credit-gbdt": "--algo gbdt --target Status",
}


def fmt(v, unit=""):
    if v is None:
        return "–"
    if unit == "s":
        return "%.3f s" % v
    if unit == "us":
        return "%.1f µs" % v
    if unit == "rows":
        return "{:,.0f}/s".format(v)
    if unit == "mb":
        return "%.1f MB" % (v / 1024)
    return "%.4f" % v


def verdict(ok):
    return "✅" if ok else "❌"


def rows_for(r):
    c, k, b = r["case"], r["kiln"], r["baseline"]
    out = []
    for label, key, target in QUALITY.get(c, []):
        kv, bv = k.get(key), b.get(key)
        out.append((label, fmt(kv), fmt(bv), "%.3f" % (kv / bv) if kv and bv else "–",
                    "≥ %s %s" % (target, verdict(kv is not None and kv >= target))))
    if "rmse" in k:
        out.append(("RMSE / MAE", "%.0f / %.0f" % (k["rmse"], k["mae"]),
                    "%.0f / %.0f" % (b["rmse"], b["mae"]), "%.2f" % (k["rmse"] / b["rmse"]),
                    "(info)"))
    if "trees" in k:
        out.append(("trees in the model", str(k["trees"]), "200", "–",
                    "(info: kiln stops early unless --early-stopping 0)"))
    ts, fs, ps = k["train_s"], b["fit_s"], b["process_s"]
    out.append(("train time (kiln process vs baseline fit)", fmt(ts, "s"), fmt(fs, "s"),
                "%.2f×" % (ts / fs), "≤ 0.5× %s" % verdict(ts <= 0.5 * fs)))
    out.append(("train time (kiln process vs baseline process)", fmt(ts, "s"), fmt(ps, "s"),
                "%.2f×" % (ts / ps), "≤ 0.5× %s" % verdict(ts <= 0.5 * ps)))
    lim = LATENCY_US.get(c)
    out.append(("1-row predict latency (median)", fmt(k["latency_us"], "us"),
                fmt(b.get("latency_us"), "us"),
                "%.3f×" % (k["latency_us"] / b["latency_us"]),
                "≤ %d µs %s" % (lim, verdict(k["latency_us"] <= lim)) if lim else "(info)"))
    kb, bb = k["batch_rows_per_s"], b["batch_rows_per_s"]
    out.append(("batch predict, whole `kiln predict` process", fmt(kb, "rows"),
                fmt(bb, "rows"), "%.1f×" % (kb / bb), "≥ 10× %s" % verdict(kb >= 10 * bb)))
    bf = b.get("batch_file_rows_per_s")
    if bf:
        out.append(("batch predict, whole `kiln predict` process vs the baseline's file batch",
                    fmt(kb, "rows"), fmt(bf, "rows"), "%.1f×" % (kb / bf),
                    "(info: both from the CSV file to a CSV file)"))
    ki = k["batch_inproc_rows_per_s"]
    out.append(("batch predict, in memory (`ml_model_predict_frame`)", fmt(ki, "rows"),
                fmt(bb, "rows"), "%.1f×" % (ki / bb), "≥ 10× %s" % verdict(ki >= 10 * bb)))
    out.append(("peak RSS, training", fmt(k["train_rss_kb"], "mb"), fmt(b["train_rss_kb"], "mb"),
                "%.2f×" % (k["train_rss_kb"] / b["train_rss_kb"]),
                "≤ 1× %s" % verdict(k["train_rss_kb"] <= b["train_rss_kb"])))
    out.append(("peak RSS, kiln predict on the batch", fmt(k["predict_rss_kb"], "mb"), "–", "–",
                "(info)"))
    return out


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def main():
    results = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    runs = sys.argv[2]
    print("# kiln ML benchmark, %s\n" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    print("Machine: %s, %s CPUs (%s), Python %s, scikit-learn %s, XGBoost %s. kiln %s.\n" % (
        platform.machine(), sh("nproc"), sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"),
        platform.python_version(),
        sh("/usr/bin/python3 -c 'import sklearn; print(sklearn.__version__)'"),
        sh("/usr/bin/python3 -c 'import xgboost; print(xgboost.__version__)'"),
        sh("git -C %s describe --always --dirty" % sys.path[0])))
    print("Load average when the report was written: %s (the machine is shared; numbers\n"
          "from a loaded machine move by 2x between runs, compare within one run only).\n"
          % " ".join(open("/proc/loadavg").read().split()[0:3]))
    print("How measured (bench/ml.sh, %s runs): train time is the median wall time of\n"
          "`kiln train` (whole process: read CSV, fit, evaluate, write the bundle) against\n"
          "the baseline script's `pipeline.fit` alone and its whole process (Python start,\n"
          "imports, CSV, fit, test metrics). Quality is on test.csv (`kiln eval --json`;\n"
          "baseline: scikit-learn metrics). 1-row latency: median of `ml_model_predict`\n"
          "calls on test rows given as strings (bench/predict_latency.c) vs\n"
          "`pipeline.predict` on one row. Batch: test.csv repeated to ~100k rows, whole\n"
          "`kiln predict` process (median of 3), and kiln's `ml_model_predict_frame` on\n"
          "the parsed file (best of 3), vs one `pipeline.predict` call on the in-memory\n"
          "array (the target rows), and (info) vs the baseline's batch from the same file\n"
          "in its process: pandas.read_csv, predict and predict_proba, DataFrame.to_csv.\n"
          "Peak RSS: GNU time %%M of the training processes.\n" % runs)
    for r in results:
        print("## %s\n" % r["case"])
        print("kiln: `kiln train TRAIN.csv --test TEST.csv %s`; baseline: %s\n" % (
            KILN_ARGS.get(r["case"], ""), r["baseline"].get("model", "")))
        print("| measure | kiln | baseline | kiln/baseline | target |")
        print("|---|---:|---:|---:|---|")
        for row in rows_for(r):
            print("| %s |" % " | ".join(row))
        print()


main()
