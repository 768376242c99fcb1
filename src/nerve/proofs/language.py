"""Proofs about language models on finite families of prompts.

A :class:`PromptFamily` is a finite list of prompts, each with the token it should be followed
by (every weekday in every template, every pair of two-digit numbers, a benchmark slice). For a
causal language model (any :mod:`transformers` architecture the interval interpreter covers:
GPT-2, Llama, Mistral, Qwen2, ...), :func:`prove_prompts` bounds the next-token logits of the
real-number network on every prompt, exhaustively, with every rounding bounded
(:mod:`nerve.proofs.interpreter`), and judges a statement about them: the argmax is the target
(:class:`~nerve.proofs.Correct`), with a margin (:class:`~nerve.proofs.Margin`), among the top k
(:class:`~nerve.proofs.TopK`), or on a share of the prompts (:class:`~nerve.proofs.Accuracy`).
:func:`certify_prompts` does it for a model folder (safetensors only) and a family file, and
returns an :class:`LMCertificate` naming every file's SHA-256.

A family file is JSON::

    {"format": "nerve-prompts/1", "name": "weekday successor",
     "prompts": [{"ids": [12, 7, 3], "target": 4},
                 {"text": "The day after Monday is", "target": " Tuesday"}]}

Each prompt gives token ids and a target id, or a text and a target text that the model's
tokenizer turns into ids (the target must be exactly one token).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from nerve._version import __version__
from nerve.errors import ProofError
from nerve.proofs.interpreter import IntervalProgram
from nerve.proofs.intervals import Interval
from nerve.proofs.prove import (
    ProofResult,
    _encode,
    margin_bounds,
    parse_certificate,
    result_from_margins,
    sha256_file,
)
from nerve.proofs.statements import Robust, Statement, TopK, statement_dict

__all__ = [
    "LMCertificate", "NextTokenLogits", "PromptFamily", "certify_prompts", "export_hf", "load_lm",
    "model_files", "prove_prompts",
]  # fmt: skip

FAMILY_FORMAT = "nerve-prompts/1"
LM_FORMAT = "nerve-lm-certificate/1"
LM_METHOD = (
    "exhaustive: float64 interval pass of the exported graph over every prompt, every rounding bounded"
)


@dataclass(frozen=True)
class PromptFamily:
    """Prompts as token ids, each with the id of the token that should follow it.

    >>> family = PromptFamily.from_dict({"format": "nerve-prompts/1", "name": "toy",
    ...     "prompts": [{"ids": [1, 2], "target": 3}, {"ids": [4, 5, 6], "target": 0}]})
    >>> len(family), family.lengths()
    (2, [2, 3])
    """

    name: str
    prompts: tuple[tuple[int, ...], ...]
    targets: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.prompts)

    def lengths(self) -> list[int]:
        """The distinct prompt lengths, ascending (each is one exported program)."""
        return sorted({len(p) for p in self.prompts})

    def sha256(self) -> str:
        """The SHA-256 of the resolved family (name, ids and targets as canonical JSON): what a
        certificate is about, whichever tokenizer produced the ids."""
        text = json.dumps([self.name, self.prompts, self.targets], separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @classmethod
    def from_dict(
        cls, data: Any, *, tokenizer: Any = None, source: str = "the prompt family"
    ) -> PromptFamily:
        """The family `data` describes (see the module); text prompts need `tokenizer`. Anything
        malformed is a :class:`~nerve.errors.ProofError` naming `source` and the prompt."""
        if not isinstance(data, dict) or data.get("format") != FAMILY_FORMAT:
            raise ProofError(f'{source} must be an object with "format": {FAMILY_FORMAT!r}.')
        name, items = data.get("name"), data.get("prompts")
        if not isinstance(name, str) or not name:
            raise ProofError(f"{source}: field `name` (={name!r}) must be a non-empty string.")
        if not isinstance(items, list) or not items:
            raise ProofError(f"{source}: field `prompts` must be a non-empty list.")
        extra = sorted(set(data) - {"format", "name", "prompts"})
        if extra:
            raise ProofError(f"{source}: field `{extra[0]}` is not a field of a prompt family.")
        prompts, targets = [], []
        for i, item in enumerate(items):
            ids, target = _resolve(item, tokenizer, f"{source}: prompt {i}")
            prompts.append(ids)
            targets.append(target)
        return cls(name, tuple(prompts), tuple(targets))

    @classmethod
    def read(cls, path: str | Path, *, tokenizer: Any = None) -> PromptFamily:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ProofError(f"prompt family {path} cannot be read as JSON: {err}") from None
        return cls.from_dict(data, tokenizer=tokenizer, source=f"prompt family {path}")

    def to_dict(self) -> dict[str, Any]:
        prompts = [{"ids": list(p), "target": t} for p, t in zip(self.prompts, self.targets)]
        return {"format": FAMILY_FORMAT, "name": self.name, "prompts": prompts}


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _resolve(item: Any, tokenizer: Any, where: str) -> tuple[tuple[int, ...], int]:
    if not isinstance(item, dict):
        raise ProofError(f"{where} must be an object with `ids` or `text`, and `target`.")
    if set(item) == {"ids", "target"}:
        ids, target = item["ids"], item["target"]
        if not isinstance(ids, list) or not ids or not all(_is_id(v) for v in ids):
            raise ProofError(
                f"{where}: `ids` (={ids!r}) must be a non-empty list of token ids (integers >= 0)."
            )
        if not _is_id(target):
            raise ProofError(f"{where}: `target` (={target!r}) must be a token id (an integer >= 0).")
        return tuple(ids), target
    if set(item) == {"text", "target"}:
        text, target = item["text"], item["target"]
        if not isinstance(text, str) or not text or not isinstance(target, str) or not target:
            raise ProofError(f"{where}: `text` and `target` must be non-empty strings.")
        if tokenizer is None:
            raise ProofError(f"{where} is text: it needs the model's tokenizer (none was given or found).")
        ids = tokenizer(text, add_special_tokens=True)["input_ids"]
        target_ids = tokenizer(target, add_special_tokens=False)["input_ids"]
        if len(target_ids) != 1:
            raise ProofError(
                f"{where}: `target` (={target!r}) is {len(target_ids)} tokens {target_ids}; it must be one."
            )
        return tuple(int(v) for v in ids), int(target_ids[0])
    raise ProofError(
        f"{where} has the fields {sorted(item)}; it must have `ids` and `target`, or `text` and `target`."
    )


class NextTokenLogits(nn.Module):
    """A causal LM's logits for the token after each prompt: ``ids [B, T] -> [B, vocab]``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: Tensor) -> Tensor:
        # logits_to_keep=1: the unembedding of the last position only (transformers >= 4.50)
        return self.model(input_ids=ids, use_cache=False, logits_to_keep=1).logits[:, -1]


