#!/usr/bin/python3
"""Tests of attnbench's plugin loading, check --isolate and the installed
package. Each test case is a function named by the first argument; CTest
runs them one per test. Every check prints the command and both values
when it fails.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time


class TestFailure(Exception):
    pass


def run(cmd, timeout=600, env=None):
    """Runs cmd and returns (exit status, stdout, stderr)."""
    print("$ " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    return proc.returncode, proc.stdout, proc.stderr


def expect(condition, message, out="", err=""):
    if not condition:
        raise TestFailure(message + "\n--- stdout ---\n" + out[-4000:]
                          + "\n--- stderr ---\n" + err[-4000:])


def expect_status(cmd, expected, **kwargs):
    status, out, err = run(cmd, **kwargs)
    expect(status == expected, f"exit status {status}, expected {expected}", out, err)
    return out, err


def plugin(args, name):
    return os.path.join(args.plugins, name + ".so")


def result_lines(out, status, impl):
    """Lines of check's output with this status and implementation."""
    lines = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == status and fields[1] == impl:
            lines.append(line)
    return lines


# === Loading ===

def test_example_passes_check(args):
    out, err = expect_status([args.attnbench, "check", "--plugin", plugin(args, "plugin_example"),
                              "--impl", "^example[.]rows$", "--op", "attention"], 0)
    passed = result_lines(out, "PASS", "example.rows")
    expect(len(passed) >= 40, f"{len(passed)} PASS lines for example.rows, expected >= 40",
           out, err)
    expect(not result_lines(out, "FAIL", "example.rows"), "example.rows has FAIL lines", out, err)


def test_list_shows_prefixed_name(args):
    out, err = expect_status([args.attnbench, "list", "--plugin", plugin(args, "plugin_example")],
                             0)
    rows = [line for line in out.splitlines() if line.startswith("example.rows ")]
    expect(len(rows) == 1, "list shows no row for example.rows", out, err)
    expect("attention" in rows[0] and "yes" in rows[0],
           "example.rows row lacks 'attention' or 'yes': " + rows[0], out, err)
    expect(rows[0].endswith("from plugin " + plugin(args, "plugin_example")),
           "example.rows row does not name its plugin file: " + rows[0], out, err)

    # The --plugin=PATH spelling works too, and a bare file name means the
    # current directory.
    out, err = expect_status([args.attnbench, "list", "--plugin=plugin_example.so"], 0)
    expect("example.rows" in out, "--plugin=FILE did not load example.rows", out, err)


def test_wrong_abi_rejected(args):
    path = plugin(args, "plugin_wrong_abi")
    for command in ("list", "check"):
        out, err = expect_status([args.attnbench, command, "--plugin", path], 2)
        expect(path in err, f"{command}: the message does not name {path}", out, err)
        expect("ABI version 2" in err, f"{command}: the message lacks the plugin's version 2",
               out, err)
        expect("ABI version 1" in err, f"{command}: the message lacks attnbench's version 1",
               out, err)


def test_missing_symbol_rejected(args):
    path = plugin(args, "plugin_no_impls")
    out, err = expect_status([args.attnbench, "check", "--plugin", path], 2)
    expect(path in err, f"the message does not name {path}", out, err)
    expect("attnbench_plugin_impls" in err, "the message does not name the missing symbol",
           out, err)

    missing = os.path.join(args.work, "no_such_plugin.so")
    out, err = expect_status([args.attnbench, "list", "--plugin", missing], 2)
    expect(missing in err and "cannot load plugin" in err,
           "a missing file is not reported by name", out, err)

    out, err = expect_status([args.attnbench, "list", "--plugin"], 2)
    expect("--plugin" in err and "needs a value" in err, "a missing value is not reported",
           out, err)


def test_name_clash_rejected(args):
    a, b = plugin(args, "plugin_twin_a"), plugin(args, "plugin_twin_b")
    out, err = expect_status([args.attnbench, "check", "--plugin", a, "--plugin", b], 2)
    expect(a in err and b in err, "the clash message does not name both files", out, err)
    expect("'twin'" in err, "the clash message does not name the plugin name", out, err)

    naive = plugin(args, "plugin_named_naive")
    out, err = expect_status([args.attnbench, "list", "--plugin", naive], 2)
    expect(naive in err and "built-in implementation 'naive'" in err,
           "a plugin named like a built-in is not reported with both names", out, err)

    out, err = expect_status([args.attnbench, "list", "--plugin", a, "--plugin", a], 2)
    expect("already loaded" in err, "loading one file twice is not reported", out, err)


def test_invalid_name_rejected(args):
    path = plugin(args, "plugin_bad_name")
    out, err = expect_status([args.attnbench, "list", "--plugin", path], 2)
    expect(path in err and "'bad/name'" in err, "a plugin name with '/' is not rejected by name",
           out, err)


# === Isolation ===

