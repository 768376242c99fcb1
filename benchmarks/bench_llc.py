"""The local learning coefficient: nerve's vectorised chains against devinterp 2.x, one run, one CPU.

Two MLPs trained on a+b mod 113 (all 12,769 pairs, one-hot inputs): the large one of issue 6
(226 -> 512 ReLU -> 113, batch 256) and a small one (hidden 48, batch 32); and, with
``--transformer``, the grokked one-layer transformer of the nanda2023 fixture (step 40,000,
226k parameters) on its training split, batch 64. For 4, 16 and 64
chains x 200 draws, both tools sample with the same hyperparameters (SGLD step ε, nβ = m/log m,
localisation γ, no burn-in) and the same L(w*) baseline (the whole dataset: devinterp's
``num_init_loss_batches`` is set to cover it). Printed: wall time of each, the ratio
devinterp / nerve, and each LLC with its standard error over chains, and whether the two
means agree within two combined standard errors.

devinterp is a benchmark-only dependency: ``pip install devinterp==2.0.1`` (with torch pinned,
``pip install -c <(echo torch==2.13.0) devinterp==2.0.1``). Its 2.x API takes a Hugging Face
dataset with an ``input_ids`` column and a per-token loss; the pairs are given to it as rows
``(a, b, a+b)`` and the loss repeats each pair's cross-entropy over the two "next tokens".

Run: ``python benchmarks/bench_llc.py [--chains 4 16 64] [--device cpu|cuda] [--transformer]``.

``--agreement`` instead compares the two estimates on the small MLP over ``--seeds`` seeds of each
tool (nerve's ``seed`` 0, 1, ...; devinterp's ``init_seed`` 100, 10100, 20100, ...: devinterp
seeds chain c with ``init_seed + c``, so seeds closer than the chains share chains) at ``--chains`` chains,
``--burnin`` and ``--draws`` (``--epsilon``): each seed's mean and its standard error over
chains, and the two tools' means over seeds with the standard error of the seeds' spread.
devinterp 2.x gives every chain of a run the same minibatches by default
(``match_sampling_input_ids_across_chains=True``), so its chains share that noise and the spread
over chains understates the error of a run's mean; ``--independent-batches`` turns that off.
Its loader is ``itertools.cycle`` over one shuffled epoch, so after the first epoch every chain
meets the same batches again in the same order; ``--replicate K`` gives it each row K times (the
same empirical distribution and L(w*)) so that no batch repeats within K epochs. devinterp 2.0.1's
``llc_per_chain`` averages the loss over the burn-in steps too; the estimate compared here is taken
from its ``loss_trace`` over the draws alone (its own number is printed beside it).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
from torch import nn

from nerve.analysis.llc.estimator import LLCEstimator

P = 113


def data(device: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    a, b = torch.cartesian_prod(torch.arange(P), torch.arange(P)).T
    c = (a + b) % P
    X = torch.cat([nn.functional.one_hot(a, P), nn.functional.one_hot(b, P)], 1).float()
    return X.to(device), c.to(device), torch.stack([a, b, c], 1)


def trained_mlp(hidden: int, X: torch.Tensor, y: torch.Tensor, *, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2 * P, hidden), nn.ReLU(), nn.Linear(hidden, P)).to(X.device)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=1e-4)
    for _ in range(800):  # full batch; the point sampled around is w* whatever its accuracy
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
    return model


def nerve_llc(model, X, y, *, chains, draws, batch, eps, gamma, nbeta, device) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    est = LLCEstimator(
        epsilon=eps, gamma=gamma, nbeta=nbeta, n_chains=chains, n_draws=draws, batch_size=batch,
        seed=0, device=device,
    ).fit(model, (X, y))  # fmt: skip
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t0, est.llc_mean_, est.llc_std_ / math.sqrt(chains)


def one_hot_loss(m: nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
    """devinterp's per-token loss for the MLPs: rows (a, b, a+b)."""
    a, b = nn.functional.one_hot(input_ids[:, 0], P), nn.functional.one_hot(input_ids[:, 1], P)
    x = torch.cat([a, b], 1)
    per_pair = nn.functional.cross_entropy(m(x.float()), input_ids[:, 2], reduction="none")
    return per_pair[:, None].expand(-1, 2)  # (batch, seq - 1): the same loss at both positions


