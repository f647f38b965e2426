/*
 * metrics.c - classification and regression quality metrics as JSON, with
 * scikit-learn's definitions (zero_division=0, tie-aware ROC-AUC, log loss
 * clipped at 1e-15 and renormalised). Pure: no I/O; see metrics.h.
 */
#include "ml/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

#define LOG_LOSS_EPS 1e-15

struct scored {
	double score;
	int pos;
};

static int scored_cmp(const void *a, const void *b)
{
	double x = ((const struct scored *)a)->score, y = ((const struct scored *)b)->score;
	return (x > y) - (x < y);
}

/*
 * ROC-AUC of class k against the rest, scored by prob[k]: the Mann-Whitney
 * statistic with tied scores sharing their average rank (what
 * roc_auc_score computes). Returns NAN when one side is empty, -2 on ENOMEM.
 */
static double auc_one_vs_rest(const int *y, const struct ml_pred *preds, size_t n, int k)
{
	struct scored *s = mem_calloc(n, sizeof(*s));
	double npos = 0, nneg = 0, rank_sum = 0, auc;
	size_t i = 0;

	if (!s)
		return -2;
	for (size_t j = 0; j < n; j++) {
		s[j].score = preds[j].prob[k];
		s[j].pos = y[j] == k;
		if (s[j].pos)
			npos++;
		else
			nneg++;
	}
	qsort(s, n, sizeof(*s), scored_cmp);
	while (i < n) {
		size_t end = i + 1, pos_in_tie = s[i].pos;
		while (end < n && s[end].score == s[i].score)
			pos_in_tie += s[end++].pos;
		/* ranks i+1 .. end share their mean */
		rank_sum += (double)pos_in_tie * ((double)(i + 1) + (double)end) / 2.0;
		i = end;
	}
	mem_free(s);
	if (npos == 0 || nneg == 0)
		return NAN;
	auc = (rank_sum - npos * (npos + 1) / 2.0) / (npos * nneg);
	return auc;
}

/* The AUC key: binary of class 1, else macro over classes with both sides. 0 or -1. */
static int add_auc(json_t *o, const int *y, const struct ml_pred *preds, size_t n, size_t nclasses)
{
	double sum = 0, a;
	size_t defined = 0;

	if (nclasses == 2) {
		a = auc_one_vs_rest(y, preds, n, 1);
		if (a == -2)
			return -1;
		if (isnan(a))
			return 0; /* one class only in y: undefined, leave the key out */
		return json_object_set_new(o, "auc", json_real(a));
	}
	for (size_t k = 0; k < nclasses; k++) {
		a = auc_one_vs_rest(y, preds, n, (int)k);
		if (a == -2)
			return -1;
		if (!isnan(a)) {
			sum += a;
			defined++;
		}
	}
	if (defined == 0)
		return 0;
	return json_object_set_new(o, "auc", json_real(sum / (double)defined));
}

static double log_loss(const int *y, const struct ml_pred *preds, size_t n, size_t nclasses)
{
	double total = 0;
	for (size_t i = 0; i < n; i++) {
		double sum = 0, p;
		for (size_t k = 0; k < nclasses; k++)
			sum += fmin(fmax(preds[i].prob[k], LOG_LOSS_EPS), 1 - LOG_LOSS_EPS);
		p = fmin(fmax(preds[i].prob[y[i]], LOG_LOSS_EPS), 1 - LOG_LOSS_EPS) / sum;
		total -= log(p);
	}
	return total / (double)n;
}

static double ratio(double num, double den)
{
	return den > 0 ? num / den : 0.0;
}

/* per_class, macro averages and the confusion matrix from the counts. */
static int add_per_class(json_t *o, const size_t *conf, size_t nclasses, char *const *classes)
{
	json_t *per = json_object(), *cm = json_array(), *names = json_array();
	double sp = 0, sr = 0, sf = 0;
	size_t present = 0;
	int ret = -1;

	if (!per || !cm || !names)
		goto out;
	for (size_t k = 0; k < nclasses; k++) {
		size_t tp = conf[k * nclasses + k], support = 0, predicted = 0;
		json_t *row = json_array(), *c = json_object();
		double p, r, f;
		int bad = !row || !c;

		for (size_t j = 0; j < nclasses; j++) {
			support += conf[k * nclasses + j];
			predicted += conf[j * nclasses + k];
			if (row)
				bad |= json_array_append_new(
					row, json_integer((json_int_t)conf[k * nclasses + j]));
		}
		p = ratio((double)tp, (double)predicted);
		r = ratio((double)tp, (double)support);
		f = ratio(2.0 * (double)tp, (double)(support + predicted));
		if (c) {
			bad |= json_object_set_new(c, "precision", json_real(p));
			bad |= json_object_set_new(c, "recall", json_real(r));
			bad |= json_object_set_new(c, "f1", json_real(f));
			bad |= json_object_set_new(c, "support", json_integer((json_int_t)support));
		}
		bad |= json_array_append_new(cm, row);
		bad |= json_object_set_new(per, classes[k], c);
		bad |= json_array_append_new(names, json_string(classes[k]));
		if (bad)
			goto out;
		/* scikit-learn averages over the labels seen in y or in the predictions */
		if (support > 0 || predicted > 0) {
			sp += p;
			sr += r;
			sf += f;
			present++;
		}
	}
	if (json_object_set_new(o, "precision", json_real(ratio(sp, (double)present))) ||
	    json_object_set_new(o, "recall", json_real(ratio(sr, (double)present))) ||
	    json_object_set_new(o, "f1", json_real(ratio(sf, (double)present))))
		goto out;
	ret = json_object_set(o, "per_class", per) || json_object_set(o, "confusion", cm) ||
			      json_object_set(o, "classes", names)
		      ? -1
		      : 0;
out:
	json_decref(per);
	json_decref(cm);
	json_decref(names);
	return ret;
}