def test_isolate_reports_segfault(args):
    json_path = os.path.join(args.work, "isolate_crash.json")
    junit_path = os.path.join(args.work, "isolate_crash.xml")
    cases = "^attn_mha1_L1_D1$|^attn_mha4_Lq7_Lk0_D8$|^attn_gqa8x2_L64_D64$"
    out, err = expect_status([args.attnbench, "check", "--isolate", "--plugin",
                              plugin(args, "plugin_crash"), "--impl", "^(naive|crash[.]run)$",
                              "--case", cases, "--json", json_path, "--junit", junit_path], 1)

    errors = result_lines(out, "ERROR", "crash.run")
    expect(len(errors) == 3, f"{len(errors)} ERROR lines for crash.run, expected 3", out, err)
    for line in errors:
        expect("SIGSEGV" in line, "an ERROR line does not name SIGSEGV: " + line, out, err)
    passed = result_lines(out, "PASS", "naive")
    expect(len(passed) == 3, f"{len(passed)} PASS lines for naive, expected 3", out, err)

    with open(json_path) as f:
        results = json.load(f)["results"]
    crash = [r for r in results if r["impl"] == "crash.run"]
    expect(len(crash) == 3 and all(r["status"] == "ERROR" and "SIGSEGV" in r["reason"]
                                   for r in crash),
           "the JSON file lacks the three SIGSEGV errors: " + json.dumps(crash), out, err)
    expect(sum(r["status"] == "PASS" for r in results if r["impl"] == "naive") == 3,
           "the JSON file lacks naive's three PASS results", out, err)
    with open(junit_path) as f:
        junit = f.read()
    expect(junit.count("<error message=") == 3 and "SIGSEGV" in junit,
           "the JUnit file lacks the three SIGSEGV errors", junit, err)


def test_isolate_times_out_hang(args):
    cases = "^attn_mha1_L1_D1$|^attn_mha4_Lq7_Lk0_D8$"
    start = time.monotonic()
    out, err = expect_status([args.attnbench, "check", "--isolate", "--timeout", "2", "--plugin",
                              plugin(args, "plugin_hang"), "--impl", "^(naive|hang[.]run)$",
                              "--case", cases], 1, timeout=100)
    elapsed = time.monotonic() - start
    errors = result_lines(out, "ERROR", "hang.run")
    expect(len(errors) == 2, f"{len(errors)} ERROR lines for hang.run, expected 2", out, err)
    for line in errors:
        expect("timed out after 2 s" in line, "an ERROR line lacks 'timed out after 2 s': "
               + line, out, err)
    expect(len(result_lines(out, "PASS", "naive")) == 2, "naive did not PASS both cases",
           out, err)
    # Two deadlines of 2 s each, plus start-up; a hang that was not killed
    # would hit the 100 s subprocess timeout instead.
    expect(elapsed < 60, f"the run took {elapsed:.1f} s, expected about 4 s", out, err)


def test_isolate_matches_plain_run(args):
    """Every built-in, OpenMP, OpenBLAS and oneDNN ones included, gives the
    same statuses in forked children as in one process. A parent that ran
    OpenMP code before forking would make the children hang instead."""
    cases = "^attn_gqa8x2_L64_D64$|^attn_mha4_B3_L16_D32_padded$|^enc_E64_H4_F32_L128_gelu_post"
    statuses = {}
    for mode in ("plain", "isolated"):
        json_path = os.path.join(args.work, f"builtins_{mode}.json")
        extra = ["--isolate", "--timeout", "10"] if mode == "isolated" else []
        out, err = expect_status([args.attnbench, "check", "--case", cases, "--threads", "2",
                                  "--json", json_path] + extra, 0)
        with open(json_path) as f:
            statuses[mode] = {(r["impl"], r["case"]): r["status"] for r in json.load(f)["results"]}
        expect(len(statuses[mode]) >= 9, f"{mode}: only {len(statuses[mode])} results", out, err)
    expect(statuses["plain"] == statuses["isolated"],
           f"statuses differ: plain {statuses['plain']}, isolated {statuses['isolated']}")


def test_timeout_needs_isolate(args):
    out, err = expect_status([args.attnbench, "check", "--timeout", "5"], 2)
    expect("--timeout needs --isolate" in err, "the message does not explain --timeout", out, err)
    out, err = expect_status([args.attnbench, "check", "--isolate", "--timeout", "0"], 2)
    expect("--timeout" in err and "'0'" in err, "--timeout 0 is not rejected by value", out, err)


# === The installed package ===

def bench_cmd(attnbench, plugin_path, out_json):
    return [attnbench, "bench", "--plugin", plugin_path, "--impl", "^example[.]rows$",
            "--op", "attention", "--preset", "quick", "--out", out_json]


