"""Adam for torch tensors, written out: the same arithmetic as ``torch.optim.Adam`` without its
start-up cost.

``torch.optim`` imports ``torch._dynamo`` the first time an optimizer is built, which costs about
two seconds: more than fast mode needs to solve CartPole. This class performs the operations of
torch's single-tensor Adam step (no weight decay, no amsgrad) in the same order, so results are
bit-identical (tested), and its state dict has the same layout.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch


class TorchAdam:
    """Updates the given parameters in place from the gradients passed to ``step`` (usually their
    ``.grad``); a parameter whose gradient is None is left alone, as torch does.

    ``lr`` is the step size in use; ``base_lr`` the configured one, which a schedule scales.
    """

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = list(params)
        self.lr, self.base_lr, self.betas, self.eps = lr, lr, betas, eps
        self.state: list[dict[str, Any]] = [
            {"step": 0, "exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)}
            for p in self.params
        ]

    @torch.no_grad()
    def step(self, grads: Sequence[Any]) -> None:
        beta1, beta2 = self.betas
        for p, grad, s in zip(self.params, grads, self.state):
            if grad is None:
                continue
            s["step"] += 1
            s["exp_avg"].lerp_(grad, 1 - beta1)
            s["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            step = float(s["step"])
            bias_correction1 = 1 - beta1**step
            bias_correction2_sqrt = (1 - beta2**step) ** 0.5
            denom = (s["exp_avg_sq"].sqrt() / bias_correction2_sqrt).add_(self.eps)
            p.addcdiv_(s["exp_avg"], denom, value=-(self.lr / bias_correction1))

    def state_dict(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "betas": self.betas,
            "eps": self.eps,
            "state": [
                {k: (v.clone() if torch.is_tensor(v) else v) for k, v in s.items()}
                for s in self.state
            ],
        }

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        if len(saved["state"]) != len(self.params):
            raise ValueError(
                f"optimizer state holds {len(saved['state'])} parameters, "
                f"the model {len(self.params)}"
            )
        self.lr, self.betas, self.eps = saved["lr"], tuple(saved["betas"]), saved["eps"]
        self.state = [
            {k: (v.to(p.device).clone() if torch.is_tensor(v) else v) for k, v in s.items()}
            for s, p in zip(saved["state"], self.params)
        ]
