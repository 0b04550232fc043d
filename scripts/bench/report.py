#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the guest's benchmark output into a table, CSV, JSON and plot data.

    report.py LOG OUTDIR

LOG holds the lines module/bench.c prints ("row k=v ...", "mem ...",
"pending ...", "skip ...", "error ..."). Writes OUTDIR/bench.csv,
OUTDIR/bench.json and OUTDIR/bench.dat (for scripts/bench/plot.gp), prints
the table on stdout, and exits 1 when a line does not parse or a case
reported an error. Timings are never judged here: the "met" column only
compares a ratio with the target of Documentation/benchmarks.rst.
"""
import csv
import json
import os
import re
import shlex
import sys

FIELDS = ["op", "n", "peer", "reps", "iters", "ht_med", "ht_min", "ht_max",
          "pe_med", "pe_min", "pe_max", "ratio", "ht_ipis", "ht_flushes",
          "pe_ipis", "pe_flushes"]
INTS = ["n", "reps", "iters", "ht_med", "ht_min", "ht_max", "pe_med",
        "pe_min", "pe_max"]


def target(op, n, peer):
    """The issue's target for a row (htable / peer), or None."""
    if op == "map+unmap":
        if peer.startswith("floor"):
            return 1.5
        # Against vm_map_ram, which keeps its tables, the target is the
        # tables-kept row's; this one (fresh tables) is reported beside it.
        if peer.startswith("vm_map_ram"):
            return None
        if n <= 16 or n >= 65536:
            return 1.0
        return None
    if op == "map+unmap:tables-kept":
        return 1.0 if peer.startswith("vm_map_ram") else None
    return {
        "ptalloc-fresh": 1.3,
        "ptalloc-cached": 0.3,
        "probe": 1.5,
        "shootdown": 1.1,
        "2threads-1hat": 1.3,
        "reap-per-table": 2.0,
        "large": 0.01,
    }.get(op)


def parse(lines):
    rows, mems, notes, bad = [], [], [], []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        kind = line.split(" ", 1)[0]
        if kind not in ("row", "mem", "pending", "skip", "error", "note"):
            continue
        try:
            kv = dict(t.split("=", 1) for t in shlex.split(line)[1:])
        except ValueError:
            bad.append(line)
            continue
        if kind == "row":
            if any(f not in kv for f in FIELDS):
                bad.append(line)
                continue
            r = {f: kv[f] for f in FIELDS}
            try:
                for f in INTS:
                    r[f] = int(r[f])
                r["ratio"] = float(r["ratio"])
                for f in ("ht_ipis", "ht_flushes", "pe_ipis", "pe_flushes"):
                    r[f] = None if r[f] == "na" else float(r[f])
            except ValueError:
                bad.append(line)
                continue
            t = target(r["op"], r["n"], r["peer"])
            r["target"] = t
            r["met"] = None if t is None else r["ratio"] <= t
            rows.append(r)
        elif kind == "mem":
            mems.append(kv)
        elif kind == "pending":
            rows.append({"op": kv.get("op", "?"), "n": 0, "peer": "pending",
                         "ratio": None, "target": target(kv.get("op"), 0, ""),
                         "met": None, "reason": kv.get("reason", "")})
        else:
            notes.append((kind, kv))
            if kind == "error":
                bad.append(line)
    return rows, mems, notes, bad


def fmt(v, digits=2):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def main():
    log, outdir = sys.argv[1], sys.argv[2]
    with open(log, errors="replace") as f:
        rows, mems, notes, bad = parse(f.read().replace("\r", "").splitlines())
    os.makedirs(outdir, exist_ok=True)

    hdr = ("operation", "N", "k", "htable ns/op med [min..max]", "peer",
           "peer ns/op med [min..max]", "ratio", "target", "IPI/op ht|peer",
           "flush/op ht|peer")
    out = []
    for r in rows:
        if r["peer"] == "pending":
            out.append((r["op"], "-", "-", "pending: " + r["reason"], "-", "-",
                        "-", "<= " + fmt(r["target"]), "-", "-"))
            continue
        met = "" if r["met"] is None else (" ok" if r["met"] else " MISSED")
        out.append((r["op"], str(r["n"]), str(r["reps"]),
                    f"{r['ht_med']} [{r['ht_min']}..{r['ht_max']}]",
                    r["peer"],
                    f"{r['pe_med']} [{r['pe_min']}..{r['pe_max']}]",
                    fmt(r["ratio"], 3),
                    ("<= " + fmt(r["target"]) + met) if r["target"] else "-",
                    f"{fmt(r['ht_ipis'])}|{fmt(r['pe_ipis'])}",
                    f"{fmt(r['ht_flushes'])}|{fmt(r['pe_flushes'])}"))
    widths = [max(len(x[i]) for x in out + [hdr]) for i in range(len(hdr))]
    line = "  ".join(h.ljust(w) for h, w in zip(hdr, widths))
    print(line)
    print("-" * len(line))
    for x in out:
        print("  ".join(c.ljust(w) for c, w in zip(x, widths)))
    for m in mems:
        print(f"memory: {m.get('pages')} pages in {m.get('tables')} tables: "
              f"{m.get('per_table')} B metadata per table "
              f"({m.get('pct_of_4k')}% of 4 KiB; struct htable "
              f"{m.get('struct_htable')} B, slab object {m.get('slab_object')} B, "
              f"hash {m.get('hash_bytes')} B per hat), "
              f"{m.get('per_page') or 0} B of state per mapped page beyond its entry")
    for kind, kv in notes:
        print(kind + ": " + " ".join(f"{k}={v}" for k, v in kv.items()))

    with open(os.path.join(outdir, "bench.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(FIELDS + ["target", "met"])
        for r in rows:
            if r["peer"] != "pending":
                w.writerow([r[k] for k in FIELDS] + [r["target"], r["met"]])
    with open(os.path.join(outdir, "bench.json"), "w") as f:
        json.dump({"rows": rows, "memory": mems,
                   "notes": [dict(kv, kind=k) for k, kv in notes]}, f, indent=1)
    with open(os.path.join(outdir, "bench.dat"), "w") as f:
        for r in rows:
            if r["peer"] == "pending" or r["target"] is None:
                continue
            label = f"{r['op']} {r['n']}"
            if r["op"] == "map+unmap":
                label += " " + re.split(r"[+:(]", r["peer"])[0]
            if r["op"] == "map+unmap" and r["peer"].startswith("floor"):
                label = f"map {r['n']} floor"
            f.write(f'"{label}" {max(r["ratio"], 0.001)} {r["target"]}\n')
    if bad:
        for b in bad:
            print("unparsed or failed: " + b, file=sys.stderr)
        return 1
    if not rows:
        print("no rows", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
