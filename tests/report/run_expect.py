#!/usr/bin/python3
"""Run a command and check its exit status and output.

usage: run_expect.py --exit N [--stdout-has TEXT] [--stderr-has TEXT]
                     [--stdout-lacks TEXT] [--file-has PATH TEXT] [--env KEY=VALUE]
                     -- COMMAND [ARG ...]

Each --*-has may repeat. On a mismatch it prints what was expected and
what the command wrote, and exits 1.
"""
import argparse
import os
import subprocess
import sys


def main():
    if "--" not in sys.argv:
        print("run_expect.py: missing -- before the command", file=sys.stderr)
        return 2
    split = sys.argv.index("--")
    parser = argparse.ArgumentParser()
    parser.add_argument("--exit", type=int, required=True)
    parser.add_argument("--stdout-has", action="append", default=[])
    parser.add_argument("--stderr-has", action="append", default=[])
    parser.add_argument("--stdout-lacks", action="append", default=[])
    parser.add_argument("--file-has", nargs=2, action="append", default=[])
    parser.add_argument("--remove-first", action="append", default=[])
    parser.add_argument("--env", action="append", default=[])
    args = parser.parse_args(sys.argv[1:split])
    command = sys.argv[split + 1:]

    for path in args.remove_first:
        if os.path.exists(path):
            os.remove(path)
    env = dict(os.environ)
    for item in args.env:
        key, _, value = item.partition("=")
        env[key] = value
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)

    problems = []
    if run.returncode != args.exit:
        problems.append("exit status %d, expected %d" % (run.returncode, args.exit))
    for text in args.stdout_has:
        if text not in run.stdout:
            problems.append("stdout lacks %r" % text)
    for text in args.stderr_has:
        if text not in run.stderr:
            problems.append("stderr lacks %r" % text)
    for text in args.stdout_lacks:
        if text in run.stdout:
            problems.append("stdout contains %r" % text)
    for path, text in args.file_has:
        try:
            with open(path) as f:
                content = f.read()
        except OSError as e:
            problems.append("cannot read %s: %s" % (path, e))
            continue
        if text not in content:
            problems.append("%s lacks %r" % (path, text))
    if problems:
        print("command: %s" % " ".join(command))
        for p in problems:
            print("FAILED: " + p)
        print("--- stdout ---\n" + run.stdout)
        print("--- stderr ---\n" + run.stderr)
        return 1
    print("ok: %s" % " ".join(command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
