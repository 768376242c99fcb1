"""The interval interpreter: every exported op's rule holds the exact result of its box, whole
Hugging Face models' float64 forward passes lie inside their intervals, and an op without a rule
is refused by name."""

import copy
import math

import pytest
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from nerve.errors import ProofError
from nerve.proofs.interpreter import IntervalProgram, UnsupportedOpError, supported_ops
from nerve.proofs.intervals import Interval

transformers = pytest.importorskip("transformers")


SOFTMAXES = (torch.softmax, torch.nn.functional.softmax, torch.Tensor.softmax)


class Float64(TorchFunctionMode):
    """Run a float64 model without the float32 casts Hugging Face writes (rotary embeddings compute
    in float32 on purpose): the float64 program the interpreter bounds, casts being the identity."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if (
            func in (torch.Tensor.float, torch.Tensor.half, torch.Tensor.bfloat16)
            and args[0].dtype == torch.float64
        ):
            return args[0]
        if kwargs.get("dtype") in (torch.float32, torch.float16, torch.bfloat16) and func in SOFTMAXES:
            kwargs = {**kwargs, "dtype": None}  # eager attention's softmax(..., dtype=torch.float32)
        if func is torch.Tensor.to and isinstance(args[0], torch.Tensor) and args[0].dtype == torch.float64:
            dtype = kwargs.get("dtype") or next((a for a in args[1:] if isinstance(a, torch.dtype)), None)
            if dtype is not None and dtype.is_floating_point:
                return args[0]
        return func(*args, **kwargs)


class LastLogits(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=ids, use_cache=False).logits[:, -1]


def tiny(kind: str, attention: str = "sdpa") -> nn.Module:
    torch.manual_seed(0)
    if kind == "gpt2":
        config = transformers.GPT2Config(
            vocab_size=32, n_positions=8, n_embd=16, n_layer=2, n_head=2, attn_implementation=attention
        )
        return transformers.GPT2LMHeadModel(config).eval()
    cls = {"llama": "Llama", "qwen2": "Qwen2", "mistral": "Mistral"}[kind]
    config = getattr(transformers, f"{cls}Config")(
        vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=8, attn_implementation=attention,
    )  # fmt: skip
    return getattr(transformers, f"{cls}ForCausalLM")(config).eval()


@pytest.mark.parametrize(
    "kind, attention, n",
    [("gpt2", "sdpa", 10_000), ("llama", "sdpa", 10_000), ("qwen2", "sdpa", 10_000),
     ("gpt2", "eager", 1000), ("llama", "eager", 1000), ("mistral", "sdpa", 1000)],
)  # fmt: skip
def test_a_transformers_models_float64_forward_lies_inside_its_intervals(kind, attention, n):
    """On 10⁴ prompts for each architecture with SDPA attention (10³ for eager attention and for
    Mistral, whose graph is Llama's), every logit of the float64 forward lies inside its interval."""
    model = tiny(kind, attention)
    ids = torch.randint(0, 32, (n, 3), generator=torch.Generator().manual_seed(1))
    program = IntervalProgram(LastLogits(model))
    bounds = Interval.cat([program(part) for part in ids.split(2500)])  # one export serves each part
    with torch.no_grad(), Float64():
        reference = LastLogits(copy.deepcopy(model).double())(ids)
    assert bool(bounds.contains(reference).all())
    relative = bounds.width() / reference.abs().max()
    assert float(relative.max()) < 1e-6  # rounding-wide, not vacuous (measured: below 1e-7)
    # the float32 model itself rounds at every op, so it lies near the intervals, not inside
    with torch.no_grad():
        float32 = LastLogits(model)(ids).double()
    assert float((float32 - bounds.lo).abs().max()) < 1e-4


def test_an_op_without_a_rule_is_refused_by_name_with_its_module():
    class Erf(nn.Module):
        def forward(self, x):
            return torch.special.erfc(x)

    net = nn.Sequential(nn.Linear(2, 2), Erf()).eval()
    with pytest.raises(UnsupportedOpError, match=r"`aten\.(special_)?erfc\.default` \(in `1`"):
        IntervalProgram(net)(torch.zeros(1, 2))


def test_dropout_in_training_mode_is_refused():
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    with pytest.raises(ProofError, match="training mode"):
        IntervalProgram(net.train())(torch.zeros(1, 2))
    assert IntervalProgram(net.eval())(torch.zeros(1, 2)).shape == (1, 2)


def test_a_box_of_inputs_bounds_every_sampled_point_through_layer_norm_gelu_and_softmax():
    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.norm, self.b = nn.Linear(6, 8), nn.LayerNorm(8), nn.Linear(8, 5)

        def forward(self, x):
            return self.b(nn.functional.gelu(self.norm(self.a(x)))).softmax(-1)

    net = Net().eval()
    centre = torch.randn(1, 6, dtype=torch.float64)
    box = Interval.box(centre - 0.05, centre + 0.05)
    bounds = IntervalProgram(net)(box)
    points = centre + 0.05 * (2 * torch.rand(20_000, 6, dtype=torch.float64) - 1)
    with torch.no_grad():
        out = copy.deepcopy(net).double()(points)
    assert bool(bounds.contains(out).all())
    assert float(bounds.width().max()) < 0.5  # a 0.1-wide box stays informative


FUNCTIONS = {
    "exp": (torch.exp, lambda b: b.exp(), 3.0),
    "tanh": (torch.tanh, lambda b: b.tanh(), 4.0),
    "sigmoid": (torch.sigmoid, lambda b: b.sigmoid(), 6.0),
    "sqrt": (torch.sqrt, lambda b: b.sqrt(), 9.0),
    "rsqrt": (torch.rsqrt, lambda b: b.rsqrt(), 9.0),
    "cos": (torch.cos, lambda b: b.cos(), 10.0),
    "sin": (torch.sin, lambda b: b.sin(), 10.0),
    "gelu": (nn.functional.gelu, lambda b: b.gelu(), 3.0),
    "gelu_tanh": (lambda t: nn.functional.gelu(t, approximate="tanh"), lambda b: b.gelu("tanh"), 3.0),
    "silu": (nn.functional.silu, lambda b: b.silu(), 4.0),
    "square": (torch.square, lambda b: b.square(), 3.0),
    "cube": (lambda t: t**3, lambda b: b.pow_int(3), 3.0),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_each_elementwise_rule_holds_the_function_on_every_point_of_random_boxes(name):
    f, rule, scale = FUNCTIONS[name]
    g = torch.Generator().manual_seed(0)
    a = scale * (2 * torch.rand(400, generator=g, dtype=torch.float64) - 1)
    width = (
        torch.rand(400, generator=g, dtype=torch.float64)
        * scale
        * torch.tensor([0.0, 1e-9, 0.3, 1.5]).repeat(100).double()
    )
    if name in ("sqrt", "rsqrt"):
        a = a.abs() + 1e-3
    box = Interval.box(a, a + width)
    bounds = rule(box)
    points = box.lo + (box.hi - box.lo) * torch.linspace(0, 1, 201, dtype=torch.float64)[:, None]
    # the float64 library value is within a few ulps of the exact one: allow 2⁻⁴⁸ outside
    values = f(points)
    slack = 2.0**-48 * (1 + values.abs())
    assert bool(((bounds.lo - slack <= values) & (values <= bounds.hi + slack)).all())
    # and tight: a point box is a few ulps wide; a wide one no wider than the function's range on it
    points_only = width == 0
    assert float((bounds.width()[points_only] / (1 + values[0, points_only].abs())).max()) < 1e-10
    spread = values.max(0).values - values.min(0).values
    assert bool((bounds.width() <= spread + 1e-9 * (1 + values.abs().max(0).values) + 0.05 * width).all())


def test_the_valleys_of_gelu_and_silu_are_bounded_by_their_stated_floors():
    for rule, low in ((lambda b: b.gelu(), -0.16997), (lambda b: b.silu(), -0.27846)):
        b = rule(Interval.box(torch.tensor([-3.0]), torch.tensor([1.0])))
        assert low - 1e-3 < float(b.lo) <= low  # the true minimum, less at most 10⁻³


def test_cos_and_sin_reach_their_extremes_only_where_the_box_holds_one():
    f64 = dict(dtype=torch.float64)
    box = Interval.box(torch.tensor([0.1, -0.1, 3.0, 1.5], **f64), torch.tensor([0.2, 0.1, 3.2, 1.6], **f64))
    c, s = box.cos(), box.sin()
    assert c.hi.tolist()[1] == 1.0 and c.lo.tolist()[2] == -1.0 and c.hi.tolist()[0] < 1.0
    assert s.hi.tolist()[3] == 1.0 and s.hi.tolist()[0] < 1.0
    assert math.isclose(float(c.lo[0]), math.cos(0.2), abs_tol=1e-11)  # 2·2⁻⁴⁰, the assumed error


def test_supported_ops_name_the_attention_and_norm_ops_the_architectures_use():
    names = set(supported_ops())
    for op in ("aten.layer_norm.default", "aten.rms_norm.default", "aten.silu.default", "aten.gelu.default",
               "aten.embedding.default", "aten.softmax.int", "aten.cos.default"):  # fmt: skip
        assert op in names


def test_a_program_bounds_the_weights_the_module_has_when_it_is_called():
    net = nn.Linear(2, 1, bias=False).eval()
    program = IntervalProgram(net)
    x = torch.tensor([[1.0, 2.0]])
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, 1.0]]))
        assert program(x).contains(torch.tensor([[3.0]])).all()
        net.weight.mul_(2.0)  # changed in place after a call
        assert program(x).contains(torch.tensor([[6.0]])).all()
        net.weight = nn.Parameter(torch.tensor([[2.0, 0.0]]))  # replaced, not changed in place
        assert (
            program(x).contains(torch.tensor([[2.0]])).all()
            and not program(x).contains(torch.tensor([[3.0]])).all()
        )