def check_bench_results(out_json, out, err):
    with open(out_json) as f:
        results = json.load(f)
    names = [b["name"] for b in results.get("benchmarks", [])]
    expect(names and all(n.startswith("attention/example.rows/") for n in names),
           "the results file lacks attention/example.rows/... benchmarks: " + repr(names[:5]),
           out, err)
    ok = [b for b in results["benchmarks"]
          if not b.get("error_occurred") and b.get("GFLOPS", 0) > 0]
    expect(ok, "no example.rows benchmark has GFLOPS > 0", out, err)


def test_installed_package(args):
    prefix = os.path.join(args.work, "prefix")
    moved = os.path.join(args.work, "prefix-moved")
    example_build = os.path.join(args.work, "example-build")
    for path in (prefix, moved, example_build):
        shutil.rmtree(path, ignore_errors=True)

    expect_status([args.cmake, "--install", args.build_dir, "--prefix", prefix], 0)
    for rel in ("bin/attnbench", "include/attnbench/impl.h",
                "share/attnbench/vectors/attention.h5",
                "share/attnbench/vectors/encoder_layer.h5",
                "lib/cmake/attnbench/attnbenchConfig.cmake",
                "lib/cmake/attnbench/attnbenchConfigVersion.cmake",
                "lib/pkgconfig/attnbench.pc"):
        expect(os.path.isfile(os.path.join(prefix, rel)), f"{rel} is not installed in {prefix}")

    # pkg-config gives the include directory of the prefix.
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, "lib/pkgconfig"))
    status, out, err = run(["pkg-config", "--cflags", "attnbench"], env=env)
    expect(status == 0, "pkg-config --cflags attnbench failed", out, err)
    include = os.path.realpath(os.path.join(prefix, "include"))
    flag = out.strip()
    expect(flag.startswith("-I") and os.path.realpath(flag[2:]) == include,
           f"pkg-config gives '{flag}', expected -I{include}", out, err)
    status, out, err = run(["pkg-config", "--variable=abi_version", "attnbench"], env=env)
    expect(status == 0 and out.strip() == "1", f"abi_version is '{out.strip()}', expected 1",
           out, err)

    # Build the example against the installed package only.
    expect_status([args.cmake, "-S", args.example_src, "-B", example_build,
                   "-DCMAKE_PREFIX_PATH=" + prefix], 0)
    expect_status([args.cmake, "--build", example_build], 0)
    example = os.path.join(example_build, "example_plugin.so")
    expect(os.path.isfile(example), f"{example} was not built")

    # The installed attnbench checks it with the installed vectors, and
    # still finds them after the prefix moves.
    shutil.copytree(prefix, moved, symlinks=True)
    for root in (prefix, moved):
        json_path = os.path.join(args.work, "installed_check.json")
        out, err = expect_status([os.path.join(root, "bin/attnbench"), "check", "--plugin",
                                  example, "--impl", "example"], 0)
        expect(len(result_lines(out, "PASS", "example.rows")) >= 40,
               "fewer than 40 PASS lines for example.rows", out, err)
        out, err = expect_status([os.path.join(root, "bin/attnbench"), "check", "--plugin",
                                  example, "--impl", "example", "--op", "attention",
                                  "--case", "^attn_mha1_L1_D1$", "--json", json_path], 0)
        with open(json_path) as f:
            files = {r["file"] for r in json.load(f)["results"]}
        expected = os.path.join(root, "bin", "..", "share/attnbench/vectors/attention.h5")
        expect(files == {expected}, f"check read {files}, expected {expected}", out, err)

    # bench, when this attnbench has the command.
    status, out, err = run([os.path.join(prefix, "bin/attnbench"), "--help"])
    if any(line.split()[:1] == ["bench"] for line in out.splitlines()):
        out_json = os.path.join(args.work, "installed_bench.json")
        out, err = expect_status(bench_cmd(os.path.join(prefix, "bin/attnbench"), example,
                                           out_json), 0)
        check_bench_results(out_json, out, err)
    else:
        print("NOTE: this attnbench has no bench command; the bench step did not run")


def test_bench_runs_example(args):
    out_json = os.path.join(args.work, "bench_example.json")
    out, err = expect_status(bench_cmd(args.attnbench, plugin(args, "plugin_example"), out_json),
                             0)
    check_bench_results(out_json, out, err)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("case")
    parser.add_argument("--attnbench", required=True)
    parser.add_argument("--plugins", required=True, help="directory of the test plugins")
    parser.add_argument("--work", required=True, help="directory for output files")
    parser.add_argument("--build-dir")
    parser.add_argument("--example-src")
    parser.add_argument("--cmake", default="cmake")
    args = parser.parse_args()
    args.attnbench = os.path.abspath(args.attnbench)
    test = globals().get("test_" + args.case)
    if not test:
        print(f"unknown test case '{args.case}'", file=sys.stderr)
        return 2
    # Bare plugin file names in the tests refer to the plugin directory.
    os.chdir(args.plugins)
    try:
        test(args)
    except TestFailure as failure:
        print(f"FAILED {args.case}: {failure}", file=sys.stderr)
        return 1
    print(f"passed {args.case}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
