#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the guest's benchmark output into a table, CSV, JSON and plot data.

    report.py LOG OUTDIR
    report.py --targets OUT.rst DIR...

LOG holds the lines module/bench.c prints ("row k=v ...", "mem ...",
"pending ...", "skip ...", "error ..."). Writes OUTDIR/bench.csv,
OUTDIR/bench.json and OUTDIR/bench.dat (for scripts/bench/plot.gp), prints
the table on stdout, and exits 1 when a line does not parse or a case
reported an error. Timings are never judged here: the "met" column only
compares a ratio with the target of Documentation/benchmarks.rst.

With --targets, reads the bench.json and run.txt of each DIR (one boot
each, as written by the first form and scripts/bench.sh) and writes the
targets table of Documentation/benchmarks.rst (bench-targets.inc): every
row with a target, its ratio in each boot, and whether it was met in all.
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
        "map+unmap:hat-size": 1.5,
    }.get(op)


# The rows of the targets table, in order: (label, op, n, peer prefix).
TARGET_ROWS = [
    ("map+unmap 1 vs vmap", "map+unmap", 1, "vmap"),
    ("map+unmap 16 vs vmap", "map+unmap", 16, "vmap"),
    ("map+unmap 1, tables kept, vs vm_map_ram", "map+unmap:tables-kept", 1, "vm_map_ram"),
    ("map+unmap 16, tables kept, vs vm_map_ram", "map+unmap:tables-kept", 16, "vm_map_ram"),
    ("map+unmap 1, fresh, vs vm_map_ram", "map+unmap", 1, "vm_map_ram"),
    ("map+unmap 16, fresh, vs vm_map_ram", "map+unmap", 16, "vm_map_ram"),
    ("map+unmap 65536 vs vmap", "map+unmap", 65536, "vmap"),
    ("map+unmap 65536 vs floor", "map+unmap", 65536, "floor"),
    ("ptalloc fresh", "ptalloc-fresh", 1, ""),
    ("ptalloc cached", "ptalloc-cached", 1, ""),
    ("probe vs lookup_address", "probe", 512, ""),
    ("shootdown 1", "shootdown", 1, ""),
    ("shootdown 16", "shootdown", 16, ""),
    ("2 threads vs 1, N = 16", "2threads-1hat", 16, ""),
    ("2 threads vs 1, N = 512", "2threads-1hat", 512, ""),
    ("map+unmap 16, hat of 1M vs of 16 pages", "map+unmap:hat-size", 1048576, ""),
    ("reap per table, 16K vs 1K", "reap-per-table", 16384, ""),
    ("1 GiB as 2M vs 4K", "large", 262144, ""),
]
MEM_TARGET = 2.0    # metadata per table, % of a 4 KiB table page


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


def rst_table(hdr, body):
    widths = [max(len(r[i]) for r in [hdr] + body) for i in range(len(hdr))]
    rule = "  ".join("=" * w for w in widths)
    lines = [rule, "  ".join(h.ljust(w) for h, w in zip(hdr, widths)).rstrip(), rule]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in body]
    return lines + [rule]


def status(met, t):
    """'met', 'missed' or 'missed (k of n)' from each boot's verdict."""
    if t is None:
        return "(reported)"
    if all(met):
        return "met"
    return "missed" if not any(met) else f"missed ({met.count(False)} of {len(met)})"


def targets(out, dirs):
    """Write the targets table of benchmarks.rst from the boots in dirs."""
    boots = []
    for d in dirs:
        with open(os.path.join(d, "bench.json")) as f:
            j = json.load(f)
        with open(os.path.join(d, "run.txt")) as f:
            run = [ln.rstrip() for ln in f if ln.strip()]
        boots.append((j, run))
    body = []
    for label, op, n, peer in TARGET_ROWS:
        ratios, met, t = [], [], None
        for j, _ in boots:
            r = next((r for r in j["rows"] if r["op"] == op and r["n"] == n and
                      r["peer"].startswith(peer)), None)
            if r is None or r.get("ratio") is None:
                ratios.append("-")
                met.append(False)
                continue
            t = target(op, n, r["peer"])
            ratios.append(fmt(r["ratio"], 3 if r["ratio"] < 0.1 else 2))
            met.append(t is not None and r["ratio"] <= t)
        if ratios.count("-") == len(ratios):
            continue        # a row the specs did not run
        body.append((label, "<= " + fmt(t) if t else "-", " / ".join(ratios),
                     status(met, t)))
    pages = sorted({m["pages"] for j, _ in boots for m in j["memory"]}, key=int)
    for p in pages:
        ms = [next((m for m in j["memory"] if m["pages"] == p), None) for j, _ in boots]
        pct = [float(m["pct_of_4k"]) if m else None for m in ms]
        body.append((f"metadata per table, {p}-page hat", f"<= {MEM_TARGET:g} %",
                     " / ".join("-" if v is None else f"{v:.2f} %" for v in pct),
                     status([v is not None and v <= MEM_TARGET for v in pct], 1)))
    per_page = sorted({m.get("per_page") or "0" for j, _ in boots for m in j["memory"]})
    body.append(("state per mapped page beyond its entry", "-",
                 " / ".join(per_page) + " B", "(reported)"))
    hdr = ("row", "target", "boots " + " / ".join(str(i + 1) for i in range(len(boots))),
           "status")
    lines = [".. This file is written by scripts/bench/report.py --targets",
             "   (make bench BOOTS=3); do not edit it by hand.", ""]
    lines += rst_table(hdr, body)
    lines += ["", "The boots (each one's ``run.txt``):", ""]
    for i, (_, run) in enumerate(boots):
        lines.append(f"{i + 1}. " + "; ".join(
            ln.split(":", 1)[0] + " " + ln.split(":", 1)[1].strip()
            for ln in run if ln.split(":", 1)[0] in ("date", "commit", "machine", "load")))
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--targets":
        sys.exit(targets(sys.argv[2], sys.argv[3:]))
    sys.exit(main())
