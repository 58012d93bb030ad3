"""Adam for numpy arrays: the arithmetic of ``torch.optim.Adam`` (no weight decay, no amsgrad)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class NumpyAdam:
    """Updates the given arrays in place from the gradients passed to ``step`` (a None gradient
    leaves its array alone, as torch does).

    ``lr`` is the step size in use; ``base_lr`` the configured one, which a schedule scales.
    """

    def __init__(
        self,
        params: list[np.ndarray],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = params
        self.lr, self.base_lr, self.betas, self.eps = lr, lr, betas, eps
        self.step_count = 0
        self.exp_avg = [np.zeros_like(p) for p in params]
        self.exp_avg_sq = [np.zeros_like(p) for p in params]

    def step(self, grads: Sequence[Any]) -> None:
        beta1, beta2 = self.betas
        self.step_count += 1
        bias_correction1 = 1 - beta1**self.step_count
        bias_correction2_sqrt = (1 - beta2**self.step_count) ** 0.5
        for p, g, m, v in zip(self.params, grads, self.exp_avg, self.exp_avg_sq):
            if g is None:
                continue
            m += (g - m) * (1 - beta1)
            v *= beta2
            v += (1 - beta2) * g * g
            denom = np.sqrt(v) / bias_correction2_sqrt + self.eps
            p -= (self.lr / bias_correction1) * (m / denom)

    def state_dict(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "betas": self.betas,
            "eps": self.eps,
            "step": self.step_count,
            "exp_avg": [m.copy() for m in self.exp_avg],
            "exp_avg_sq": [v.copy() for v in self.exp_avg_sq],
        }

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        shapes = [p.shape for p in self.params]
        if [m.shape for m in saved["exp_avg"]] != shapes:
            raise ValueError(
                f"optimizer state holds shapes {[m.shape for m in saved['exp_avg']]}, "
                f"the model {shapes}"
            )
        self.lr, self.betas, self.eps = saved["lr"], tuple(saved["betas"]), saved["eps"]
        self.step_count = saved["step"]
        self.exp_avg = [m.copy() for m in saved["exp_avg"]]
        self.exp_avg_sq = [v.copy() for v in saved["exp_avg_sq"]]
