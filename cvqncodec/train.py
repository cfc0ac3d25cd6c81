"""Training with the paper's loss (Eq. 8) and schedule (Sec. 4.1); single process, or DDP via torchrun.

L = alpha * (1 - MS-SSIM) + (1/G) sum_g L_ent,g + beta * (1/G) sum_g L_GMM,g, with L_ent in bits per
symbol, alpha = 128, beta = 0.001. Adam with per-part learning rates (encoder 1e-4, quantizer 1e-4,
entropy model 5e-5, decoder 1e-4), each multiplied by 0.2 at 50 % and 75 % of the run.
"""
from __future__ import annotations

import json
import os
import random
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from PIL import Image
from pytorch_msssim import ms_ssim

from .model import CVQN
from .presets import DOWNSAMPLING, Preset

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".ppm", ".tif", ".tiff"}


@dataclass
class TrainConfig:
    data: str
    out: str
    steps: int = 20000
    batch_size: int = 8
    crop: int = 192
    alpha: float = 128.0
    beta: float = 0.001
    #: Weight of an extra MSE term in the distortion (0 = the paper's Eq. 8). Pure MS-SSIM barely constrains
    #: each channel's mean, and short CPU runs then decode with shifted colours (sepia): see README.
    mse_weight: float = 0.0
    lr_encoder: float = 1e-4
    lr_quantizer: float = 1e-4
    lr_entropy: float = 5e-5
    lr_decoder: float = 1e-4
    lr_scale: float = 1.0
    #: Images of the data folder held out for validation (chosen by a fixed shuffle).
    val_images: int = 8
    val_every: int = 500
    checkpoint_minutes: float = 3.0
    max_side: int = 768
    bf16: bool = True
    seed: int = 0
    init: str | None = None
    re_every: int = 1000
    #: Model name written into the exported RUN_DIR/model.safetensors.
    name: str | None = None
    #: Train only the context models (L_ent of Eq. 8) with everything else frozen: the quantization-aware
    #: fine-tune that fits a float-trained model to its integer tables (see fixed_point.py).
    context_only: bool = False


def list_images(folder: str) -> list[Path]:
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no images in {folder}")
    return files


def load_training_image(path: Path, max_side: int) -> np.ndarray:
    """RGB uint8, downscaled (Lanczos) so the longer side is at most ``max_side``."""
    im = Image.open(path).convert("RGB")
    scale = max_side / max(im.size)
    if scale < 1:
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.LANCZOS)
    return np.asarray(im)


def split_files(files: list[Path], n_val: int, seed: int = 1234) -> tuple[list[Path], list[Path]]:
    order = list(files)
    random.Random(seed).shuffle(order)
    return order[n_val:], order[:n_val]


class CropSampler:
    """Random crops with horizontal/vertical flips from images held in memory."""

    def __init__(self, images: list[np.ndarray], crop: int, seed: int) -> None:
        self.images = [im for im in images if min(im.shape[:2]) >= crop]
        if not self.images:
            raise ValueError(f"no training image is at least {crop} px on both sides")
        self.crop = crop
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int) -> torch.Tensor:
        out = np.empty((n, self.crop, self.crop, 3), dtype=np.uint8)
        for i in range(n):
            im = self.images[self.rng.integers(len(self.images))]
            y = self.rng.integers(im.shape[0] - self.crop + 1)
            x = self.rng.integers(im.shape[1] - self.crop + 1)
            c = im[y:y + self.crop, x:x + self.crop]
            if self.rng.random() < 0.5:
                c = c[:, ::-1]
            if self.rng.random() < 0.5:
                c = c[::-1]
            out[i] = c
        return torch.from_numpy(out).permute(0, 3, 1, 2).float().div(255.0)


def ms_ssim_window(side: int) -> int:
    """Largest odd window (<= 11) for which 5-scale MS-SSIM fits crops of ``side`` px."""
    win = 11
    while (win - 1) * 16 >= side and win > 3:
        win -= 2
    return win