def _vocab_size(model: nn.Module) -> int:
    get = getattr(model, "get_output_embeddings", None)
    out = get() if callable(get) else None
    if out is None or not hasattr(out, "weight"):
        raise ProofError(f"`model` (a {type(model).__name__}) must be a causal LM with an output embedding.")
    return int(out.weight.shape[0])


def prove_prompts(
    model: nn.Module, family: PromptFamily, statement: Statement, *, batch_size: int = 256
) -> ProofResult:
    """Prove `statement` about the next token `model` (a causal LM in eval mode) gives after each
    prompt of `family`, exhaustively: prompts of one length go through one exported program, in
    batches; `failing` and `undecided` list prompts as token ids.

    >>> import transformers
    >>> from nerve.proofs import Correct
    >>> config = transformers.GPT2Config(vocab_size=11, n_positions=4, n_embd=8, n_layer=1, n_head=2)
    >>> model = transformers.GPT2LMHeadModel(config).eval()
    >>> family = PromptFamily("toy", ((1, 2), (3, 4, 5)), (3, 6))
    >>> r = prove_prompts(model, family, Correct())
    >>> r.n_inputs, r.n_hold + len(r.failing) + len(r.undecided)
    (2, 2)
    """
    if isinstance(statement, Robust):
        raise ProofError(f"`statement` ({statement!r}) is about boxes of embeddings; prompts are points.")
    if model.training:
        raise ProofError("`model` is in training mode (dropout is random): call model.eval() first.")
    vocab = _vocab_size(model)
    bad = [i for i, (p, t) in enumerate(zip(family.prompts, family.targets)) if t >= vocab or max(p) >= vocab]
    if bad:
        i = bad[0]
        raise ProofError(
            f"`family` prompt {i} (ids {list(family.prompts[i])}, target {family.targets[i]}) has a token id "
            f">= the model's vocabulary ({vocab})."
        )
    config = getattr(model, "config", None)
    longest = getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)
    too_long = [i for i, p in enumerate(family.prompts) if longest is not None and len(p) > longest]
    if too_long:
        i = too_long[0]
        raise ProofError(
            f"`family` prompt {i} has {len(family.prompts[i])} tokens, "
            f"more than the model's {longest} positions."
        )
    k = statement.k if isinstance(statement, TopK) else 1
    if k >= vocab:
        raise ProofError(f"`statement` k (={k}) must be below the vocabulary ({vocab}).")
    start = time.perf_counter()
    program = IntervalProgram(NextTokenLogits(model))
    lower = torch.empty(len(family), dtype=torch.float64)
    upper = torch.empty(len(family), dtype=torch.float64)
    flops = 0
    for length in family.lengths():
        rows = torch.tensor([i for i, p in enumerate(family.prompts) if len(p) == length])
        ids = torch.tensor([family.prompts[i] for i in rows.tolist()], dtype=torch.long)
        targets = torch.tensor([family.targets[i] for i in rows.tolist()], dtype=torch.long)
        for part in range(0, len(rows), batch_size):
            batch = slice(part, part + batch_size)
            program.export(ids[batch])  # outside the counter: the FLOPs are the proof's own
            with FlopCounterMode(display=False) as counter:
                logits: Interval = program(ids[batch])
            flops += int(counter.get_total_flops())
            lo, hi = margin_bounds(logits, targets[batch], k)
            lower[rows[batch]], upper[rows[batch]] = lo, hi
    inputs = _padded(family.prompts)
    result = result_from_margins(statement, inputs, lower, upper, flops=flops, start=start)
    return _unpadded(result)


