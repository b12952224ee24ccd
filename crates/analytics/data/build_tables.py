#!/usr/bin/env python3
"""Rebuilds the derived tables in this folder from ../../../../shared/data (or $JEVONS_SHARED_DATA).

Run: python3 crates/analytics/data/build_tables.py /work/shared/data
Writes: open-models.csv (byte copy), quality.csv (per-model mean scores from quality/outcomes.csv),
models-dev-rows.csv (the models.dev rows named in quality-map.csv). Checks that every
quality-map row and every canonical-map row points at something that exists.
"""
import csv, os, shutil, sys
from collections import defaultdict

here = os.path.dirname(os.path.abspath(__file__))
shared = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("JEVONS_SHARED_DATA", "/work/shared/data")

# 1. parameter counts: byte copy
shutil.copyfile(os.path.join(shared, "params/open-models.csv"), os.path.join(here, "open-models.csv"))
models = {r["model"] for r in csv.DictReader(open(os.path.join(here, "open-models.csv")))}
for r in csv.DictReader(open(os.path.join(here, "canonical-map.csv"))):
    assert r["params_model"] in models, r

# 2. quality: mean score per (dataset, model), empty scores skipped (as SUMMARY.md does)
acc = defaultdict(lambda: [0.0, 0, set()])
for r in csv.DictReader(open(os.path.join(shared, "quality/outcomes.csv"))):
    if r["score"] == "":
        continue
    a = acc[(r["dataset"], r["model"])]
    a[0] += float(r["score"]); a[1] += 1; a[2].add(r["prompt_id"])
with open(os.path.join(here, "quality.csv"), "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["dataset", "model", "mean_score", "score_max", "judgments", "prompts"])
    for (ds, m), (s, n, p) in sorted(acc.items()):
        w.writerow([ds, m, f"{s / n:.4f}", 10 if ds in ("arena-bench-v1", "routellm-mtbench") else 1, n, len(p)])

# 3. the models.dev rows the quality map points at
wanted = set()
for r in csv.DictReader(open(os.path.join(here, "quality-map.csv"))):
    for ref in r["models_dev_rows"].split(";"):
        prov, mid = ref.split(":", 1)
        wanted.add((prov, mid))
found = []
for r in csv.DictReader(open(os.path.join(shared, "models-dev/models.csv"))):
    if (r["provider"], r["model_id"]) in wanted:
        found.append(r)
missing = wanted - {(r["provider"], r["model_id"]) for r in found}
assert not missing, missing
with open(os.path.join(here, "models-dev-rows.csv"), "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["provider", "model_id", "name", "release_date", "input_per_mtok", "output_per_mtok"])
    for r in sorted(found, key=lambda r: (r["provider"], r["model_id"])):
        w.writerow([r["provider"], r["model_id"], r["name"], r["release_date"], r["input_per_mtok"], r["output_per_mtok"]])
print("ok")
