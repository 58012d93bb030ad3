"""The torch engine: gradients by autograd, for any policy module on the CPU or CUDA.

It trains whatever ``policy.torch_module(device)`` returns: a view of the built-in MLP's numpy
arrays (which it then updates in place on the CPU), or the user's own ``nn.Module``. The batch
runs forward and backward in chunks whose gradients add up to the batch's: a CNN on frames ran
40% faster in cache-sized chunks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..policies.base import CategoricalActor
from ..policies.mlp import MLP
from ..returns import standardize
from .base import Array, PolicyTargets
from .chunks import chunks
from .torch_adam import TorchAdam

if TYPE_CHECKING:
    from ..policies.base import Policy

# Inputs per chunk (samples x input size): about 1,000 Pixelcopter frames at a time.
CHUNK_ELEMENTS = 4_000_000


class TorchEngine:
    """Gradients of a policy module (and value module) by autograd; Adam steps through
    :class:`TorchAdam`. A numpy MLP baseline is trained through its torch view."""

    uses_torch = True

    def __init__(
        self, policy: Policy, value: Any, lr: float, value_lr: float, device: str = "cpu"
    ) -> None:
        self.policy, self.value, self.device = policy, value, device
        self.module = policy.torch_module(device)
        self.value_module: torch.nn.Module | None = None
        if isinstance(value, MLP):
            self.value_module = value.torch_view("value", device)
        elif value is not None:  # a torch value baseline (the CNN for frames)
            self.value_module = value.module.to(device)
        self.optimizers = [TorchAdam(self.module.parameters(), lr=lr)]
        if self.value_module is not None:
            self.optimizers.append(TorchAdam(self.value_module.parameters(), lr=value_lr))

    @property
    def has_value(self) -> bool:
        return self.value_module is not None

    def as_array(self, values: Array) -> torch.Tensor:
        return torch.as_tensor(values, device=self.device)

    def standardized(self, returns: np.ndarray) -> torch.Tensor:
        return standardize(self.as_array(returns))

    def chunks(self, obs: np.ndarray) -> list[slice]:
        return chunks(len(obs), max(256, CHUNK_ELEMENTS // max(1, int(np.prod(obs.shape[1:])))))

    @torch.no_grad()
    def values(self, obs: np.ndarray) -> np.ndarray:
        assert self.value_module is not None
        return self.value_module(self.as_array(obs)).cpu().numpy()

    def value_gradients(
        self, obs: np.ndarray, returns: np.ndarray
    ) -> tuple[list[torch.Tensor | None], np.ndarray]:
        assert self.value_module is not None
        x, target = self.as_array(obs), self.as_array(returns.astype(np.float32))
        params = list(self.value_module.parameters())
        for p in params:
            p.grad = None
        values = []
        for c in self.chunks(obs):
            v = self.value_module(x[c])
            (0.5 * (v - target[c]).square().mean() * (len(v) / len(x))).backward()
            values.append(v.detach())
        return [p.grad for p in params], torch.cat(values).cpu().numpy()

    def policy_gradients(
        self, targets: PolicyTargets, stats: dict[str, float]
    ) -> list[torch.Tensor | None]:
        x, a, w = (self.as_array(v) for v in (targets.obs, targets.actions, targets.weights))
        obs, reduction, entropy_coef = targets.obs, targets.reduction, targets.entropy_coef
        params = list(self.module.parameters())
        for p in params:
            p.grad = None
        n = len(x)
        for c in self.chunks(obs):
            log_prob, entropy = self.policy.log_prob_and_entropy(self.module(x[c]), a[c])
            chunk_policy_loss(log_prob, entropy, w[c], n, reduction, entropy_coef, stats).backward()
        return [p.grad for p in params]

    def after_step(self) -> None:
        self.policy.after_torch_step()
        if isinstance(self.value, MLP) and self.device != "cpu":
            assert self.value_module is not None
            self.value.copy_from(self.value_module)


def chunk_policy_loss(
    log_prob: torch.Tensor,
    entropy: torch.Tensor,
    weights: torch.Tensor,
    n: int,
    reduction: str,
    entropy_coef: float,
    stats: dict[str, float],
) -> torch.Tensor:
    """The policy's loss on one chunk of a batch of ``n`` steps, as its share of the batch's loss
    (so that the chunks' gradients add up to the batch's); adds to ``stats``' ``policy_loss`` and
    ``entropy``."""
    share = len(log_prob) / n
    stats.setdefault("policy_loss", 0.0)
    stats.setdefault("entropy", 0.0)
    if reduction == "sum":  # the course's loss: summed over the episode
        loss = -(log_prob * weights).sum()
        stats["policy_loss"] += float(loss.detach())
    else:  # a mean, so the step size does not grow with the batch
        loss = -(log_prob * weights).mean()
        stats["policy_loss"] += float(loss.detach()) * share
        loss = loss * share
    if entropy_coef:
        loss = loss - entropy_coef * entropy.mean() * share
    stats["entropy"] += float(entropy.detach().mean()) * share
    return loss


#: Weight of the value loss in the actor-critic's one loss, which is divided by the batch's return
#: variance: a scale-free pull on the shared body, as the policy's advantages are standardised.
VALUE_COEF = 0.5


class ActorCriticEngine(TorchEngine):
    """One module with a policy head and a value head on a shared body (``CNNActorCritic``,
    ``cnn_shared``): one optimizer, and one forward and one backward pass per chunk for both
    losses. V(s) of the batch comes from the acting pass (:meth:`recording_actor`), so the update
    runs no separate value pass."""

    def __init__(self, policy: Policy, lr: float, device: str = "cpu") -> None:
        super().__init__(policy, None, lr, 0.0, device)
        self.heads: Any = self.module  # has logits_and_value (checked when the parts were built)

    @property
    def has_value(self) -> bool:
        return True

    @torch.no_grad()
    def values(self, obs: np.ndarray) -> np.ndarray:
        return self.heads.logits_and_value(self.as_array(obs))[1].cpu().numpy()

    def value_gradients(
        self, obs: np.ndarray, returns: np.ndarray
    ) -> tuple[list[torch.Tensor | None], np.ndarray]:
        raise TypeError("the value head trains with the policy: use actor_critic_gradients")

    def recording_actor(self) -> tuple[CategoricalActor, list[np.ndarray]]:
        """An actor through the live module (as the policy's, valid until the next update), and
        the list it appends V(s) [n] of every call's observations to: the update's values, since
        the weights do not change during a rollout. Frames go in as they are (uint8)."""
        heads, device, values = self.heads, self.device, []

        def logits(obs: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                out, v = heads.logits_and_value(
                    torch.as_tensor(np.ascontiguousarray(obs), device=device)
                )
            values.append(v.cpu().numpy())
            return out.cpu().numpy().T

        return CategoricalActor(logits), values

    def actor_critic_gradients(
        self, targets: PolicyTargets, returns: np.ndarray, stats: dict[str, float]
    ) -> list[torch.Tensor | None]:
        """Gradients of the policy's loss (as :meth:`policy_gradients`) plus
        ``VALUE_COEF * 0.5 * mean((V(s) - G)^2) / var(G)``, chunk by chunk."""
        x, a, w = (self.as_array(v) for v in (targets.obs, targets.actions, targets.weights))
        target = self.as_array(returns.astype(np.float32))
        value_scale = VALUE_COEF * 0.5 / (float(np.var(returns)) + 1e-8)
        params = list(self.module.parameters())
        for p in params:
            p.grad = None
        n = len(x)
        for c in self.chunks(targets.obs):
            logits, v = self.heads.logits_and_value(x[c])
            log_prob, entropy = self.policy.log_prob_and_entropy(logits, a[c])
            loss = chunk_policy_loss(
                log_prob, entropy, w[c], n, targets.reduction, targets.entropy_coef, stats
            )
            (loss + value_scale * (v - target[c]).square().sum() / n).backward()
        return [p.grad for p in params]