def token_loss(m: nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
    """devinterp's per-token loss for the transformer: rows (a, b, a+b); it reads (a, b)."""
    per_pair = nn.functional.cross_entropy(m(input_ids[:, :2]), input_ids[:, 2], reduction="none")
    return per_pair[:, None].expand(-1, 2)


def nanda_transformer(device: str) -> tuple[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor]:
    from nerve.analysis.llc.trajectory import training_data
    from nerve.training import load

    run = load(Path(__file__).resolve().parents[1] / "fixtures" / "nanda2023")
    X, y = training_data(run)
    model = run.model_at(40_000).to(device)
    return model, X.to(device), y.to(device), torch.cat([X, y[:, None]], 1)


def devinterp_llc(
    model,
    rows,
    *,
    chains,
    draws,
    batch,
    eps,
    gamma,
    nbeta,
    device,
    loss_fn,
    burnin=0,
    seed=100,
    match=True,
    sampling_method="sgmcmc_sgld",
) -> tuple:
    from datasets import Dataset
    from devinterp.slt.llc import llc

    dataset = Dataset.from_dict({"input_ids": rows.tolist()}).with_format("torch")
    t0 = time.perf_counter()
    out = llc(
        model, dataset, {}, lr=eps, n_beta=nbeta, localization=gamma, num_chains=chains, num_draws=draws,
        batch_size=batch, num_burnin_steps=burnin, num_init_loss_batches=math.ceil(len(rows) / batch),
        loss_fn=loss_fn, device=device, init_seed=seed, match_sampling_input_ids_across_chains=match,
        sampling_method=sampling_method,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    # devinterp 2.0.1's llc_per_chain averages the loss over every step, burn-in included (its
    # loss_trace holds burn-in + draws steps): the draws' estimate is taken from the trace instead
    trace = out["loss_trace"].values
    assert trace.shape == (chains, burnin + draws), trace.shape
    per_chain = nbeta * (trace[:, burnin:].mean(1) - float(out["init_loss"]))
    if burnin:
        DEVINTERP_OWN.append(float(out["llc_per_chain"].values.mean()))
    return seconds, float(per_chain.mean()), float(per_chain.std(ddof=1)) / math.sqrt(chains)


#: devinterp's own llc_per_chain means (burn-in included) of the runs with burn-in, for the record
DEVINTERP_OWN: list[float] = []


def agreement(args: argparse.Namespace) -> None:
    """The small MLP's LLC from both tools over several seeds each (see the module's docstring)."""
    import warnings

    from nerve.errors import NerveWarning

    X, y, rows = data(args.device)
    model, chains = trained_mlp(48, X, y), args.chains[0]
    hyper = dict(batch=32, eps=args.epsilon, gamma=100.0, nbeta=32 / math.log(32), device=args.device)
    common = dict(chains=chains, draws=args.draws, burnin=args.burnin, **hyper)
    shared = not args.independent_batches
    print(f"small MLP; {chains} chains x ({args.burnin} burn-in + {args.draws} draws), ε {args.epsilon:g}, "
          f"γ 100, nβ = m/log m, devinterp chains share minibatches: {shared}")  # fmt: skip
    means = {"nerve": [], "devinterp": []}
    for s in range(args.seeds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NerveWarning)
            est = LLCEstimator(
                epsilon=args.epsilon, gamma=100.0, nbeta=hyper["nbeta"], n_chains=chains, n_draws=args.draws,
                n_burnin=args.burnin, batch_size=32, seed=s, device=args.device,
            ).fit(model, (X, y))  # fmt: skip
        _, m_d, se_d = devinterp_llc(
            model,
            rows.repeat(args.replicate, 1),
            loss_fn=one_hot_loss,
            seed=100 + 10_000 * s,
            match=not args.independent_batches,
            **common,
        )
        means["nerve"].append(est.llc_mean_)
        means["devinterp"].append(m_d)
        r = est.result_
        print(f"seed {s}: nerve {r.llc_mean:.4f} ± {r.llc_std / math.sqrt(chains):.4f} "
              f"({r.verdict.split(':')[0]}, R̂ {r.rhat:.3f}, ESS {r.ess_bulk:.0f}); "
              f"devinterp {m_d:.4f} ± {se_d:.4f}", flush=True)  # fmt: skip
    summary = {}
    for tool, values in means.items():
        mean = sum(values) / len(values)
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        summary[tool] = (mean, sd / math.sqrt(len(values)))
        print(
            f"{tool}: mean over {len(values)} seeds {mean:.4f} ± {summary[tool][1]:.4f} (seeds' sd {sd:.4f})"
        )
    if DEVINTERP_OWN:
        own = ", ".join(f"{v:.4f}" for v in DEVINTERP_OWN)
        print(f"devinterp's own llc_per_chain means (burn-in steps averaged in): {own}")
    gap = summary["devinterp"][0] - summary["nerve"][0]
    se = math.hypot(summary["nerve"][1], summary["devinterp"][1])
    print(f"devinterp − nerve = {gap:+.4f} ({gap / se:+.1f} combined SE); within 2 SE: {abs(gap) <= 2 * se}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chains", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--transformer", action="store_true", help="the nanda2023 transformer too")
    parser.add_argument("--only-transformer", action="store_true")
    parser.add_argument("--agreement", action="store_true", help="both tools over seeds on the small MLP")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--burnin", type=int, default=0)
    parser.add_argument("--epsilon", type=float, default=1e-4)
    parser.add_argument("--independent-batches", action="store_true")
    parser.add_argument(
        "--replicate", type=int, default=1,
        help="give devinterp each row this many times: its loader (itertools.cycle) replays the first "
        "epoch's batches in the same order, and a K-fold dataset (the same distribution) postpones that",
    )  # fmt: skip
    args = parser.parse_args()
    import devinterp  # noqa: F401  (fail early, before training, when it is missing)

    if args.agreement:
        agreement(args)
        return

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {args.device}")
    X, y, rows = data(args.device)
    cases = []
    if not args.only_transformer:
        for name, hidden, batch in (("small (hidden 48)", 48, 32), ("large (hidden 512)", 512, 256)):
            cases.append((name, trained_mlp(hidden, X, y), X, y, rows, batch, one_hot_loss))
    if args.transformer or args.only_transformer:
        model, Xt, yt, rows_t = nanda_transformer(args.device)
        cases.append(("nanda2023 transformer (step 40,000)", model, Xt, yt, rows_t, 64, token_loss))
    for name, model, X, y, rows, batch, loss_fn in cases:
        with torch.no_grad():
            acc = float((model(X).argmax(1) == y).float().mean())
        hyper = dict(batch=batch, eps=1e-4, gamma=100.0, nbeta=batch / math.log(batch), device=args.device)
        print(f"\n{name}, batch {batch}, accuracy {acc:.4f}; ε 1e-4, γ 100, nβ = m/log m")
        print("chains  nerve (s)  devinterp (s)  devinterp/nerve  LLC nerve       LLC devinterp   agree")
        for chains in args.chains:
            t_n, m_n, se_n = nerve_llc(model, X, y, chains=chains, draws=args.draws, **hyper)
            t_d, m_d, se_d = devinterp_llc(
                model, rows, chains=chains, draws=args.draws, loss_fn=loss_fn, **hyper
            )
            agree = abs(m_n - m_d) <= 2 * math.hypot(se_n, se_d)
            print(f"{chains:6d} {t_n:10.2f} {t_d:14.2f} {t_d / t_n:16.1f}  {m_n:6.2f} ± {se_n:4.2f}   "
                  f"{m_d:6.2f} ± {se_d:4.2f}   {agree}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
