#!/usr/bin/env bash
# The main job: set up, then train a course-faithful REINFORCE agent on CartPole-v1, evaluate it with
# the course protocol, plot its learning curve and record a replay video. Everything lands in runs/cartpole.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/reinforcelab train CartPole-v1 --preset course-cartpole --seed 0 --out runs/cartpole --overwrite --record
.venv/bin/reinforcelab evaluate runs/cartpole --episodes 10 --seed 0
echo "learning curve: runs/cartpole/curve.png   replay: runs/cartpole/replay.mp4   results: runs/cartpole/results.json"
