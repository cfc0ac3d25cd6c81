#!/usr/bin/env bash
# The commands that produced the shipped weights (see each weights/*.md model card for what was measured).
# Run from the project root with the training folder at ../shared/data/train. Each command resumes where it
# stopped (add --resume after an interruption); RUN_DIR/model.safetensors is the shippable file.
set -euo pipefail
DATA=${DATA:-../shared/data/train}

# cvqn-q3 (default): compact preset, C = 32, from scratch. The first 1986 steps ran without the MSE term
# (decoded colours drifted to sepia); the run then resumed with --mse-weight 256 (see README, Training).
cvq train --data "$DATA" --out runs/q3 --preset compact --channels 32 --crop 128 --steps 5000 --lr-scale 4 \
    --mse-weight 256 --name cvqn-q3 --val-every 250 --resume -q
cp runs/q3/model.safetensors weights/cvqn-q3.safetensors

# The other rates: warm-started from cvqn-q3 (matching tensors copied, the encoder's tail and the decoder's
# head copied where they overlap), then fine-tuned at their own C.
for spec in q1:16 q2:24 q4:48 q5:80; do
    name=${spec%%:*}; channels=${spec##*:}
    cvq train --data "$DATA" --out "runs/$name" --preset compact --channels "$channels" --crop 128 \
        --steps "${FINETUNE_STEPS:-800}" --lr-scale 2 --mse-weight 256 --init weights/cvqn-q3.safetensors \
        --name "cvqn-$name" --val-every 400 -q
    cp "runs/$name/model.safetensors" "weights/cvqn-$name.safetensors"
done
