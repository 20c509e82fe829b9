#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# tools/bench-report.py - turns the raw results of `make bench` into its
# report: medians per engine, the ratio module/stock of every metric, the
# targets with PASS/MISS, and a plot of pages_sharing against time on the
# mixed workload.  Python 3 standard library only.
#
# Usage: tools/bench-report.py OUT_DIR
#   reads  OUT_DIR/runs/*/results.jsonl (one JSON object per workload run,
#          printed by ksm_bench in the guest) and OUT_DIR/meta.json
#          (written by tools/bench.sh: date, kernels, VM setup)
#   writes OUT_DIR/results.json, table.txt, table.md, pages_sharing.svg
#          and prints table.txt

import glob
import json
import math
import os
import statistics
import sys

ENGINES = ("stock", "module")

# (workload, metric, label, unit); the unit picks the number format.
METRICS = [
    ("mixed-sleep0", "converge_s", "time to converge", "s"),
    ("mixed-sleep0", "ksmd_cpu_converge_s", "ksmd CPU to converge", "s"),
    ("mixed-sleep0", "ksmd_cpu_s", "ksmd CPU to detect convergence", "s"),
    ("mixed-sleep0", "pages_per_cpu_s", "pages scanned per ksmd CPU s", "pages/s"),
    ("mixed-sleep0", "sysfs_pages_scanned_per_cpu_s",
     "sysfs pages_scanned per ksmd CPU s", "pages/s"),
    ("mixed-sleep0", "pages_sharing", "pages_sharing", "pages"),
    ("mixed-sleep0", "pages_shared", "pages_shared", "pages"),
    ("mixed-sleep0", "metadata_bytes_per_page", "metadata per tracked page", "B"),
    ("mixed-sleep0", "slab_bytes", "  of which slab caches", "bytes"),
    ("mixed-sleep0", "kmalloc_bytes", "  of which large kmalloc", "bytes"),
    ("mixed-sleep0", "vmalloc_bytes", "  of which vmalloc", "bytes"),
    ("mixed-sleep0", "engine_table_bytes",
     "  (cross-check: the module's debugfs table_bytes)", "bytes"),
    ("mixed-sleep0", "saved_bytes", "memory saved, net of metadata", "bytes"),
    ("mixed-sleep20", "converge_s", "time to converge", "s"),
    ("mixed-sleep20", "ksmd_cpu_converge_s", "ksmd CPU to converge", "s"),
    ("mixed-sleep20", "pages_per_cpu_s", "pages scanned per ksmd CPU s", "pages/s"),
    ("mixed-sleep20", "pages_sharing", "pages_sharing", "pages"),
    ("mixed-sleep20", "pages_shared", "pages_shared", "pages"),
    ("zero-z0", "converge_s", "time to converge", "s"),
    ("zero-z0", "ksmd_cpu_converge_s", "ksmd CPU to converge", "s"),
    ("zero-z0", "saved_pages", "pages saved", "pages"),
    ("zero-z1", "converge_s", "time to converge", "s"),
    ("zero-z1", "ksmd_cpu_converge_s", "ksmd CPU to converge", "s"),
    ("zero-z1", "saved_pages", "pages saved", "pages"),
    ("sparse", "first_scan_s", "first full scan", "s"),
    ("sparse", "scan_s", "full scan time", "s"),
    ("sparse", "scan_cpu_s", "ksmd CPU per full scan", "s"),
    ("unique", "first_scan_s", "first full scan", "s"),
    ("unique", "scan_s", "full scan time", "s"),
    ("unique", "pages_per_cpu_s", "pages scanned per ksmd CPU s", "pages/s"),
    ("cow", "converge_s", "time to converge", "s"),
    ("cow", "cow_s", "COW break, all pages", "s"),
    ("cow", "cow_us_per_page", "COW break per page", "us"),
    ("cow-fork", "cow_s", "COW of fork-shared pages, no KSM (kernel baseline)",
     "s"),
    ("cow-fork", "cow_us_per_page", "COW of fork-shared pages, per page", "us"),
    ("unmerge", "unmerge_madvise_s", "MADV_UNMERGEABLE", "s"),
    ("unmerge", "unmerge_madvise_pages_per_s", "MADV_UNMERGEABLE throughput",
     "pages/s"),
    ("unmerge", "unmerge_run2_s", "echo 2 > run", "s"),
    ("unmerge", "unmerge_run2_pages_per_s", "echo 2 > run throughput", "pages/s"),
    ("membw", "loop_stopped_s", "loop, ksmd stopped", "s"),
    ("membw", "loop_scanning_s", "loop, ksmd scanning", "s"),
    ("membw", "slowdown", "slowdown while scanning", "x"),
    # N = 16 MiB, 4N = 64 MiB (COLLIDE_MIB in bench/scaling.c).
    ("collide", "sizes_completed", "sizes scanned within the timeout, of 2",
     "count"),
    ("collide", "first_scan_cpu_s_n", "ksmd CPU of the first full scan, N",
     "s"),
    ("collide", "scan_cpu_s_n", "ksmd CPU per full scan, N = 16 MiB", "s"),
    ("collide", "scan_cpu_at_least_s_n",
     "  (N timed out: ksmd CPU per full scan at least)", "s"),
    ("collide", "first_scan_cpu_s_4n", "ksmd CPU of the first full scan, 4N",
     "s"),
    ("collide", "scan_cpu_s_4n", "ksmd CPU per full scan, 4N = 64 MiB", "s"),
    ("collide", "scan_cpu_at_least_s_4n",
     "  (4N timed out: ksmd CPU per full scan at least)", "s"),
    ("collide", "cpu_ratio",
     "ksmd CPU per full scan, 4N/N (linear 4, quadratic 16)", "x"),
    ("collide", "cpu_ratio_at_least", "  (4N timed out: 4N/N at least)", "x"),
    ("collide-ref", "scan_cpu_s_n", "ksmd CPU per full scan, N = 16 MiB", "s"),
    ("collide-ref", "scan_cpu_s_4n", "ksmd CPU per full scan, 4N = 64 MiB",
     "s"),
    ("collide-ref", "cpu_ratio", "ksmd CPU per full scan, 4N/N", "x"),
    ("mps10000", "converge_s", "time to converge", "s"),
    ("mps10000", "ksmd_cpu_converge_s", "ksmd CPU to converge", "s"),
    ("mps10000", "pages_sharing", "pages_sharing", "pages"),
    ("mps10000", "pages_shared", "pages_shared", "pages"),
    ("mps10000", "merged_scan_cpu_s", "ksmd CPU per full scan, merged", "s"),
    ("mps10000", "drop_most_cpu_s",
     "ksmd CPU to drop 6,000 unmerged of the 8,000 mappings", "s"),
    ("mps10000", "unmerge_madvise_s", "MADV_UNMERGEABLE, all mappings", "s"),
]
for mode, what in (("P", "merge"), ("H", "merge (THP)"), ("D", "unmerge"),
                   ("C", "COW")):
    for pages in (10, 100, 1000):
        name = "ksm_tests-%s-p%d" % (mode, pages)
        if mode in "PH":
            METRICS.append((name, "merge_s", what + " time", "s"))
            METRICS.append((name, "pages_per_cpu_s",
                            "pages scanned per ksmd CPU s", "pages/s"))
        elif mode == "D":
            METRICS.append((name, "unmerge_s", what + " time", "s"))
        else:
            METRICS.append((name, "cow_s", "COW time, merged pages", "s"))
        METRICS.append((name, "ksmd_cpu_s", "ksmd CPU", "s"))

