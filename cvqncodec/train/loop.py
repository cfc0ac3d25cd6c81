"""The training run (Sec. 4.1): set-up, one optimizer step at a time, periodic validation, checkpoints and
exports, and a clean stop on SIGTERM/SIGINT (checkpoint saved, continue with ``--resume``)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..metrics import ms_ssim_window
from ..model import CVQN
from ..precision import bf16_is_fast, use_channels_last, use_contiguous_format
from ..presets import Preset
from .checkpoint import CHECKPOINT, HISTORY, append_history, read_checkpoint, resume_model, save_checkpoint
from .config import TrainConfig
from .data import CropSampler, load_data
from .distributed import describe, finish_process, init_process, is_main, wrap
from .export import export
from .loss import (
    context_loss_terms,
    freeze_for_finetune,
    loss_terms,
    lr_factor,
    optimizer_step,
    parameter_groups,
    set_learning_rates,
)
from .validation import update_re_importance, validate
from .warm_start import warm_start_from

Log = Callable[[str], Any]


@dataclass
class Run:
    """What the steps of a run share."""

    cfg: TrainConfig
    model: CVQN
    #: The module the loss runs through: ``model`` or its DDP wrapper.
    net: torch.nn.Module
    opt: torch.optim.Optimizer
    #: The learning rates of the schedule's first phase, one per parameter group.
    base_lrs: list[float]
    sampler: CropSampler
    val_imgs: list[np.ndarray]
    device: torch.device
    out: Path
    #: When the run (this process) started loading its data: the "minutes" of the history.
    t0: float
    step: int
    history: list[dict]
    win: int
    bf16: bool
    #: Running mean of (loss, MS-SSIM, bpp, L_ent) over the steps.
    ema: np.ndarray | None = None
    last_checkpoint: float = field(default_factory=time.time)
    bar: Any = None


def train(preset: Preset, cfg: TrainConfig, resume: bool = False, progress: bool = True, log: Log = print) -> CVQN:
    """Train a model of ``preset`` with Eq. 8 and the schedule of Sec. 4.1 into the run folder ``cfg.out``
    (``resume``: from its checkpoint, if it has one). Returns the trained model."""
    device, rank, ddp = init_process()
    device = choose_device(cfg.device, device, ddp)
    torch.manual_seed(cfg.seed + rank)
    run = start_run(preset, cfg, device, rank, ddp, resume, log)
    if progress and is_main():
        run.bar = progress_bar(cfg.steps, run.step)
    with StopSignals() as stop:
        while run.step < cfg.steps and stop.signal is None:
            train_step(run)
            after_step(run, log)
    if stop.signal is not None and is_main():
        save_and_export(run)
        log(f"stopped by signal {stop.signal} at step {run.step}; checkpoint saved, continue with --resume")
    if run.bar is not None:
        run.bar.close()
    finish_process(ddp)
    use_contiguous_format(run.model)
    return run.model


def choose_device(requested: str, found: torch.device, ddp: bool) -> torch.device:
    """The device of ``--device`` ("auto": the one :func:`init_process` found); ValueError when it cannot be."""
    if requested in ("auto", found.type):
        return found
    if ddp:
        raise ValueError(f"--device {requested}: under torchrun every process uses {found.type}")
    if requested == "cuda":
        raise ValueError("--device cuda: no CUDA device is available")
    return torch.device(requested)


def start_run(
    preset: Preset, cfg: TrainConfig, device: torch.device, rank: int, ddp: bool, resume: bool, log: Log
) -> Run:
    """Data, model (resumed or warm-started), crop sampler and optimizer of a run."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    train_imgs, val_imgs, t0 = load_data(cfg, out, log)
    state = read_checkpoint(out / CHECKPOINT, device) if resume and (out / CHECKPOINT).exists() else None
    model, step, history = build_model(preset, cfg, device, state, log)
    # Seeded by rank and step, so a resumed run does not replay the crops it has already seen.
    sampler = CropSampler(train_imgs, cfg.crop, cfg.seed + 1000 * rank + 7919 * step)
    net = prepare_model(model, cfg, device, ddp)
    opt = torch.optim.Adam(parameter_groups(model, cfg))
    base_lrs = [g["lr"] for g in opt.param_groups]  # before a checkpoint's scheduled rates replace them
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        log(f"resumed at step {step}")
    win, bf16 = ms_ssim_window(cfg.crop) or 3, cfg.bf16 and bf16_is_fast(device)
    if is_main():
        log(
            f"training on {describe(device, ddp)}, {'bf16 autocast' if bf16 else 'float32'}, "
            f"MS-SSIM window {win}, batch {cfg.batch_size} per process"
        )
    return Run(cfg, model, net, opt, base_lrs, sampler, val_imgs, device, out, t0, step, history, win, bf16)


