import torch

from reinforcelab.engines.torch_adam import TorchAdam
from reinforcelab.policies.base import categorical_terms
from reinforcelab.policies.torch_mlp import CategoricalPolicy


def log_probs(model, x, a):
    return categorical_terms(torch.log_softmax(model(x), dim=-1), a)[0]


def test_adam_is_bit_identical_to_torch_adam():
    torch.manual_seed(0)
    ours_model = CategoricalPolicy(4, 2, (16,))
    ref_model = CategoricalPolicy(4, 2, (16,))
    ref_model.load_state_dict(ours_model.state_dict())
    ours = TorchAdam(ours_model.parameters(), lr=1e-2)
    ref = torch.optim.Adam(ref_model.parameters(), lr=1e-2)
    for step in range(30):
        x, a, g = torch.randn(50, 4), torch.randint(0, 2, (50,)), torch.randn(50)
        for model in (ours_model, ref_model):
            model.zero_grad()
            (-(log_probs(model, x, a) * g).sum()).backward()
        ours.step([p.grad for p in ours_model.parameters()])
        ref.step()
        for p, q in zip(ours_model.parameters(), ref_model.parameters()):
            assert torch.equal(p, q), step


def test_a_parameter_without_gradient_is_left_alone():
    model = CategoricalPolicy(4, 2, (8,))
    opt = TorchAdam(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    grads = [torch.ones_like(p) for p in model.parameters()]
    grads[0] = None
    opt.step(grads)
    after = list(model.parameters())
    assert torch.equal(after[0], before[0]) and opt.state[0]["step"] == 0
    assert not torch.equal(after[1], before[1]) and opt.state[1]["step"] == 1


def test_adam_state_round_trip():
    model = CategoricalPolicy(4, 2, (8,))
    opt = TorchAdam(model.parameters(), lr=0.1)
    log_probs(model, torch.randn(5, 4), torch.zeros(5, dtype=torch.long)).sum().backward()
    opt.step([p.grad for p in model.parameters()])
    saved = opt.state_dict()
    other = TorchAdam(model.parameters(), lr=0.5)
    other.load_state_dict(saved)
    assert other.lr == 0.1 and other.base_lr == 0.5 and other.state[0]["step"] == 1
    assert torch.equal(other.state[0]["exp_avg"], opt.state[0]["exp_avg"])
    assert other.state[0]["exp_avg"] is not opt.state[0]["exp_avg"]
