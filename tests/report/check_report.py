#!/usr/bin/python3
"""Generate reports from the committed fixtures and check their contents.

usage: check_report.py ATTNBENCH FIXTURE_DIR OUT_DIR single|two-machines

single: one results file and a check file. Checks that report.md contains
the fixture's values (median time from the median aggregate, CV from the
cv aggregate, peak fraction, context entries, the error message of the
errored benchmark, the conformance counts), that every SVG is well-formed
XML with drawn lines, and that report.html inlines every SVG and refers to
nothing outside itself.

two-machines: two results files from different CPUs. Checks the
side-by-side columns, "n/a" CV for the single-run file, the time ratio and
both machine names in the plot legends.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

failures = []


def expect(condition, message):
    if not condition:
        failures.append(message)


def load(path):
    with open(path) as f:
        return json.load(f)


def aggregate(fixture, run_name, name, key):
    for row in fixture["benchmarks"]:
        if row.get("run_name") == run_name and row.get("aggregate_name") == name:
            return row[key]
    raise KeyError((run_name, name))


def table_row(md, run_name):
    for line in md.splitlines():
        if line.startswith("| " + run_name + " |"):
            return line
    return None


def run_report(binary, args, out_dir):
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    run = subprocess.run([binary, "report"] + args + ["-o", out_dir], capture_output=True,
                         text=True, timeout=300)
    if run.returncode != 0:
        print("report failed with exit %d\n%s%s" % (run.returncode, run.stdout, run.stderr))
        sys.exit(1)
    expect("attnbench: report: wrote" in run.stderr, "no progress lines on stderr")
    with open(os.path.join(out_dir, "report.md")) as f:
        md = f.read()
    with open(os.path.join(out_dir, "report.html")) as f:
        html = f.read()
    return md, html


def check_svgs(out_dir, html, minimum):
    svgs = sorted(n for n in os.listdir(out_dir) if n.endswith(".svg"))
    expect(len(svgs) >= minimum, "%d SVG files, expected at least %d" % (len(svgs), minimum))
    for name in svgs:
        try:
            root = ET.parse(os.path.join(out_dir, name)).getroot()
        except ET.ParseError as e:
            failures.append("%s is not well-formed XML: %s" % (name, e))
            continue
        expect(root.tag.endswith("svg"), "%s: root element is %s" % (name, root.tag))
        paths = [el for el in root.iter() if el.tag.endswith("path")]
        expect(len(paths) > 10, "%s: only %d path elements (nothing drawn?)" % (name, len(paths)))
        expect('id="%s"' % name[:-4] in html, "report.html does not inline %s" % name)
    expect(html.count("<svg") == len(svgs),
           "report.html has %d <svg> elements for %d SVG files" % (html.count("<svg"), len(svgs)))
    return svgs


def check_offline(html):
    # Namespace URIs inside the SVGs are identifiers, not requests.
    stripped = re.sub(r'xmlns(:\w+)?="[^"]*"', "", html)
    for pattern in ("http://", "https://", "<script", "<link", "@import", "src="):
        expect(pattern not in stripped, "report.html contains %r (not self-contained)" % pattern)


def single(binary, fixtures, out_dir):
    bench_path = os.path.join(fixtures, "bench_machine_a.json")
    check_path = os.path.join(fixtures, "check_machine_a.json")
    md, html = run_report(binary, [bench_path, "--check", check_path], out_dir)
    fixture = load(bench_path)

    # Median time and CV of one configuration, from the fixture's aggregates.
    name = "attention/simd-avx2/B:1/H:8/Hkv:8/Lq:1024/Lk:1024/D:64/causal:none/threads:1"
    row = table_row(md, name)
    expect(row is not None, "no table row for " + name)
    if row:
        median_ms = aggregate(fixture, name, "median", "real_time")
        cv = aggregate(fixture, name, "cv", "real_time")
        peak = aggregate(fixture, name, "median", "peak_fraction")
        expect("%.3f ms" % median_ms in row, "row lacks median %.3f ms: %s" % (median_ms, row))
        expect("%.1f%%" % (100 * cv) in row, "row lacks CV %.1f%%: %s" % (100 * cv, row))
        expect("%.1f%%" % (100 * peak) in row, "row lacks peak fraction %.1f%%: %s" % (100 * peak, row))
        expect("| 3 |" in row, "row lacks the repetition count 3: " + row)

    # An encoder_layer row and the plan time counter.
    enc = "encoder_layer/blas/B:1/L:256/E:512/H:8/F:2048/act:gelu/norm_first:0/causal:none/threads:1"
    row = table_row(md, enc)
    expect(row is not None and "2.500 ms" in row, "encoder row lacks plan time 2.500 ms: %s" % row)

    # The errored benchmark shows its message.
    err = "attention/simd-avx512/B:1/H:8/Hkv:8/Lq:1024/Lk:1024/D:64/causal:none/threads:1"
    row = table_row(md, err)
    expect(row is not None and "error: simd-avx512 needs AVX-512" in row,
           "errored benchmark row lacks its message: %s" % row)

    # Every context entry, including custom ones and the caches array.
    for key, value in (("peak_gflops_avx2_threads_1", "88.4"), ("openblas_corename", "Haswell"),
                       ("onednn_version", "2.7.3 (git N/A)"),
                       ("impl.simd-avx512", "not run: the CPU lacks AVX-512"),
                       ("host_name", "bench-host-a"), ("num_cpus", "2")):
        expect("| %s | %s |" % (key, value) in md, "context table lacks %s = %s" % (key, value))
    expect("L1 Data 48 KiB" in md and "L3 Unified 54 MiB" in md, "caches not shown")

    # Conformance summary: onednn has one FAIL; simd-avx512 one SKIP.
    expect("| onednn | 3 | 1 | 0 | 0 | 1.7 |" in md, "conformance row for onednn is wrong")
    expect("| simd-avx512 | 0 | 0 | 1 | 0 | n/a |" in md, "conformance row for simd-avx512 is wrong")
    expect("max budget exceeded at (0, 3, 17, 5)" in md, "failing case reason missing")

    svgs = check_svgs(out_dir, html, 10)
    for wanted in ("attention_seq_gflops_1.svg", "attention_seq_peak_fraction_1.svg",
                   "attention_seq_speedup_over_naive_1.svg", "attention_seq_speedup_over_blas_1.svg",
                   "attention_heads_gflops_1.svg", "attention_threads_gflops_1.svg",
                   "attention_decode_bandwidth_1.svg", "encoder_seq_gflops_1.svg",
                   "accuracy_vs_speed.svg"):
        expect(wanted in svgs, "missing plot " + wanted)
    # The GFLOP/s plot draws the measured peak from the context.
    with open(os.path.join(out_dir, "attention_seq_gflops_1.svg")) as f:
        expect("measured peak, 1 thread (peak_gflops_avx2_threads_1)" in f.read(),
               "GFLOP/s plot lacks the peak line of the fastest ISA")
    # The decode plot draws the memory bandwidth bench measured.
    with open(os.path.join(out_dir, "attention_decode_bandwidth_1.svg")) as f:
        expect("memory bandwidth, 1 thread (bandwidth_gbps_threads_1)" in f.read(),
               "decode plot lacks the measured bandwidth line")
    check_offline(html)


def two_machines(binary, fixtures, out_dir):
    a = os.path.join(fixtures, "bench_machine_a.json")
    b = os.path.join(fixtures, "bench_machine_b.json")
    md, html = run_report(binary, [a, b], out_dir)
    label_a = "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz on bench-host-a"
    label_b = "AMD EPYC 7763 64-Core Processor on bench-host-b"
    expect("| context | %s | %s |" % (label_a, label_b) in md, "machine table lacks both labels")
    expect("time ratio %s / %s" % (label_b, label_a) in md, "no time ratio column")
    expect("| openblas_corename | Haswell | Zen |" in md, "context values not side by side")

    name = "attention/blas/B:1/H:8/Hkv:8/Lq:2048/Lk:2048/D:64/causal:none/threads:1"
    row = table_row(md, name)
    expect(row is not None, "no row for " + name)
    if row:
        fa = load(a)
        fb = load(b)
        t_a = aggregate(fa, name, "median", "real_time")
        t_b = [r["real_time"] for r in fb["benchmarks"] if r["run_name"] == name][0]
        cells = [c.strip() for c in row.strip("|").split("|")]
        # name, then per file: median, CV, peak fraction; then the ratio.
        expect(cells[1] == "%.3f ms" % t_a, "median A %r != %.3f ms" % (cells[1], t_a))
        expect(cells[4] == "%.3f ms" % t_b, "median B %r != %.3f ms" % (cells[4], t_b))
        expect(cells[5] == "n/a", "CV of a single run is %r, expected n/a" % cells[5])
        expect(cells[7] == "%.3f" % (t_b / t_a), "ratio %r != %.3f" % (cells[7], t_b / t_a))

    check_svgs(out_dir, html, 10)
    with open(os.path.join(out_dir, "attention_seq_gflops_1.svg")) as f:
        svg = f.read()
    expect("blas (%s)" % label_a in svg and "blas (%s)" % label_b in svg,
           "overlaid plot lacks a series per machine")
    check_offline(html)


def main():
    binary, fixtures, out_dir, mode = sys.argv[1:5]
    {"single": single, "two-machines": two_machines}[mode](binary, fixtures, out_dir)
    if failures:
        for f in failures:
            print("FAILED: " + f)
        return 1
    print("ok: report (%s) in %s" % (mode, out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