json_t *ml_metrics_classification(const int *y, const struct ml_pred *preds, size_t n,
				  char *const *classes, size_t nclasses)
{
	json_t *o = json_object();
	size_t *conf = NULL, correct = 0;

	if (!o || nclasses == 0 || nclasses > ML_MAX_CLASSES)
		goto fail;
	conf = mem_calloc(nclasses * nclasses, sizeof(*conf));
	if (!conf)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		int t = y[i], p = preds[i].klass;
		if (t < 0 || (size_t)t >= nclasses || p < 0 || (size_t)p >= nclasses)
			goto fail; /* caller's bug: indices come from the schema */
		conf[(size_t)t * nclasses + (size_t)p]++;
		correct += t == p;
	}
	if (json_object_set_new(o, "n", json_integer((json_int_t)n)))
		goto fail;
	if (n > 0) {
		if (json_object_set_new(o, "accuracy", json_real((double)correct / (double)n)) ||
		    json_object_set_new(o, "log_loss",
					json_real(log_loss(y, preds, n, nclasses))) ||
		    add_auc(o, y, preds, n, nclasses) < 0)
			goto fail;
	}
	if (add_per_class(o, conf, nclasses, classes) < 0)
		goto fail;
	mem_free(conf);
	return o;
fail:
	mem_free(conf);
	json_decref(o);
	return NULL;
}

json_t *ml_metrics_regression(const double *y, const struct ml_pred *preds, size_t n)
{
	json_t *o = json_object();
	double mean = 0, ss_res = 0, ss_tot = 0, abs_sum = 0, r2;

	if (!o)
		return NULL;
	if (json_object_set_new(o, "n", json_integer((json_int_t)n)))
		goto fail;
	if (n == 0)
		return o;
	for (size_t i = 0; i < n; i++)
		mean += y[i];
	mean /= (double)n;
	for (size_t i = 0; i < n; i++) {
		double d = y[i] - preds[i].value;
		ss_res += d * d;
		abs_sum += fabs(d);
		ss_tot += (y[i] - mean) * (y[i] - mean);
	}
	/* scikit-learn (force_finite): a constant target scores 1 when fitted exactly, else 0 */
	if (ss_tot > 0)
		r2 = 1.0 - ss_res / ss_tot;
	else
		r2 = ss_res == 0 ? 1.0 : 0.0;
	if (json_object_set_new(o, "rmse", json_real(sqrt(ss_res / (double)n))) ||
	    json_object_set_new(o, "mae", json_real(abs_sum / (double)n)) ||
	    json_object_set_new(o, "r2", json_real(r2)))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

int ml_metrics_get(const json_t *metrics, const char *name, double *v)
{
	const char *colon = strchr(name, ':');
	const json_t *x;

	if (!json_is_object(metrics))
		return -1;
	if (colon) {
		char key[16];
		size_t klen = (size_t)(colon - name);
		const json_t *c = json_object_get(json_object_get(metrics, "per_class"), colon + 1);
		if (klen == 0 || klen >= sizeof(key))
			return -1;
		memcpy(key, name, klen);
		key[klen] = '\0';
		if (strcmp(key, "precision") != 0 && strcmp(key, "recall") != 0 &&
		    strcmp(key, "f1") != 0 && strcmp(key, "support") != 0)
			return -1;
		x = json_object_get(c, key);
	} else {
		if (strcmp(name, "n") == 0)
			return -1; /* a count, not a metric */
		x = json_object_get(metrics, name);
	}
	if (!json_is_number(x))
		return -1;
	*v = json_number_value(x);
	return 0;
}

int ml_metrics_higher_is_better(const char *name)
{
	static const char *const lower[] = {"rmse", "mae", "log_loss"};
	for (size_t i = 0; i < sizeof(lower) / sizeof(lower[0]); i++)
		if (strcmp(name, lower[i]) == 0)
			return 0;
	return 1;
}