# (label, workload, metric, comparison, bound) on the ratio module/stock.
TARGETS = [
    ("pages scanned per ksmd CPU second", "mixed-sleep0", "pages_per_cpu_s",
     ">=", 2.0),
    ("time to converge at sleep_millisecs 0", "mixed-sleep0", "converge_s",
     "<=", 0.5),
    ("memory saved at convergence", "mixed-sleep0", "saved_bytes", ">=", 1.0),
    ("metadata bytes per tracked page", "mixed-sleep0",
     "metadata_bytes_per_page", "<=", 0.75),
    ("COW break time on merged pages", "cow", "cow_s", "<=", 1.0),
    ("unmerge time (MADV_UNMERGEABLE)", "unmerge", "unmerge_madvise_s",
     "<=", 1.0),
    ("unmerge time (echo 2 > run)", "unmerge", "unmerge_run2_s", "<=", 1.0),
    ("large sparse mapping scan time", "sparse", "scan_s", "<=", 0.1),
]


def load(out):
    runs = []
    for path in sorted(glob.glob(os.path.join(out, "runs", "*", "results.jsonl"))):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    runs.append(json.loads(line))
    meta = {}
    try:
        with open(os.path.join(out, "meta.json")) as f:
            meta = json.load(f)
    except FileNotFoundError:
        pass
    return runs, meta