def _padded(prompts: tuple[tuple[int, ...], ...]) -> Tensor:
    """Prompts as rows of one tensor, padded with −1 (removed again by :func:`_unpadded`)."""
    width = max(len(p) for p in prompts)
    return torch.tensor([list(p) + [-1] * (width - len(p)) for p in prompts], dtype=torch.long)


def _unpadded(result: ProofResult) -> ProofResult:
    strip = lambda rows: tuple(tuple(v for v in r if v >= 0) for r in rows)  # noqa: E731
    return ProofResult(
        **{**asdict(result), "failing": strip(result.failing), "undecided": strip(result.undecided)}
    )


@dataclass(frozen=True)
class LMCertificate:
    """A proof's record about a language model folder on a prompt family.

    `files` maps each file of the model folder the proof read (``config.json`` and every
    ``*.safetensors``) to its SHA-256; `prompts_sha256` is :meth:`PromptFamily.sha256` of the
    resolved prompts (ids and targets), `prompts` the family's name; `result.n_inputs` counts them.
    """

    format: str
    statement: dict[str, Any]
    statement_text: str
    about: str
    model: str
    files: dict[str, str]
    prompts: str
    prompts_sha256: str
    method: str
    nerve_version: str
    torch_version: str
    transformers_version: str
    result: ProofResult

    def to_json(self) -> str:
        return json.dumps(_encode(asdict(self)), indent=1, allow_nan=False)

    @classmethod
    def from_json(cls, text: str, *, source: str = "the certificate") -> LMCertificate:
        data = parse_certificate(text, _LM_CERTIFICATE, source)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in data["files"].items()):
            raise ProofError(f"{source}: field `files` must map file names to SHA-256 strings.")
        return cls(**data)


_LM_CERTIFICATE = {
    "format": "str", "statement": "object", "statement_text": "str", "about": "str", "model": "str",
    "files": "object", "prompts": "str", "prompts_sha256": "str", "method": "str", "nerve_version": "str",
    "torch_version": "str", "transformers_version": "str", "result": "object",
}  # fmt: skip


