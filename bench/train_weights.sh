#!/usr/bin/env bash
# The commands that produced the shipped weights (see each weights/*.md model card for what was measured).
# Run from the project root with the training folder at ../shared/data/train. Each command resumes where it
# stopped (add --resume after an interruption); RUN_DIR/model.safetensors is the shippable file.
set -euo pipefail
DATA=${DATA:-../shared/data/train}

# The quantization-aware fine-tune of a model's integer context models (encoder, quantizer and decoder frozen),
# then ship it: context_finetune_and_ship NAME INIT_WEIGHTS RUN_DIR
context_finetune_and_ship() {
    cvq train --data "$DATA" --out "$3" --init "$2" --context-only \
        --steps 400 --crop 256 --lr-scale 2 --name "cvqn-$1" --val-every 200 --quiet
    cp "$3/model.safetensors" "weights/cvqn-$1.safetensors"
}

# cvqn-q3 (default): compact preset, C = 32, from scratch, 5000 steps. What actually ran (one run folder,
# resumed four times): steps 0-1986 without the MSE term (schedule of an 8000-, then a 5000-step run);
# decoded colours had drifted to sepia, so 1986-2714 ran with --mse-weight 256 and 2714-5000 with 2048
# (the learning rate dropped x0.2 at step 2500 and again at 3750); it was stopped at step 4408 of the 5000
# (validation had been flat since 3750). One command with the final settings (not the same history):
cvq train --data "$DATA" --out runs/q3 --preset compact --channels 32 --crop 128 --steps 5000 --lr-scale 4 \
    --mse-weight 2048 --name cvqn-q3 --val-every 250 --quiet
cp runs/q3/model.safetensors weights/cvqn-q3.safetensors