def build_model(
    preset: Preset, cfg: TrainConfig, device: torch.device, state: dict | None, log: Log
) -> tuple[CVQN, int, list[dict]]:
    """A new model, from the checkpoint ``state`` or warm-started from ``cfg.init``; with (step, history)."""
    model = CVQN(preset).to(device)
    if state is not None:
        step, history = resume_model(model, state)
        return model, step, history
    if cfg.init:
        warm_start_from(model, cfg.init, log)
    return model, 0, []


def prepare_model(model: CVQN, cfg: TrainConfig, device: torch.device, ddp: bool) -> torch.nn.Module:
    """Training mode, channels_last on CPUs, the parts a fine-tune keeps frozen; returns the module to run."""
    model.train()
    if device.type == "cpu":
        use_channels_last(model)
    if cfg.finetune == "context" and ddp:
        raise ValueError("--context-only runs in one process")
    freeze_for_finetune(model, cfg.finetune)
    return wrap(model, ddp)


def progress_bar(total: int, initial: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, dynamic_ncols=True, mininterval=2.0)


class StopSignals:
    """While active, SIGTERM and SIGINT only set :attr:`signal`: the loop finishes its step, checkpoints and
    exits, so a run can be stopped any time."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __enter__(self) -> StopSignals:
        self.signal: int | None = None
        self.previous = {sig: signal.signal(sig, self.request) for sig in self.SIGNALS}
        return self

    def request(self, signum: int, _frame: Any) -> None:
        self.signal = signum

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def train_step(run: Run) -> None:
    """One optimizer step of Eq. 8 (L_ent alone with ``finetune="context"``) at the schedule's learning rates."""
    cfg = run.cfg
    set_learning_rates(run.opt, run.base_lrs, lr_factor(run.step, cfg.steps))
    x = run.sampler.batch(cfg.batch_size).to(run.device)
    if run.device.type == "cpu":
        x = x.contiguous(memory_format=torch.channels_last)
    if cfg.finetune == "context":
        loss, msssim, bpp, ent = context_loss_terms(run.model, x)
    else:
        loss, msssim, bpp, ent = loss_terms(run.net, x, cfg, run.win, run.bf16)
    optimizer_step(run.model, run.opt, loss)
    run.step += 1
    vals = torch.stack([loss.detach(), msssim, bpp, ent]).float().cpu().numpy()
    run.ema = vals if run.ema is None else 0.98 * run.ema + 0.02 * vals


def after_step(run: Run, log: Log) -> None:
    """Progress bar; and when due: the RE importance (Eq. 6), validation, checkpoint and export."""
    cfg, step = run.cfg, run.step
    if run.bar is not None:
        run.bar.update(1)
        run.bar.set_postfix(loss=f"{run.ema[0]:.3f}", bpp=f"{run.ema[2]:.3f}", msssim=f"{run.ema[1]:.4f}")
    if not is_main():
        return
    if run.model.preset.importance == "re" and step % cfg.re_every == 0 and cfg.finetune == "all":
        update_re_importance(run.model, run.val_imgs[:4], run.device)
    if step % cfg.val_every == 0 or step == cfg.steps:
        validate_and_record(run, log)
    if time.time() - run.last_checkpoint > cfg.checkpoint_minutes * 60 or step == cfg.steps:
        save_and_export(run)


def validate_and_record(run: Run, log: Log) -> None:
    """Validate on the held-out images; log, and append to the history (checkpoint and history.jsonl)."""
    v = validate(run.model, run.val_imgs, run.device)
    v.update(step=run.step, minutes=(time.time() - run.t0) / 60, train_loss=float(run.ema[0]))
    run.history.append(v)
    cb, cr = v["chroma_spread"]
    log(
        f"step {run.step}: val MS-SSIM {v['ms_ssim']:.4f} PSNR {v['psnr']:.2f} est. bpp {v['bpp']:.3f} "
        f"chroma Cb/Cr {cb:.3f}/{cr:.3f}"
    )
    append_history(run.out / HISTORY, v)


def save_and_export(run: Run) -> None:
    """RUN_DIR/checkpoint.pt and RUN_DIR/model.safetensors."""
    save_checkpoint(run.out / CHECKPOINT, run.model, run.opt, run.step, run.cfg, run.history)
    export(run.model, run.out / "model.safetensors", run.cfg, run.step, run.history)
    run.last_checkpoint = time.time()
