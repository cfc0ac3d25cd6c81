"""One process, or one of several under torchrun (DistributedDataParallel: nccl on GPUs, gloo on CPUs)."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def ddp_requested() -> bool:
    """True under torchrun with more than one process."""
    return "LOCAL_RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_process() -> tuple[torch.device, int, bool]:
    """Join the process group if torchrun started several processes. Returns (device, rank, ddp)."""
    if not ddp_requested():
        return torch.device("cuda" if torch.cuda.is_available() else "cpu"), 0, False
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    local = int(os.environ["LOCAL_RANK"])
    device = torch.device("cuda", local) if torch.cuda.is_available() else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device, dist.get_rank(), True


def is_main() -> bool:
    """The process that validates, logs and writes the run folder."""
    return not dist.is_initialized() or dist.get_rank() == 0


def describe(device: torch.device, ddp: bool) -> str:
    return f"{device}{f' x {dist.get_world_size()} processes (DDP)' if ddp else ''}"


def wrap(model: torch.nn.Module, ddp: bool) -> torch.nn.Module:
    """The module the loss runs through: the model, or its DDP wrapper (which averages the gradients)."""
    return torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=False) if ddp else model


def finish_process(ddp: bool) -> None:
    if ddp:
        dist.destroy_process_group()
