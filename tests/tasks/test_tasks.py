"""Tasks: the labels are the operation, the enumeration is complete, the split is seeded."""

import pytest
import torch

from nerve.groups import symmetric
from nerve.tasks import (
    SuperpositionData,
    TaskError,
    group_composition,
    modular_arithmetic,
    sparse_parity,
    split_indices,
)


@pytest.mark.parametrize(
    ("op", "rule"),
    [
        ("add", lambda a, b, p: (a + b) % p),
        ("sub", lambda a, b, p: (a - b) % p),
        ("mul", lambda a, b, p: (a * b) % p),
        ("x2+y2", lambda a, b, p: (a * a + b * b) % p),
        ("x3+xy", lambda a, b, p: (a**3 + a * b) % p),
    ],
)
def test_modular_labels_follow_the_operation(op, rule):
    p = 13
    inputs, targets = modular_arithmetic(p, op).enumerate()
    assert len(targets) == p * p and inputs.shape == (p * p, 2)
    assert all(int(t) == rule(int(a), int(b), p) for (a, b), t in zip(inputs, targets))


def test_division_runs_over_nonzero_divisors_and_inverts_multiplication():
    p = 11
    task = modular_arithmetic(p, "div")
    inputs, targets = task.enumerate()
    assert task.size == p * (p - 1) and int(inputs[:, 1].min()) == 1
    assert all((int(t) * int(b)) % p == int(a) for (a, b), t in zip(inputs, targets))


def test_addition_says_its_group():
    task = modular_arithmetic(7)
    assert task.group.name == "C7"
    torch.testing.assert_close(task.table, task.group.table)
    assert modular_arithmetic(7, "mul").group is None


def test_group_composition_enumerates_every_pair_row_major():
    G = symmetric(3)
    task = group_composition(G)
    inputs, targets = task.enumerate()
    assert task.group is G
    assert inputs[7].tolist() == [1, 1] and targets[7] == G.mul(1, 1)
    assert targets.reshape(6, 6).equal(G.table)


def test_sparse_parity_labels_and_seeded_relevant_bits():
    task = sparse_parity(8, 3, seed=4)
    assert task.relevant == sparse_parity(8, 3, seed=4).relevant
    inputs, targets = task.enumerate()
    assert inputs.shape == (256, 8) and len(set(map(tuple, inputs.tolist()))) == 256
    assert targets.equal(inputs[:, list(task.relevant)].sum(1) % 2)
    with pytest.raises(TaskError, match=r"`k` \(=9\) must be an integer between 1 and n \(=8\)"):
        sparse_parity(8, 9)
    with pytest.raises(TaskError, match=r"`n` \(=40\) must be an integer between 1 and 20"):
        sparse_parity(40, 3)


def test_split_is_seeded_and_partitions_the_domain():
    a, b = split_indices(100, 0.3, seed=1), split_indices(100, 0.3, seed=1)
    assert a.train.equal(b.train) and len(a.train) == 30
    assert sorted(a.train.tolist() + a.test.tolist()) == list(range(100))
    assert not split_indices(100, 0.3, seed=2).train.equal(a.train)
    with pytest.raises(TaskError, match=r"`train_fraction` \(=1.5\) must be in \(0, 1\]"):
        split_indices(10, 1.5, seed=0)


def test_superposition_data_sparsity_and_importance():
    data = SuperpositionData(10, sparsity=0.7, importance_decay=0.5)
    x = data.sample(20_000, generator=torch.Generator().manual_seed(0))
    assert abs(float((x == 0).float().mean()) - 0.7) < 0.01
    assert float(x.max()) <= 1 and float(x.min()) >= 0
    torch.testing.assert_close(data.importance[:3], torch.tensor([1.0, 0.5, 0.25]))
    # the loss weighs feature i by I_i
    err = torch.zeros(1, 10)
    err[0, 2] = 1.0
    torch.testing.assert_close(data.loss(err, torch.zeros(1, 10)), torch.tensor(0.25))
    with pytest.raises(TaskError, match=r"`sparsity` \(=1.0\) must be in \[0, 1\)"):
        SuperpositionData(10, sparsity=1.0)


@pytest.mark.parametrize(
    ("p", "op", "message"),
    [(12, "add", r"`p` \(=12\) must be a prime"), (7, "pow", "`op` \\(='pow'\\) must be one of")],
)
def test_bad_modular_tasks(p, op, message):
    with pytest.raises(TaskError, match=message):
        modular_arithmetic(p, op)
