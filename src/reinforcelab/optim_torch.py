"""Adam for torch tensors (course mode), written out: the same arithmetic as ``torch.optim.Adam``
without its start-up cost.

``torch.optim`` imports ``torch._dynamo`` the first time an optimizer is built, which costs about
two seconds: more than fast mode needs to solve CartPole. This class performs the operations of
torch's single-tensor Adam step (no weight decay, no amsgrad) in the same order, so results are
bit-identical (tested), and its state dict has the same layout.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch


class Adam:
    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps = lr, betas, eps
        self.state = [
            {"step": 0, "exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)}
            for p in self.params
        ]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        for p, s in zip(self.params, self.state):
            if p.grad is None:
                continue
            s["step"] += 1
            s["exp_avg"].lerp_(p.grad, 1 - beta1)
            s["exp_avg_sq"].mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
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
                f"optimizer state holds {len(saved['state'])} parameters, the model {len(self.params)}"
            )
        self.lr, self.betas, self.eps = saved["lr"], tuple(saved["betas"]), saved["eps"]
        self.state = [
            {k: (v.to(p.device).clone() if torch.is_tensor(v) else v) for k, v in s.items()}
            for s, p in zip(saved["state"], self.params)
        ]
