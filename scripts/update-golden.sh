#!/usr/bin/env bash
# Regenerates the golden traces and decisions in Tests/Golden after an intended change to the
# simulator or the engine. Review the diff of the decisions before committing: every changed
# line is a changed verdict or figure.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build
for s in demo e2e; do
  .build/debug/lane-sim trace --scenario HardwareSim/scenarios/$s.yaml --out Tests/Golden/$s.trace.jsonl
  .build/debug/lane-agent replay Tests/Golden/$s.trace.jsonl > Tests/Golden/$s.decisions.jsonl
done
for s in parked queued; do
  .build/debug/lane-sim trace --scenario Tests/Golden/$s.yaml --out Tests/Golden/$s.trace.jsonl
  .build/debug/lane-agent replay Tests/Golden/$s.trace.jsonl > Tests/Golden/$s.decisions.jsonl
done
echo "golden files regenerated; review: git diff Tests/Golden/*.decisions.jsonl"
