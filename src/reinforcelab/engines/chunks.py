"""Splitting an update's batch into chunks that are run forward and backward one at a time."""

from __future__ import annotations


def chunks(n: int, size: int = 16_384) -> list[slice]:
    """Slices of a batch to run forward and backward one at a time. Measured on CartPole's 16-unit
    and Pixelcopter's 64-unit networks, both were fastest at about 16k samples: whole-batch
    temporaries of many megabytes were each time fresh memory (page faults), and far smaller
    chunks pay numpy's per-call overhead too often."""
    return [slice(lo, lo + size) for lo in range(0, n, size)]