def parameter_groups(model: CVQN, cfg: TrainConfig) -> list[dict]:
    s = cfg.lr_scale
    if cfg.context_only:
        return [{"params": list(model.context_models.parameters()), "lr": cfg.lr_entropy * s, "name": "entropy"}]
    return [
        {"params": list(model.encoder.parameters()) + ([] if model.controller.se is None else
                                                      list(model.controller.se.parameters())),
         "lr": cfg.lr_encoder * s, "name": "encoder"},
        {"params": list(model.controller.quantizers.parameters()), "lr": cfg.lr_quantizer * s, "name": "quantizer"},
        {"params": list(model.context_models.parameters()), "lr": cfg.lr_entropy * s, "name": "entropy"},
        {"params": list(model.decoder.parameters()), "lr": cfg.lr_decoder * s, "name": "decoder"},
    ]


def lr_factor(step: int, total: int) -> float:
    """x0.2 at 50 % and again at 75 % of the run (epochs 200 and 300 of 400 in Sec. 4.1)."""
    return 1.0 if step < total * 0.5 else (0.2 if step < total * 0.75 else 0.04)


def loss_terms(model: torch.nn.Module, x: torch.Tensor, cfg: TrainConfig, win: int, bf16: bool):
    with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16, enabled=bf16):
        out = model(x)
    x_hat = out.x_hat.float()
    msssim = ms_ssim(x_hat.clamp(0, 1), x, data_range=1.0, win_size=win)
    ent = torch.stack(out.group_bits).mean()
    loss = cfg.alpha * (1 - msssim) + ent + cfg.beta * out.gmm_nll
    if cfg.mse_weight:
        loss = loss + cfg.mse_weight * torch.mean((x_hat - x) ** 2)
    return loss, msssim.detach(), out.bpp.detach(), ent.detach()


def use_channels_last(model: CVQN) -> None:
    """channels_last on the 2D parts (encoder, decoder): faster convolutions on CPUs."""
    model.encoder.to(memory_format=torch.channels_last)
    model.decoder.to(memory_format=torch.channels_last)