def model_files(folder: Path) -> dict[str, str]:
    """``config.json`` and every ``*.safetensors`` of `folder`, each with its SHA-256; a folder
    whose weights are only pickled (``.bin``, ``.pt``) is refused: nerve never unpickles."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise ProofError(
            f"`model_dir` ({folder}) has no config.json: it must be a Hugging Face model folder."
        )
    weights = sorted(folder.glob("*.safetensors"))
    if not weights:
        raise ProofError(
            f"`model_dir` ({folder}) has no *.safetensors weights (pickled .bin weights are never read)."
        )
    return {p.name: sha256_file(p) for p in [folder / "config.json", *weights]}


def load_lm(folder: str | Path, *, tokenizer: bool = False) -> tuple[nn.Module, Any]:
    """``(model, tokenizer or None)`` from a model folder, safetensors only, no remote code, float32
    in eval mode; the tokenizer is loaded when asked and present."""
    import transformers

    folder = Path(folder)
    model_files(folder)
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(
            folder, use_safetensors=True, trust_remote_code=False, local_files_only=True, dtype=torch.float32
        )
    except (OSError, ValueError) as err:
        raise ProofError(f"`model_dir` ({folder}) could not be loaded as a causal LM: {err}") from None
    tok = None
    if tokenizer:
        try:
            tok = transformers.AutoTokenizer.from_pretrained(
                folder, trust_remote_code=False, local_files_only=True
            )
        except (OSError, ValueError):
            tok = None
    return model.eval(), tok


def has_text_prompts(path: str | Path) -> bool:
    """Whether the family file at `path` has a prompt given as text (so the tokenizer is needed); a
    file that does not read is left to :meth:`PromptFamily.read` to refuse by name."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    items = data.get("prompts") if isinstance(data, dict) else None
    return isinstance(items, list) and any(isinstance(p, dict) and "text" in p for p in items)


def certify_prompts(model_dir: str | Path, family_path: str | Path, statement: Statement) -> LMCertificate:
    """Prove `statement` about the model in `model_dir` on the family in `family_path` and return
    its certificate (text prompts go through the folder's tokenizer)."""
    import transformers

    files = model_files(Path(model_dir))
    model, tokenizer = load_lm(model_dir, tokenizer=has_text_prompts(family_path))
    family = PromptFamily.read(family_path, tokenizer=tokenizer)
    result = prove_prompts(model, family, statement)
    if model_files(Path(model_dir)) != files:
        raise ProofError(f"`model_dir` ({model_dir}) changed while it was being proved; prove it again.")
    return LMCertificate(
        format=LM_FORMAT,
        statement=statement_dict(statement),
        statement_text=statement.text(f"the prompt family {family.name!r}"),
        about="the real-number network defined by the stored weights (float32 values are exact reals; "
        "every float operation exact, casts between float dtypes the identity), next token after each prompt",
        model=type(model).__name__,
        files=files,
        prompts=family.name,
        prompts_sha256=family.sha256(),
        method=LM_METHOD,
        nerve_version=__version__,
        torch_version=torch.__version__,
        transformers_version=transformers.__version__,
        result=result,
    )


def export_hf(run: Any, folder: str | Path, *, step: int | None = None) -> tuple[Path, Path]:
    """Write checkpoint `step` (default: the last) of a run of nerve's ``gpt2`` model as a Hugging
    Face model folder, with ``prompts.json``: every input of its finite task as a prompt (its
    tokens, then '='), the target as the token to follow. Returns the folder and the family file.
    """
    from nerve.models import GPT2Task

    step = run.checkpoints[-1] if step is None else step
    model = run.model_at(step)
    if not isinstance(model, GPT2Task):
        raise ProofError(
            f"`run` ({run.path}) trains a {type(model).__name__}; export_hf writes the gpt2 model's."
        )
    if not hasattr(run.task, "enumerate"):
        raise ProofError(f"`run` ({run.path}) trains on sampled inputs: its prompts are not a finite family.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    inputs, targets = run.task.enumerate()
    equals = model.config.n_vocab
    family = PromptFamily(
        f"{run.task.name} (step {step})",
        tuple((*(int(v) for v in x), equals) for x in inputs),
        tuple(int(t) for t in targets),
    )
    path = folder / "prompts.json"
    path.write_text(json.dumps(family.to_dict(), separators=(",", ":")) + "\n")
    return folder, path