def values(runs, workload, engine, metric):
    vals = []
    for r in runs:
        if r.get("workload") != workload or r.get("engine") != engine:
            continue
        # A run that failed (or did not converge) gives no numbers.
        if not r.get("ok", False):
            continue
        v = r.get("metrics", {}).get(metric)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and \
                math.isfinite(v):
            vals.append(v)
    return vals


def summarize(runs):
    summary = {}
    for workload, metric, label, unit in METRICS:
        entry = {"label": label, "unit": unit}
        for engine in ENGINES:
            vals = values(runs, workload, engine, metric)
            entry[engine] = {
                "values": vals,
                "median": statistics.median(vals) if vals else None,
            }
        s, m = entry["stock"]["median"], entry["module"]["median"]
        entry["ratio"] = m / s if s and m is not None else None
        if entry["stock"]["values"] or entry["module"]["values"]:
            summary.setdefault(workload, {})[metric] = entry
    return summary


def judge(summary):
    targets = []
    for label, workload, metric, op, bound in TARGETS:
        entry = summary.get(workload, {}).get(metric)
        ratio = entry["ratio"] if entry else None
        if entry is None:
            verdict = "not run"
        elif ratio is None:
            verdict = "MISS (no data)"
        elif (ratio >= bound) if op == ">=" else (ratio <= bound):
            verdict = "PASS"
        else:
            verdict = "MISS"
        targets.append({"target": label, "workload": workload,
                        "metric": metric, "want": "%s %.2fx" % (op, bound),
                        "ratio": ratio, "verdict": verdict})
    return targets


def fmt(v, unit):
    if v is None:
        return "-"
    if unit in ("pages", "bytes", "count") or \
            (unit == "pages/s" and abs(v) >= 100):
        return "{:,.0f}".format(v)
    if unit == "B":
        return "%.1f" % v
    if abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 1:
        return "%.2f" % v
    return "%.3g" % v


def fmt_ratio(r):
    return "-" if r is None else "%.2fx" % r


def failures(runs):
    bad = []
    for r in runs:
        if not r.get("ok", False):
            bad.append("%s on %s (repeat %s)" % (r.get("workload"),
                                                 r.get("engine"),
                                                 r.get("repeat")))
    return bad