def optimizer_step(model: torch.nn.Module, opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """Backward, gradient-norm clipping at 1, and one Adam step."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


def context_loss_terms(model: CVQN, x: torch.Tensor):
    """L_ent alone, with the encoder and quantizer frozen (``--context-only``)."""
    with torch.no_grad():
        _, groups_hat, groups_sym, _, _ = model.controller(model.encoder(x).float())
    bits = torch.stack([cm.cross_entropy_bits(g.detach(), s)
                        for cm, g, s in zip(model.context_models, groups_hat, groups_sym)])
    per_pixel = torch.tensor([g.shape[1] for g in groups_hat], dtype=torch.float32, device=x.device) / DOWNSAMPLING ** 2
    ent = bits.mean()
    return ent, torch.tensor(float("nan")), (bits.detach() * per_pixel).sum(), ent.detach()


@torch.no_grad()
def validate(model: CVQN, images: list[np.ndarray], device: torch.device) -> dict:
    """Mean MS-SSIM, PSNR and estimated bpp over held-out images (centre crops, multiples of 16)."""
    from .metrics import ms_ssim as ms_ssim_8bit, psnr
    model.eval()
    rows = []
    for im in images:
        h, w = (im.shape[0] // 16) * 16, (im.shape[1] // 16) * 16
        h, w = min(h, 512), min(w, 512)
        y0, x0 = (im.shape[0] - h) // 2, (im.shape[1] - w) // 2
        x = torch.from_numpy(np.array(im[y0:y0 + h, x0:x0 + w])).permute(2, 0, 1)[None].float() / 255
        x = x.to(device)
        out = model(x)
        rows.append((ms_ssim_8bit(x, out.x_hat.clamp(0, 1)) or float("nan"), psnr(x, out.x_hat), out.bpp.item()))
    model.train()
    a = np.array(rows)
    ms = a[:, 0][~np.isnan(a[:, 0])]
    return {"ms_ssim": float(ms.mean()) if ms.size else float("nan"), "psnr": float(a[:, 1].mean()),
            "bpp": float(a[:, 2].mean())}


@torch.no_grad()
def update_re_importance(model: CVQN, images: list[np.ndarray], device: torch.device, size: int = 256) -> None:
    """Reconstruction-error channel importance (Eq. 6): mean MS-SSIM loss when channel c is zeroed."""
    from .analysis import channel_influence
    crops = []
    for im in images:
        if min(im.shape[:2]) >= size:
            crops.append(torch.from_numpy(np.ascontiguousarray(im[:size, :size])).permute(2, 0, 1)[None].float() / 255)
    if not crops:
        return
    model.eval()
    w = torch.stack([channel_influence(model, c.to(device))["ms_ssim_loss"] for c in crops]).mean(0)
    model.controller.re_importance.copy_(w.to(model.controller.re_importance.device))
    model.train()


#: Tensors whose dimension ``dim`` runs over the latent channels C.
LATENT_CHANNEL_DIMS = {"encoder.tail.weight": 0, "encoder.tail.bias": 0, "decoder.head.weight": 1,
                       "controller.re_importance": 0}


def group_channel_map(old_groups: tuple[int, ...], new_groups: tuple[int, ...]) -> list[int]:
    """For each new latent channel, the old channel in the same group and rank (-1 if the old group is
    smaller), so that a warm start keeps each channel's number of levels (predefined importance)."""
    mapping = []
    old_start = 0
    for old_n, new_n in zip(old_groups, new_groups):
        mapping += [old_start + i if i < old_n else -1 for i in range(new_n)]
        old_start += old_n
    return mapping


def warm_start(own: dict[str, torch.Tensor], src: dict[str, torch.Tensor],
               channel_map: list[int] | None = None) -> tuple[int, int]:
    """Copy ``src`` tensors into ``own`` in place: whole where shapes match; for another latent width,
    the latent channels through ``channel_map`` (group by group), and otherwise the overlapping slice with
    the weights from new input channels to old outputs zeroed (a wider preset starts as the old network).
    Returns (tensors copied whole, tensors copied in part)."""
    copied = partial = 0
    for name, target in own.items():
        source = src.get(name)
        if source is None or source.dim() != target.dim():
            continue
        if source.shape == target.shape:
            target.copy_(source)
            copied += 1
            continue
        dim = LATENT_CHANNEL_DIMS.get(name)
        if channel_map is not None and dim is not None and len(channel_map) == target.shape[dim]:
            for new, old in enumerate(channel_map):
                if old >= 0:
                    row, src_row = target.select(dim, new), source.select(dim, old)
                    overlap = tuple(slice(0, min(a, b)) for a, b in zip(src_row.shape, row.shape))
                    row[overlap] = src_row[overlap].to(row.dtype)
                    if dim == 0 and row.dim() >= 1:  # an old output of a wider layer ignores the new inputs
                        row[src_row.shape[0]:] = 0
        else:
            overlap = tuple(slice(0, min(a, b)) for a, b in zip(source.shape, target.shape))
            target[overlap] = source[overlap].to(target.dtype)
            if target.dim() >= 2 and target.shape[1] > source.shape[1]:
                # A wider layer: the old outputs ignore the new inputs, so the widened network computes
                # the old one's function at the start (new channels only feed new channels).
                target[:source.shape[0], source.shape[1]:] = 0
        partial += 1
    return copied, partial


def level_map(old_levels: int, new_levels: int) -> torch.Tensor:
    """For each of ``new_levels`` quantization levels, the old level it starts from: the old levels sit in the
    middle and the extra ones repeat the outermost (or, with fewer levels, the outer old ones are dropped)."""
    offset = (new_levels - old_levels) // 2
    return (torch.arange(new_levels) - offset).clamp(0, old_levels - 1)


@torch.no_grad()
def warm_start_levels(model: CVQN, source: CVQN) -> int:
    """Warm-start the GMM quantizers and context-model outputs of groups whose number of levels changed
    (``--levels``): the trained means stay in the middle and new ones continue outwards at the outermost
    spacing; sigma, pi and the context model's output rows are copied from the nearest old level.
    Returns the number of groups changed."""
    changed = 0
    if len(model.preset.levels) != len(source.preset.levels):
        return changed
    for g, (new_q, old_q) in enumerate(zip(model.preset.levels, source.preset.levels)):
        if new_q == old_q:
            continue
        index = level_map(old_q, new_q)
        dst, src = model.controller.quantizers[g], source.controller.quantizers[g]
        mu_old = src.mu.detach().float()
        step_lo = float(mu_old[1] - mu_old[0]) if old_q > 1 else 1.0
        step_hi = float(mu_old[-1] - mu_old[-2]) if old_q > 1 else 1.0
        ranks = torch.arange(new_q) - (new_q - old_q) // 2
        mu = mu_old[index].clone()
        mu = torch.where(ranks < 0, mu_old[0] + ranks * step_lo, mu)
        mu = torch.where(ranks >= old_q, mu_old[-1] + (ranks - old_q + 1) * step_hi, mu)
        dst.mu.copy_(mu)
        dst.log_sigma.copy_(src.log_sigma[index])
        dst.pi_logits.copy_(src.pi_logits[index])
        dst_last, src_last = model.context_models[g].last, source.context_models[g].last
        if dst_last.weight.shape[1:] == src_last.weight.shape[1:]:
            dst_last.weight.copy_(src_last.weight[index])
            dst_last.bias.copy_(src_last.bias[index])
        changed += 1
    return changed


def bf16_is_fast(device: torch.device) -> bool:
    """bf16 autocast helps only where the hardware has bf16 kernels (AVX-512 BF16/AMX, recent GPUs);
    on an AVX2-only CPU PyTorch falls back to slow reference convolutions (measured 8x slower)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def is_main() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def save_checkpoint(path: Path, model: CVQN, opt: torch.optim.Optimizer, step: int, cfg: TrainConfig,
                    history: list) -> None:
    """Resumable state (weights_only-loadable: tensors, numbers, strings, lists, dicts)."""
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
             "preset": model.preset.to_json(), "config": json.dumps(asdict(cfg)), "history": json.dumps(history)}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def run_card(cfg: TrainConfig, preset_name: str, step: int, history: list) -> dict:
    """The model-card facts of a run. A ``--context-only`` run keeps its --init model's card (that is
    how the network was trained) and adds its own steps under "context_finetune"."""
    validation = history[-1] if history else None
    if cfg.context_only and cfg.init:
        from .weights import read_weights
        card = dict(read_weights(cfg.init)[2])
        card.pop("kodak", None)  # measured on the old weights
        card["context_finetune"] = {"steps": step, "crop": cfg.crop, "batch_size": cfg.batch_size,
                                    "lr_scale": cfg.lr_scale, "init": cfg.init}
        card["validation"] = validation
        return card
    return {"preset": preset_name, "steps": step, "crop": cfg.crop, "batch_size": cfg.batch_size,
            "mse_weight": cfg.mse_weight, "lr_scale": cfg.lr_scale,
            "data": os.path.basename(os.path.normpath(cfg.data)), "init": cfg.init, "validation": validation}


def export(model: CVQN, path: Path, cfg: TrainConfig, step: int, history: list) -> None:
    """Write the shippable fp16 weights (with their integer tables) and the facts a model card needs."""
    from .weights import save_weights
    p = model.preset
    save_weights(model, path, cfg.name or f"cvqn-{p.name}-c{p.latent_channels}",
                 run_card(cfg, p.name, step, history))


def train(preset: Preset, cfg: TrainConfig, resume: bool = False, progress: bool = True,
          log=print) -> CVQN:
    ddp = "LOCAL_RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1
    if ddp:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        local = int(os.environ["LOCAL_RANK"])
        device = torch.device("cuda", local) if torch.cuda.is_available() else torch.device("cpu")
        if device.type == "cuda":
            torch.cuda.set_device(device)
    else:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rank = dist.get_rank() if ddp else 0
    torch.manual_seed(cfg.seed + rank)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"

    files = list_images(cfg.data)
    train_files, val_files = split_files(files, min(cfg.val_images, max(0, len(files) - 1)))
    if is_main():
        (out / "split.json").write_text(json.dumps({"train": [str(p) for p in train_files],
                                                    "val": [str(p) for p in val_files]}, indent=1))
    t0 = time.time()
    train_imgs = [load_training_image(p, cfg.max_side) for p in train_files]
    val_imgs = [load_training_image(p, cfg.max_side) for p in val_files]
    if is_main():
        log(f"loaded {len(train_imgs)} training and {len(val_imgs)} validation images in {time.time() - t0:.0f} s")
    model = CVQN(preset).to(device)
    step, history = 0, []
    if resume and ckpt_path.exists():
        state = torch.load(ckpt_path, map_location=device, weights_only=True)
        from .weights import load_state  # a checkpoint from before the integer tables lacks them: rebuilt at export
        load_state(model, state["model"], tables_optional=True)
        step, history = state["step"], json.loads(state["history"])
    elif cfg.init:
        from .weights import load_for_training
        source_model = load_for_training(cfg.init)
        own = model.state_dict()
        same_layout = (source_model.preset.importance == preset.importance == "predefined"
                       and source_model.preset.levels == preset.levels)
        channel_map = group_channel_map(source_model.controller.group_channels,
                                        model.controller.group_channels) if same_layout else None
        copied, partial = warm_start(own, source_model.state_dict(), channel_map)
        model.load_state_dict(own)
        log(f"warm start from {cfg.init}: {copied} tensors copied, {partial} partly "
            f"(other shape), {len(own) - copied - partial} left at their initial values")
        if warm_start_levels(model, source_model):
            log(f"quantization levels {source_model.preset.levels} -> {preset.levels}: trained means kept in the "
                "middle, new levels continue outwards")
    # Seeded by rank and step, so a resumed run does not replay the crops it has already seen.
    sampler = CropSampler(train_imgs, cfg.crop, cfg.seed + 1000 * rank + 7919 * step)
    model.train()
    if device.type == "cpu":
        use_channels_last(model)
    if cfg.context_only:
        if ddp:
            raise ValueError("--context-only runs in one process")
        model.encoder.requires_grad_(False)
        model.decoder.requires_grad_(False)
        model.controller.requires_grad_(False)
    net = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=False) if ddp else model
    opt = torch.optim.Adam(parameter_groups(model, cfg))
    base_lrs = [g["lr"] for g in opt.param_groups]
    if resume and ckpt_path.exists():
        opt.load_state_dict(state["optimizer"])
        log(f"resumed at step {step}")
    win = ms_ssim_window(cfg.crop)
    bf16 = cfg.bf16 and bf16_is_fast(device)
    if is_main():
        log(f"training on {device}{f' x {dist.get_world_size()} processes (DDP)' if ddp else ''}, "
            f"{'bf16 autocast' if bf16 else 'float32'}, MS-SSIM window {win}, batch {cfg.batch_size} per process")
    last_ckpt = time.time()
    bar = None
    if progress and is_main():
        from tqdm import tqdm
        bar = tqdm(total=cfg.steps, initial=step, dynamic_ncols=True, mininterval=2.0)
    ema = None
    stop = {"signal": None}

    def request_stop(signum, _frame):  # finish the step, checkpoint, exit: a run can be stopped any time
        stop["signal"] = signum

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    while step < cfg.steps and stop["signal"] is None:
        f = lr_factor(step, cfg.steps)
        for g, base in zip(opt.param_groups, base_lrs):
            g["lr"] = base * f
        x = sampler.batch(cfg.batch_size).to(device)
        if device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        if cfg.context_only:
            loss, msssim, bpp, ent = context_loss_terms(model, x)
        else:
            loss, msssim, bpp, ent = loss_terms(net, x, cfg, win, bf16)
        optimizer_step(model, opt, loss)
        step += 1
        vals = torch.stack([loss.detach(), msssim, bpp, ent]).float().cpu().numpy()
        ema = vals if ema is None else 0.98 * ema + 0.02 * vals
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{ema[0]:.3f}", bpp=f"{ema[2]:.3f}", msssim=f"{ema[1]:.4f}")
        if preset.importance == "re" and step % cfg.re_every == 0 and is_main() and not cfg.context_only:
            update_re_importance(model, val_imgs[:4], device)
        if is_main() and (step % cfg.val_every == 0 or step == cfg.steps):
            v = validate(model, val_imgs, device)
            v.update(step=step, minutes=(time.time() - t0) / 60, train_loss=float(ema[0]))
            history.append(v)
            log(f"step {step}: val MS-SSIM {v['ms_ssim']:.4f} PSNR {v['psnr']:.2f} est. bpp {v['bpp']:.3f}")
            with open(out / "history.jsonl", "a") as fh:
                fh.write(json.dumps(v) + "\n")
        if is_main() and (time.time() - last_ckpt > cfg.checkpoint_minutes * 60 or step == cfg.steps):
            save_checkpoint(ckpt_path, model, opt, step, cfg, history)
            export(model, out / "model.safetensors", cfg, step, history)
            last_ckpt = time.time()
    for sig, handler in previous.items():
        signal.signal(sig, handler)
    if stop["signal"] is not None and is_main():
        save_checkpoint(ckpt_path, model, opt, step, cfg, history)
        export(model, out / "model.safetensors", cfg, step, history)
        log(f"stopped by signal {stop['signal']} at step {step}; checkpoint saved, continue with --resume")
    if bar is not None:
        bar.close()
    if ddp:
        dist.destroy_process_group()
    model.encoder.to(memory_format=torch.contiguous_format)
    model.decoder.to(memory_format=torch.contiguous_format)
    return model
