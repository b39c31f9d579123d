"""Which compute devices exist, and resolving a device choice (``auto``, ``cpu``, ``cuda:N``, ``mps``)."""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Iterator
from dataclasses import dataclass

from recsys_core.errors import ConfigError


@dataclass(frozen=True)
class DeviceInfo:
    """One device: ``id`` is what ``torch.device`` accepts; memory in bytes (None when unknown)."""

    id: str
    kind: str  # cpu | cuda | mps
    name: str
    memory_total: int | None = None

    @property
    def label(self) -> str:
        if self.memory_total:
            return f"{self.name} ({self.memory_total / 2**30:.0f} GiB)"
        return self.name


def _cpu_name() -> str:
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"CPU, {os.cpu_count()} cores ({name})" if name else f"CPU, {os.cpu_count()} cores"


def available_devices() -> list[DeviceInfo]:
    """Every device torch can use here: each CUDA GPU, Apple MPS, then the CPU (always last)."""
    import torch

    devices: list[DeviceInfo] = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            devices.append(DeviceInfo(f"cuda:{i}", "cuda", props.name, int(props.total_memory)))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append(DeviceInfo("mps", "mps", "Apple GPU (MPS)"))
    devices.append(DeviceInfo("cpu", "cpu", _cpu_name()))
    return devices


def resolve_device(spec: str = "auto") -> str:
    """Turn a device choice into a torch device string.

    ``auto`` picks the first CUDA GPU, then Apple MPS, then the CPU. An explicit device that is not
    available raises :class:`ConfigError` listing the ones that are.
    """
    devices = available_devices()
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        return devices[0].id
    if spec == "cuda":
        spec = "cuda:0"
    ids = [d.id for d in devices]
    if spec not in ids:
        raise ConfigError(
            f"Device '{spec}' is not available here.",
            field="device",
            hint=f"Available: auto, {', '.join(ids)}.",
        )
    return spec


def memory_in_use(device: str) -> int | None:
    """Bytes of device memory allocated by this process (CUDA only; None elsewhere)."""
    if not device.startswith("cuda"):
        return None
    import torch

    return int(torch.cuda.memory_allocated(device))


@contextlib.contextmanager
def cpu_threads(n: int | None, device: str) -> Iterator[None]:
    """Run the block with ``n`` intra-op torch threads when ``device`` is the CPU; restore the count after.

    ``n=None`` or another device leaves everything as it is. The count is per process (torch's setting), so
    this is for code that owns the process's CPU work while it runs, such as an epoch in a training worker.
    """
    import torch

    if n is None or not device.startswith("cpu") or torch.get_num_threads() == n:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