def header_lines(meta, runs):
    lines = []
    if meta:
        lines.append("date: %s" % meta.get("date", "?"))
        lines.append("kernels: module on %s, stock %s" % (
            meta.get("module_kernel", "?"), meta.get("stock_kernel", "?")))
        if "source" in meta:
            lines.append("source: %s; ksm_mod at %s" % (
                meta["source"], meta.get("module_commit", "?")))
        lines.append("VM: %s" % meta.get("vm", "?"))
        lines.append("host: %s" % meta.get("host", "?"))
        lines.append("repeats: %s, filter: %s, seed: %s, ksm_tests -s %s" % (
            meta.get("repeats", "?"), meta.get("filter") or "(all)",
            meta.get("seed", "?"), meta.get("ksm_tests_mib", "?")))
        if "elapsed_s" in meta:
            lines.append("make bench took %dm%02ds (builds cached)" % (
                meta["elapsed_s"] // 60, meta["elapsed_s"] % 60))
    releases = sorted({r.get("kernel", "?") for r in runs})
    lines.append("guest kernel release: %s" % ", ".join(releases))
    counts = {e: len({r.get("repeat") for r in runs if r.get("engine") == e})
              for e in ENGINES}
    lines.append("VM runs with results: stock %d, module %d; medians below"
                 % (counts["stock"], counts["module"]))
    return lines


def text_table(summary, targets, meta, runs):
    rows = [("workload", "metric", "stock", "module", "module/stock")]
    for workload, metrics in summary.items():
        for metric, e in metrics.items():
            unit = e["unit"]
            rows.append((workload, "%s (%s)" % (e["label"], unit),
                         fmt(e["stock"]["median"], unit),
                         fmt(e["module"]["median"], unit),
                         fmt_ratio(e["ratio"])))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    out = header_lines(meta, runs) + [""]
    for i, r in enumerate(rows):
        out.append("  ".join(c.ljust(widths[k]) if k < 2 else c.rjust(widths[k])
                             for k, c in enumerate(r)).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    out.append("")
    out.append("targets (ratio module/stock of the medians):")
    tw = max(len(t["target"]) for t in targets)
    for t in targets:
        out.append("  %-*s  want %-8s got %-7s %s" % (
            tw, t["target"], t["want"], fmt_ratio(t["ratio"]), t["verdict"]))
    out.append("")
    out.append("the repeats behind the targets (stock | module):")
    for t in targets:
        e = summary.get(t["workload"], {}).get(t["metric"])
        if e:
            out.append("  %-*s  %s | %s" % (
                tw, t["target"],
                " ".join(fmt(v, e["unit"]) for v in e["stock"]["values"]) or "-",
                " ".join(fmt(v, e["unit"]) for v in e["module"]["values"]) or "-"))
    bad = failures(runs)
    if bad:
        out.append("")
        out.append("workload runs that failed or did not converge: "
                   + ", ".join(bad))
    return "\n".join(out) + "\n"


def md_table(summary, targets, meta, runs):
    out = ["- " + line for line in header_lines(meta, runs)]
    out += ["", "| workload | metric | stock | module | module/stock |",
            "| --- | --- | ---: | ---: | ---: |"]
    for workload, metrics in summary.items():
        for metric, e in metrics.items():
            unit = e["unit"]
            out.append("| %s | %s (%s) | %s | %s | %s |" % (
                workload, e["label"].strip(), unit,
                fmt(e["stock"]["median"], unit),
                fmt(e["module"]["median"], unit), fmt_ratio(e["ratio"])))
    out += ["", "| target | workload | want | got | verdict |",
            "| --- | --- | --- | ---: | --- |"]
    for t in targets:
        out.append("| %s | %s | %s | %s | %s |" % (
            t["target"], t["workload"], t["want"].replace(">=", "≥")
            .replace("<=", "≤"), fmt_ratio(t["ratio"]), t["verdict"]))
    bad = failures(runs)
    if bad:
        out += ["", "Failed or not converged: " + ", ".join(bad)]
    return "\n".join(out) + "\n"


# ---- SVG, by hand ----

COLOURS = {"stock": "#d95f02", "module": "#1b9e77"}


def nice_step(span, ticks=5):
    if span <= 0:
        return 1
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def panel(runs, workload, x0, y0, w, h):
    series = [(r["engine"], r.get("repeat"), r["series"]) for r in runs
              if r.get("workload") == workload and r.get("series")]
    parts = []
    title = "%s: pages_sharing after echo 1 > run" % workload
    parts.append('<text x="%g" y="%g" font-size="14" font-weight="bold">%s</text>'
                 % (x0, y0 - 12, esc(title)))
    if not series:
        parts.append('<text x="%g" y="%g" font-size="12">no data</text>'
                     % (x0 + 10, y0 + 20))
        return parts
    tmax = max(max(s["t"]) for _, _, s in series if s["t"]) or 1
    ymax = max(max(s["pages_sharing"]) for _, _, s in series
               if s["pages_sharing"]) or 1
    xstep, ystep = nice_step(tmax), nice_step(ymax)
    tmax = math.ceil(tmax / xstep) * xstep
    ymax = math.ceil(ymax / ystep) * ystep

    def px(t):
        return x0 + w * t / tmax

    def py(v):
        return y0 + h - h * v / ymax

    parts.append('<rect x="%g" y="%g" width="%g" height="%g" fill="none" '
                 'stroke="#888"/>' % (x0, y0, w, h))
    t = 0.0
    while t <= tmax + 1e-9:
        parts.append('<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#eee"/>'
                     % (px(t), y0, px(t), y0 + h))
        parts.append('<text x="%.1f" y="%g" font-size="11" text-anchor="middle">'
                     '%g</text>' % (px(t), y0 + h + 15, round(t, 6)))
        t += xstep
    v = 0.0
    while v <= ymax + 1e-9:
        parts.append('<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#eee"/>'
                     % (x0, py(v), x0 + w, py(v)))
        parts.append('<text x="%g" y="%.1f" font-size="11" text-anchor="end">'
                     '{:,.0f}</text>'.format(v) % (x0 - 5, py(v) + 4))
        v += ystep
    parts.append('<text x="%g" y="%g" font-size="12" text-anchor="middle">'
                 'seconds since echo 1 &gt; run</text>' % (x0 + w / 2, y0 + h + 32))
    for engine, repeat, s in sorted(series, key=lambda x: (x[0], x[1] or 0)):
        pts = " ".join("%.1f,%.1f" % (px(t), py(v))
                       for t, v in zip(s["t"], s["pages_sharing"]))
        parts.append('<polyline fill="none" stroke="%s" stroke-width="1.5" '
                     'stroke-opacity="0.85" points="%s"><title>%s, repeat %s'
                     '</title></polyline>' % (COLOURS.get(engine, "#000"), pts,
                                              engine, repeat))
    # Legend bottom right: the curves start at the bottom left and end
    # at the top.
    ly = y0 + h - 18 * len(ENGINES) - 4
    parts.append('<rect x="%g" y="%g" width="185" height="%d" fill="white" '
                 'stroke="#ccc"/>' % (x0 + w - 195, ly - 12,
                                      18 * len(ENGINES) + 6))
    for engine in ENGINES:
        n = sum(1 for e, _, _ in series if e == engine)
        parts.append('<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" '
                     'stroke-width="3"/>' % (x0 + w - 190, ly, x0 + w - 165, ly,
                                             COLOURS[engine]))
        parts.append('<text x="%g" y="%g" font-size="12">%s (%d run%s)</text>'
                     % (x0 + w - 160, ly + 4, engine, n, "" if n == 1 else "s"))
        ly += 18
    return parts


def svg(runs, meta):
    width, ph = 800, 300
    workloads = ["mixed-sleep0", "mixed-sleep20"]
    height = 60 + len(workloads) * (ph + 90)
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
             'viewBox="0 0 %d %d" font-family="sans-serif">'
             % (width, height, width, height),
             '<rect width="100%" height="100%" fill="white"/>',
             '<text x="20" y="24" font-size="15">ksm_mod on the release '
             'kernel (module) vs built-in KSM on the stock kernel (stock)'
             '</text>',
             '<text x="20" y="42" font-size="11" fill="#555">%s</text>'
             % esc("%s, %s" % (meta.get("date", "?"), meta.get("vm", "?")))]
    for i, workload in enumerate(workloads):
        parts += panel(runs, workload, 90, 75 + i * (ph + 90), width - 120, ph)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: bench-report.py OUT_DIR\n")
        return 2
    out = sys.argv[1]
    runs, meta = load(out)
    if not runs:
        sys.stderr.write("bench-report: no results under %s/runs\n" % out)
        return 1
    summary = summarize(runs)
    targets = judge(summary)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"meta": meta, "summary": summary, "targets": targets,
                   "runs": runs}, f, indent=1)
        f.write("\n")
    text = text_table(summary, targets, meta, runs)
    with open(os.path.join(out, "table.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(md_table(summary, targets, meta, runs))
    with open(os.path.join(out, "pages_sharing.svg"), "w") as f:
        f.write(svg(runs, meta))
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
