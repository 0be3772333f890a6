"""Checks run-time ISA dispatch by capping it with ATTNBENCH_MAX_ISA.

For each cap (avx2, scalar), `attnbench check` over the committed vectors
must exit 0. Every implementation that needs an ISA above the cap must
report SKIP for every case, naming the cap. Every other implementation must
pass every case it implements. An invalid value must print a warning that
names it and be ignored.

usage: /usr/bin/python3 isa_cap.py PATH/TO/attnbench WORK_DIR
"""
import json
import os
import subprocess
import sys

ATTNBENCH, WORK_DIR = sys.argv[1], sys.argv[2]
LEVELS = {"-": 0, "scalar": 0, "avx2": 1, "avx512": 2}
failures = []


def expect(condition, what):
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        failures.append(what)


def run(args, cap):
    env = dict(os.environ)
    env.pop("ATTNBENCH_MAX_ISA", None)
    if cap is not None:
        env["ATTNBENCH_MAX_ISA"] = cap
    return subprocess.run([ATTNBENCH] + args, capture_output=True, text=True, env=env,
                          timeout=1800)


def list_impls(cap):
    """Returns {name: (needs, runs, details)} from `attnbench list`."""
    proc = run(["list"], cap)
    impls = {}
    rows = proc.stdout.splitlines()
    header = next(i for i, line in enumerate(rows) if line.startswith("name"))
    for line in rows[header + 1:]:
        fields = line.split(None, 4)
        details = fields[4] if len(fields) > 4 else ""
        # A family this build left out (onednn without a 2.x oneDNN) is
        # listed with the reason but is no implementation to check.
        if len(fields) >= 4 and not details.startswith("not built into this attnbench"):
            impls[fields[0]] = (fields[2], fields[3], details)
    return proc, impls


os.makedirs(WORK_DIR, exist_ok=True)
detected = list_impls(None)[1]

for cap in ("avx2", "scalar"):
    listing, impls = list_impls(cap)
    expect(f"capped to {cap}" in listing.stdout, f"{cap}: list shows the cap")
    expect(impls.keys() == detected.keys(), f"{cap}: list shows every implementation")
    json_path = os.path.join(WORK_DIR, f"check_{cap}.json")
    proc = run(["check", "--threads", "2", "--json", json_path], cap)
    expect(proc.returncode == 0, f"{cap}: check exits 0 (got {proc.returncode}; "
           f"last lines: {proc.stdout.splitlines()[-1:]}, {proc.stderr[-300:]!r})")
    with open(json_path) as f:
        results = json.load(f)["results"]

    for name, (needs, runs, details) in impls.items():
        mine = [r for r in results if r["impl"] == name]
        statuses = sorted({r["status"] for r in mine})
        if LEVELS.get(needs, 0) > LEVELS[cap]:
            expect(runs == "no", f"{cap}: list says {name} (needs {needs}) does not run")
            expect(statuses == ["SKIP"], f"{cap}: {name} gets only SKIP (got {statuses})")
            capped = [r for r in mine if "does not implement" not in r["reason"]]
            expect(capped and all("ATTNBENCH_MAX_ISA" in r["reason"] for r in capped),
                   f"{cap}: every SKIP of {name} on an operation it implements names "
                   f"ATTNBENCH_MAX_ISA")
        else:
            expect(runs == "yes", f"{cap}: list says {name} runs")
            expect(set(statuses) <= {"PASS", "SKIP"} and "PASS" in statuses,
                   f"{cap}: {name} passes (statuses {statuses})")
            skipped = [r for r in mine if r["status"] == "SKIP"]
            expect(all("does not implement" in r["reason"] for r in skipped),
                   f"{cap}: {name} skips only operations it does not implement")
        # An implementation that reports the level it was compiled for at run
        # time (blocked does) must stay at or below the cap.
        if "compiled for " in details:
            level = details.split("compiled for ", 1)[1].split(",")[0].split()[0]
            expect(LEVELS.get(level, 99) <= LEVELS[cap],
                   f"{cap}: {name} runs its {level} variant, not one above the cap")

# An unknown value warns, naming itself, and changes nothing.
listing, impls = list_impls("foo")
expect("ATTNBENCH_MAX_ISA='foo'" in listing.stderr and "ignoring" in listing.stderr,
       f"foo: a warning names the invalid value (stderr {listing.stderr!r})")
expect(listing.returncode == 0, "foo: list still exits 0")
expect({n: v[1] for n, v in impls.items()} == {n: v[1] for n, v in detected.items()},
       "foo: the same implementations run as without a cap")
proc = run(["check", "--threads", "2", "--impl", "^naive$", "--case", "nan|inf"], "foo")
expect(proc.returncode == 0 and "warning" in proc.stderr,
       f"foo: check warns and still passes (exit {proc.returncode})")

print(f"{len(failures)} failed checks")
sys.exit(1 if failures else 0)