def test_a_sum_of_exact_floats_is_bounded_not_taken_as_exact_and_a_float_cumsum_is_refused():
    class Sums(nn.Module):
        def forward(self, x):
            w = torch.tensor([1.0, 2.0**-60, -1.0])  # exact floats whose float sum rounds (to 0)
            return x + w.sum()

    out = IntervalProgram(Sums())(torch.zeros(1))
    assert bool(out.contains(torch.tensor([2.0**-60])).all())

    class Cumulative(nn.Module):
        def forward(self, x):
            return x + torch.tensor([0.1, 0.2]).cumsum(0)

    with pytest.raises(ProofError, match="rounds on floats"):
        IntervalProgram(Cumulative())(torch.zeros(2))


def test_clamp_and_tril_of_intervals_and_a_float64_constant_cast_to_float32_stay_sound():
    class Net(nn.Module):
        def forward(self, x):
            third = torch.tensor(1 / 3, dtype=torch.float64).to(
                torch.float32
            )  # the real program: 1/3's float64
            return (x.clamp(-0.5, 0.5) * third).unsqueeze(0).expand(2, 2).tril()

    box = Interval.box(
        torch.tensor([-1.0, 0.25], dtype=torch.float64), torch.tensor([0.0, 2.0], dtype=torch.float64)
    )
    out = IntervalProgram(Net())(box)
    third = 1 / 3  # float64: the cast is the identity on reals, so not float32's 0.3333333432674408
    for x0 in (-1.0, -0.5, 0.0):
        for x1 in (0.25, 0.5, 2.0):
            y = torch.tensor(
                [min(max(x0, -0.5), 0.5) * third, min(max(x1, -0.5), 0.5) * third], dtype=torch.float64
            )
            assert bool(out.contains(torch.stack([torch.stack([y[0], y.new_zeros(())]), y])).all())
    assert float(out.hi[1, 1]) < 0.5 / 3 + 1e-12  # the float64 third, not float32's larger one


def test_an_einsum_of_two_boxes_holds_every_product_of_their_points():
    class Net(nn.Module):
        def forward(self, x, w):
            return torch.einsum("bti,oi->bto", x, w)

    g = torch.Generator().manual_seed(0)
    x = Interval.box(
        *(lambda c: (c - 0.01, c + 0.01))(torch.randn(2, 3, 4, generator=g, dtype=torch.float64))
    )
    w = torch.randn(5, 4, generator=g)
    out = IntervalProgram(Net())(x, w)
    points = x.lo + (x.hi - x.lo) * torch.rand(500, 2, 3, 4, generator=g, dtype=torch.float64)
    exact = torch.einsum("nbti,oi->nbto", points, w.double())
    assert bool(((out.lo <= exact) & (exact <= out.hi)).all())
    assert float(out.width().max()) < 0.1  # 0.02-wide inputs times |w| rows: informative
