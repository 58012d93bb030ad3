import torch

from reinforcelab.optim_torch import Adam
from reinforcelab.policies.torch_mlp import CategoricalPolicy


def test_adam_is_bit_identical_to_torch_adam():
    torch.manual_seed(0)
    ours_model = CategoricalPolicy(4, 2, (16,))
    ref_model = CategoricalPolicy(4, 2, (16,))
    ref_model.load_state_dict(ours_model.state_dict())
    ours, ref = (
        Adam(ours_model.parameters(), lr=1e-2),
        torch.optim.Adam(ref_model.parameters(), lr=1e-2),
    )
    for step in range(30):
        x, a, g = torch.randn(50, 4), torch.randint(0, 2, (50,)), torch.randn(50)
        for model, opt in ((ours_model, ours), (ref_model, ref)):
            opt.zero_grad()
            (-(model.log_probs(x, a) * g).sum()).backward()
            opt.step()
        for p, q in zip(ours_model.parameters(), ref_model.parameters()):
            assert torch.equal(p, q), step


def test_adam_state_round_trip():
    model = CategoricalPolicy(4, 2, (8,))
    opt = Adam(model.parameters(), lr=0.1)
    model.log_probs(torch.randn(5, 4), torch.zeros(5, dtype=torch.long)).sum().backward()
    opt.step()
    saved = opt.state_dict()
    other = Adam(model.parameters(), lr=0.5)
    other.load_state_dict(saved)
    assert other.lr == 0.1 and other.state[0]["step"] == 1
    assert torch.equal(other.state[0]["exp_avg"], opt.state[0]["exp_avg"])
    assert other.state[0]["exp_avg"] is not opt.state[0]["exp_avg"]