# The other rates: warm-started from cvqn-q3 (matching tensors copied, the encoder's tail and the decoder's
# head mapped group by group), then fine-tuned at their own C (all four at once, one thread each).
for spec in q1:16 q2:24 q4:48 q5:80; do
    name=${spec%%:*}; channels=${spec##*:}
    cvq train --data "$DATA" --out "runs/$name" --preset compact --channels "$channels" --crop 128 \
        --steps "${FINETUNE_STEPS:-500}" --lr-scale 2 --mse-weight 2048 --init weights/cvqn-q3.safetensors \
        --name "cvqn-$name" --val-every 250 --quiet
    cp "runs/$name/model.safetensors" "weights/cvqn-$name.safetensors"
done

# ---- Session 2 (cvqncodec 0.2, weights format 2 with integer context-model tables) ----
# cvqn-q3 continued its full training from the format-1 file (4500 steps, learning-rate schedule restarted):
cvq train --data "$DATA" --out runs/q3s2 --preset compact --channels 32 --crop 128 --steps 4500 --lr-scale 2 \
    --mse-weight 2048 --init weights/cvqn-q3.safetensors --name cvqn-q3 --val-every 500 --quiet
# Every model then got integer tables through a quantization-aware fine-tune of its context models only
# (400 steps; encoder, quantizer and decoder frozen):
for src in q1:weights/cvqn-q1.safetensors q2:weights/cvqn-q2.safetensors q3:runs/q3s2/model.safetensors \
           q4:weights/cvqn-q4.safetensors q5:weights/cvqn-q5.safetensors; do
    context_finetune_and_ship "${src%%:*}" "${src#*:}" "runs/${src%%:*}qat"
done
# cvqn-q4 and cvqn-q5 first continued their own training (1200 steps, runs/q4s2, runs/q5s2), which left them
# below the new cvqn-q3 on validation (MS-SSIM 0.886 / 0.889 against 0.899). What ships instead: warm
# starts from the session-2 cvqn-q3 (the trainer simulates the integer context model throughout):
for spec in q4:48 q5:80; do
    name=${spec%%:*}; channels=${spec##*:}
    cvq train --data "$DATA" --out "runs/${name}s3" --preset compact --channels "$channels" --crop 128 \
        --steps 700 --lr-scale 2 --mse-weight 2048 --init weights/cvqn-q3.safetensors --name "cvqn-$name" \
        --val-every 350 --quiet
    cp "runs/${name}s3/model.safetensors" "weights/cvqn-$name.safetensors"
done

# ---- Session 3 (a Xeon with AMX: bf16 autocast, one thread per run, 3.2–3.9 steps/s for compact at 128²) ----
# Two 700-step probes from the session-2 cvqn-q3: cvqn-q2 warm-started from it (validation MS-SSIM 0.8728 ->
# 0.8949 at 0.163 bpp) and cvqn-q3 itself with a lighter MSE term (--mse-weight 512: 0.8991 -> 0.9010,
# PSNR 23.65 -> 23.46 dB); the long runs below start from that probe.
cvq train --data "$DATA" --out runs/q3m512 --preset compact --channels 32 --crop 128 --steps 700 --lr-scale 2 \
    --mse-weight 512 --init weights/cvqn-q3.safetensors --name cvqn-q3 --val-every 350 --quiet
# cvqn-q3 and cvqn-q5 (both at once, one thread each), 12 000 steps:
for spec in q3:32 q5:80; do
    name=${spec%%:*}; channels=${spec##*:}
    cvq train --data "$DATA" --out "runs/${name}s3" --preset compact --channels "$channels" --crop 128 \
        --steps 12000 --lr-scale 2 --mse-weight 512 --init runs/q3m512/model.safetensors --name "cvqn-$name" \
        --val-every 2000 --checkpoint-minutes 5 --quiet
done
# cvqn-q4, cvqn-q2, cvqn-q1: warm-started from that 12 000-step cvqn-q3 (one thread each, beside the q5 run):
for spec in q4:48:4000 q2:24:3000 q1:16:3000; do
    IFS=: read -r name channels steps <<< "$spec"
    cvq train --data "$DATA" --out "runs/${name}s4" --preset compact --channels "$channels" --crop 128 \
        --steps "$steps" --lr-scale 2 --mse-weight 512 --init runs/q3s3/model.safetensors --name "cvqn-$name" \
        --val-every 1000 --checkpoint-minutes 5 --quiet
done
# Then the quantization-aware fine-tune of the context models of each (400 steps, as in session 2), and ship:
for src in q1:runs/q1s4 q2:runs/q2s4 q3:runs/q3s3 q4:runs/q4s4 q5:runs/q5s3; do
    context_finetune_and_ship "${src%%:*}" "${src#*:}/model.safetensors" "runs/${src%%:*}qat3"
done
# Not shipped: one more cycle for cvqn-q4 (5000 steps) and cvqn-q5 (3200 steps) from the shipped files at
# --lr-scale 1 (--mse-weight 512) moved validation MS-SSIM only 0.9251 -> 0.9283 and 0.9279 -> 0.9300.

# ---- Session 4 (the same kind of Xeon with AMX; one thread per run, two runs at once) ----
# Preset choice at high rates (bench/RESULTS.md, "compact vs small"): the `small` preset from scratch, 11 000 steps
# (learning-rate drops at 5500 and 8250). The C = 48 run was paused for 19 min while the compact comparison ran.
for spec in q5:80 q4:48; do
    name=${spec%%:*}; channels=${spec##*:}
    cvq train --data "$DATA" --out "runs/${name}small" --preset small --channels "$channels" --crop 128 \
        --steps 11000 --lr-scale 2 --mse-weight 512 --name "cvqn-$name" --val-every 2000 --checkpoint-minutes 5 --quiet
done
# The compact comparison row, from scratch, stopped after its step-4000 validation:
cvq train --data "$DATA" --out runs/cmp_compact80 --preset compact --channels 80 --crop 128 --steps 11000 \
    --lr-scale 2 --mse-weight 512 --name cmp --val-every 1000 --quiet
# cvqn-q4 ships the small C = 48 run after the context-model fine-tune (validation MS-SSIM 0.9279 at 0.341 bpp,
# against 0.9251 at 0.335 for the session-3 compact cvqn-q4). The small C = 80 run (0.9282 at 0.565 bpp) only
# matched the shipped compact cvqn-q5 (0.9279 at 0.555), so cvqn-q5 stays; a later session can warm-start a
# small cvqn-q5 from the small cvqn-q4 (--init maps the channels group by group).
context_finetune_and_ship q4 runs/q4small/model.safetensors runs/q4qat4
# Not shipped: compact cvqn-q5 continued from the shipped file at 256² crops, batch 2 (same pixels per step as
# 128² x 8), --lr-scale 1, 3200 steps, to compare with the session-3 128² cycle (runs/q5s5):
cvq train --data "$DATA" --out runs/q5c256 --preset compact --channels 80 --crop 256 --batch-size 2 --steps 3200 \
    --lr-scale 1 --mse-weight 512 --init weights/cvqn-q5.safetensors --name cvqn-q5 --val-every 800 --quiet

# ---- Session 5 (the same kind of Xeon with AMX; one thread per run, two runs at once) ----
# One more full schedule for each high rate, warm-started from the best `small` model so far at that C:
# cvqn-q4 from the shipped file, cvqn-q5 from the session-4 small C = 80 run (runs/q5small, made by the
# session-4 loop above). Learning-rate drops at 50 % and 75 % of each run.
cvq train --data "$DATA" --out runs/q4s6 --preset small --channels 48 --crop 128 --steps 12000 --lr-scale 2 \
    --mse-weight 512 --init weights/cvqn-q4.safetensors --name cvqn-q4 --val-every 2000 --checkpoint-minutes 5 --quiet
cvq train --data "$DATA" --out runs/q5s6 --preset small --channels 80 --crop 128 --steps 11000 --lr-scale 2 \
    --mse-weight 512 --init runs/q5small/model.safetensors --name cvqn-q5 --val-every 2000 --checkpoint-minutes 5 --quiet
# Validation MS-SSIM at the last step: cvqn-q4 0.9279 -> 0.9421 (0.339 bpp), the C = 80 run 0.9282 -> 0.9466
# (0.559 bpp; the compact cvqn-q5 it replaces: 0.9279 at 0.555). Both then fine-tuned and shipped:
context_finetune_and_ship q4 runs/q4s6/model.safetensors runs/q4qat6
context_finetune_and_ship q5 runs/q5s6/model.safetensors runs/q5qat6
# Then a short continuation of each at the paper's learning rates, shipped without another context fine-tune
# (validation 0.9421 -> 0.9444 at 0.339 bpp and 0.9466 -> 0.9481 at 0.557 bpp):
cvq train --data "$DATA" --out runs/q4s7 --preset small --channels 48 --crop 128 --steps 3000 --lr-scale 1 \
    --mse-weight 512 --init runs/q4qat6/model.safetensors --name cvqn-q4 --val-every 1000 --checkpoint-minutes 5 --quiet
cvq train --data "$DATA" --out runs/q5s7 --preset small --channels 80 --crop 128 --steps 2500 --lr-scale 1 \
    --mse-weight 512 --init runs/q5qat6/model.safetensors --name cvqn-q5 --val-every 1250 --checkpoint-minutes 5 --quiet
cp runs/q4s7/model.safetensors weights/cvqn-q4.safetensors
cp runs/q5s7/model.safetensors weights/cvqn-q5.safetensors

# ---- Session 6 (the same kind of Xeon with AMX; one thread per run, two runs at once) ----
# One more full schedule for each high rate, warm-started from the shipped file, then the context-model fine-tune:
cvq train --data "$DATA" --out runs/q4s8 --preset small --channels 48 --crop 128 --steps 12500 --lr-scale 2 \
    --mse-weight 512 --init weights/cvqn-q4.safetensors --name cvqn-q4 --val-every 2000 --checkpoint-minutes 5 --quiet
cvq train --data "$DATA" --out runs/q5s8 --preset small --channels 80 --crop 128 --steps 11500 --lr-scale 2 \
    --mse-weight 512 --init weights/cvqn-q5.safetensors --name cvqn-q5 --val-every 2000 --checkpoint-minutes 5 --quiet
# Validation MS-SSIM at the last step: cvqn-q4 0.9444 -> 0.9499 (0.340 bpp), cvqn-q5 0.9481 -> 0.9534 (0.557 bpp).
context_finetune_and_ship q4 runs/q4s8/model.safetensors runs/q4qat8
context_finetune_and_ship q5 runs/q5s8/model.safetensors runs/q5qat8

# ---- Session 7 (the same kind of Xeon with AMX; one thread per run, two runs at once) ----
# cvqn-q5 only (the one rate below WebP): one more full schedule warm-started from the shipped file, with the MSE
# weight lowered from 512, at two values (they ran side by side, OMP_NUM_THREADS=1 each):
for mse in 128 32; do
  cvq train --data "$DATA" --out runs/q5s9m$mse --preset small --channels 80 --crop 128 --steps 10000 --lr-scale 2 \
      --mse-weight $mse --init weights/cvqn-q5.safetensors --name cvqn-q5 --val-every 2000 --checkpoint-minutes 5 --quiet
done
# Validation MS-SSIM at the last step: 0.9534 -> 0.9571 (MSE 128, PSNR 25.91 dB) and 0.9570 (MSE 32, 25.80 dB), both
# at 0.554 bpp. The MSE-128 run ships (level on MS-SSIM, higher PSNR):
context_finetune_and_ship q5 runs/q5s9m128/model.safetensors runs/q5qat9m128

# ---- Session 8 (the same kind of Xeon with AMX; one thread per run, two runs at once) ----
# cvqn-q5 only: one more schedule warm-started from the shipped file on 256² crops (MS-SSIM window 11) instead of
# 128², at batch 4 (4500 steps) and at batch 2 (9000 steps), side by side:
for b in 4 2; do
  cvq train --data "$DATA" --out runs/q5s10b$b --preset small --channels 80 --crop 256 --batch-size $b \
      --steps $((18000 / b)) --lr-scale 2 --mse-weight 128 --init weights/cvqn-q5.safetensors --name cvqn-q5 \
      --val-every 1500 --checkpoint-minutes 5 --quiet
done
# Validation MS-SSIM at the last step: 0.9571 -> 0.9588 [0.540 bpp] (batch 4) and 0.9585 [0.537 bpp] (batch 2).
# The batch-4 run ships:
context_finetune_and_ship q5 runs/q5s10b4/model.safetensors runs/q5qat10b4

# ---- Sessions 8–9 (the same kind of Xeon with AMX; one thread per run, two runs at once) ----
# cvqn-q4 and cvqn-q5: the session-8 256² schedule (batch 4, 4500 steps, MSE weight 128) warm-started from the
# shipped files (q4 from session 6's, q5 from session 8's). Started at the end of session 8 and resumed in session 9
# (the same command plus --resume):
cvq train --data "$DATA" --out runs/q4s11b4 --preset small --channels 48 --crop 256 --batch-size 4 --steps 4500 \
    --lr-scale 2 --mse-weight 128 --init weights/cvqn-q4.safetensors --name cvqn-q4 --val-every 1500 --checkpoint-minutes 5 --quiet
cvq train --data "$DATA" --out runs/q5s11b4 --preset small --channels 80 --crop 256 --batch-size 4 --steps 4500 \
    --lr-scale 2 --mse-weight 128 --init weights/cvqn-q5.safetensors --name cvqn-q5 --val-every 1500 --checkpoint-minutes 5 --quiet
# Validation MS-SSIM at the last step: cvqn-q4 0.9499 [0.339 bpp] -> 0.9517 [0.334]; cvqn-q5 0.9588 [0.540] -> 0.9592
# [0.533]. Both ship:
context_finetune_and_ship q4 runs/q4s11b4/model.safetensors runs/q4qat11b4
context_finetune_and_ship q5 runs/q5s11b4/model.safetensors runs/q5qat11b4

# ---- Sessions 9–10 (the same kind of Xeon with AMX; 2 threads, from step 1779 beside other runs) ----
# cvqn-q3 (the default) becomes `small` at C = 32, warm-started from session 9's cvqn-q4 (the latent channels mapped
# group by group) with the same 256² schedule. Started in session 9 and resumed in session 10 (plus --resume):
cvq train --data "$DATA" --out runs/q3small12 --preset small --channels 32 --crop 256 --batch-size 4 --steps 4500 \
    --lr-scale 2 --mse-weight 128 --init weights/cvqn-q4.safetensors --name cvqn-q3 --val-every 1500 --checkpoint-minutes 5 --quiet
# Validation MS-SSIM at the last step: 0.9470 [0.233 bpp], against the compact cvqn-q3's 0.9186 [0.223]. Ships:
context_finetune_and_ship q3 runs/q3small12/model.safetensors runs/q3qat12

# ---- Session 10 (the same kind of Xeon with AMX; 2 threads, alone, after the first 539 steps) ----
# cvqn-q2 becomes `small` at C = 24, warm-started from session 10's cvqn-q3 with its 256² schedule shortened to 3000
# steps (steps 0-539 ran on 1 thread as part of a 4500-step run, at the same learning rate: the first drop comes later):
cvq train --data "$DATA" --out runs/q2small13 --preset small --channels 24 --crop 256 --batch-size 4 --steps 3000 \
    --lr-scale 2 --mse-weight 128 --init weights/cvqn-q3.safetensors --name cvqn-q2 --val-every 1000 --checkpoint-minutes 5 --quiet
# Validation MS-SSIM at the last step: 0.9342 [0.174 bpp], against the compact cvqn-q2's 0.9161 [0.168]. Ships:
context_finetune_and_ship q2 runs/q2small13/model.safetensors runs/q2qat13

# ---- Sessions 10–11 (the same kind of Xeon with AMX; 2 threads, alone, after the first 280 steps) ----
# cvqn-q5 becomes `medium` (the paper's stage widths 32/64/128/192, B = 2), warm-started from the shipped `small`
# cvqn-q5 so that it starts out computing it (new channels' weights into old outputs zeroed), the 256² schedule.
# Started in session 10 and resumed in session 11 (plus --resume):
cvq train --data "$DATA" --out runs/q5med13 --preset medium --channels 80 --crop 256 --batch-size 4 --steps 4500 \
    --lr-scale 2 --mse-weight 128 --init weights/cvqn-q5.safetensors --name cvqn-q5 --val-every 1500 --checkpoint-minutes 5 --quiet
# Validation MS-SSIM at the last step: 0.9612 [0.517 bpp], against the small cvqn-q5's 0.9592 [0.532]; then the
# context-model fine-tune (0.9612 [0.517]; Kodak 0.9658 at 0.5147 bpp, 0.0001 below WebP: not shipped alone):
cvq train --data "$DATA" --out runs/q5medqat --init runs/q5med13/model.safetensors --context-only \
    --steps 400 --crop 256 --lr-scale 2 --name cvqn-q5 --val-every 200 --quiet
# Session 11: one more schedule from it at the paper's learning rates (4000 steps, drops at 2000 and 3000):
cvq train --data "$DATA" --out runs/q5med14 --preset medium --channels 80 --crop 256 --batch-size 4 --steps 4000 \
    --lr-scale 1 --mse-weight 128 --init runs/q5medqat/model.safetensors --name cvqn-q5 --val-every 1000 --checkpoint-minutes 5 --quiet
# Validation MS-SSIM at the last step: 0.9626 [0.523 bpp]; Kodak 0.9675 at 0.5230 bpp, 0.0013 above WebP. Ships
# (without a further context-model fine-tune: the one above moved validation by less than 0.001 bpp):
cp runs/q5med14/model.safetensors weights/cvqn-q5.safetensors

# ---- Session 15 (the Xeon with AMX; 1 thread, beside the #24 ablation runs) ----
# cvqn-q3's encoder alone (decoder, quantizer and context models frozen bit for bit: same weights id, every file of
# the previous cvqn-q3 decodes), chosen on validation against MSE weight 128 at lr x1 (bench/RESULTS.md, session 15):
cp weights/cvqn-q3.safetensors runs/cvqn-q3-shipped.safetensors
cvq train --data "$DATA" --out runs/q3enc1024lr --init runs/cvqn-q3-shipped.safetensors --encoder-only --crop 256 \
    --batch-size 4 --steps 2500 --lr-scale 0.25 --mse-weight 1024 --val-every 250 --name cvqn-q3 --quiet
# Validation at the last step: 0.9700 / 29.04 dB / 0.204 bpp, against 0.9689 / 29.08 dB / 0.205 for the previous
# encoder on the same 8 images. Ships:
cp runs/q3enc1024lr/model.safetensors weights/cvqn-q3.safetensors
# cvqn-q1's encoder alone, the same recipe (validation 0.9342 / 26.29 dB / 0.094 bpp -> 0.9384 / 26.50 dB / 0.095):
cp weights/cvqn-q1.safetensors runs/cvqn-q1-shipped.safetensors
cvq train --data "$DATA" --out runs/q1enc --init runs/cvqn-q1-shipped.safetensors --encoder-only --crop 256 \
    --batch-size 4 --steps 2500 --lr-scale 0.25 --mse-weight 1024 --val-every 250 --name cvqn-q1 --quiet
cp runs/q1enc/model.safetensors weights/cvqn-q1.safetensors
# cvqn-q2's encoder alone, 2000 steps (validation 0.9604 / 28.20 dB / 0.152 bpp -> 0.9624 / 28.30 dB / 0.152):
cp weights/cvqn-q2.safetensors runs/cvqn-q2-shipped.safetensors
cvq train --data "$DATA" --out runs/q2enc --init runs/cvqn-q2-shipped.safetensors --encoder-only --crop 256 \
    --batch-size 4 --steps 2000 --lr-scale 0.25 --mse-weight 1024 --val-every 250 --name cvqn-q2 --quiet
cp runs/q2enc/model.safetensors weights/cvqn-q2.safetensors
