#!/usr/bin/env python3
"""Checks a ConvLab weights export against PyTorch: the accuracy the store recorded for a run's
epoch must be what PyTorch computes with the exported weights, to 1e-4.

A cross-checking tool, never a dependency of the build or the tests. It runs

    runner export RUN [--epoch N] --store STORE -o <temporary file>
    python3 scripts/reference/convlab_torch.py --evaluate <that file> --json

(the second builds the network from the spec in the file's metadata, loads the weights with
safetensors and evaluates the Fashion-MNIST test set), reads the run's `test_accuracy` of that
epoch from the store (opened read-only), and prints both, their difference and PASS or FAIL.
Exit code 0 PASS, 1 FAIL, 2 when something could not be run (the message says what).

Needs torch, safetensors and numpy (see convlab_torch.py). The run's data set must be one that
convlab_torch.py reads (idx: Fashion-MNIST or other IDX files; not `synthetic`).

Examples (from the repository root, after `swift build -c release`):

    python3 scripts/reference/check_export.py convlab.sqlite 3
    python3 scripts/reference/check_export.py convlab.sqlite 3f2a --epoch 2 --keep /tmp/run3.safetensors
"""

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def default_runner():
    for build in ("release", "debug"):
        path = os.path.join(ROOT, ".build", build, "runner")
        if os.access(path, os.X_OK):
            return path
    return shutil.which("runner") or "runner"


def fail(message):
    print(f"check_export: {message}", file=sys.stderr)
    sys.exit(2)


def export_metadata(path):
    try:
        from safetensors import safe_open
    except ImportError:
        fail("needs safetensors: pip install safetensors")
    with safe_open(path, framework="numpy") as handle:
        return handle.metadata() or {}


def stored_accuracy(store, run_uuid, epoch):
    """The run's last test_accuracy row of that epoch, from the store opened read-only."""
    uri = "file:" + os.path.abspath(store) + "?mode=ro"
    with sqlite3.connect(uri, uri=True) as db:
        row = db.execute("SELECT m.value FROM metrics m JOIN runs r ON r.id = m.run_id "
                         "WHERE r.uuid = ? AND m.name = 'test_accuracy' AND m.epoch = ? ORDER BY m.step DESC LIMIT 1",
                         (run_uuid, float(epoch))).fetchone()
    return None if row is None else float(row[0])


def main():
    parser = argparse.ArgumentParser(description="Export a run's weights and check its test accuracy in PyTorch.")
    parser.add_argument("store", help="the ConvLab store (SQLite file)")
    parser.add_argument("run", help="the run: its id or at least 4 hex digits of its UUID")
    parser.add_argument("--epoch", type=int, help="the checkpoint's epoch (default: the latest)")
    parser.add_argument("--runner", default=default_runner(), help="the runner executable (default: .build/release/runner, else .build/debug/runner)")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest accepted |difference| of the accuracies (default 1e-4)")
    parser.add_argument("--keep", metavar="FILE", help="export to FILE and keep it (default: a temporary file)")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="convlab-check-export-")
    try:
        weights = args.keep or os.path.join(folder, "export.safetensors")
        command = [args.runner, "export", args.run, "--store", args.store, "-o", weights]
        if args.epoch is not None:
            command += ["--epoch", str(args.epoch)]
        try:
            exported = subprocess.run(command, capture_output=True, text=True)
        except OSError as error:
            fail(f"cannot run {args.runner}: {error.strerror} (build it: swift build -c release, or pass --runner)")
        if exported.returncode != 0:
            fail(f"runner export failed (exit {exported.returncode}): {exported.stderr.strip()}")
        print(exported.stdout.strip().splitlines()[0])

        metadata = export_metadata(weights)
        epoch, run_uuid = metadata.get("epoch"), metadata.get("run_uuid")
        if epoch is None or run_uuid is None:
            fail(f"{weights}: the export's metadata lacks epoch or run_uuid; is the runner older than `runner export`?")
        expected = stored_accuracy(args.store, run_uuid, int(epoch))
        if expected is None:
            fail(f"{args.store}: run {args.run} has no test_accuracy for epoch {epoch} (was evaluation.test off?)")
        if "test_accuracy" in metadata and float(metadata["test_accuracy"]) != expected:
            print(f"note: the export's metadata says test_accuracy {metadata['test_accuracy']}, the store {expected!r}")

        # The spec goes beside the weights with its `checkpoint` section left out: convlab_torch.py
        # predates that section (how often the state is saved), which changes neither the network
        # nor its evaluation.
        spec = json.loads(metadata.get("spec", "{}"))
        spec.pop("checkpoint", None)
        spec_file = os.path.join(folder, "spec.json")
        with open(spec_file, "w") as handle:
            json.dump(spec, handle)
        evaluated = subprocess.run([sys.executable, os.path.join(HERE, "convlab_torch.py"), spec_file, "--evaluate", weights, "--json"],
                                   capture_output=True, text=True)
        if evaluated.returncode != 0:
            fail(f"convlab_torch.py --evaluate failed (exit {evaluated.returncode}): {evaluated.stderr.strip()}")
        events = [json.loads(line) for line in evaluated.stdout.splitlines() if line.startswith("{")]
        result = next((event for event in events if event.get("event") == "evaluate"), None)
        if result is None:
            fail("convlab_torch.py --evaluate printed no result")
        actual = float(result["test_accuracy"])

        difference = abs(actual - expected)
        verdict = "PASS" if difference <= args.tolerance else "FAIL"
        print(f"run {args.run} ({run_uuid[:8]}) epoch {epoch}, {result['images']} test images")
        print(f"  store (ConvLab) test_accuracy {expected:.6f}")
        print(f"  PyTorch         test_accuracy {actual:.6f}")
        print(f"  |difference| {difference:.2e} (tolerance {args.tolerance:g}): {verdict}")
        return 0 if verdict == "PASS" else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
