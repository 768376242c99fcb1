"""Certified claims about networks on finite tasks: statements as data, an exhaustive prover
sound in floating point, interval bounds, certificates, and an independent checker.

>>> from nerve.proofs import Accuracy, Correct, Margin
>>> Correct().kind, Accuracy(at_least=0.99).at_least
('correct', 0.99)
"""

from nerve.proofs.check import CheckReport, check
from nerve.proofs.compact import CompactProof, prove_compact
from nerve.proofs.interpreter import IntervalProgram
from nerve.proofs.intervals import Interval
from nerve.proofs.language import LMCertificate, PromptFamily, certify_prompts, prove_prompts
from nerve.proofs.prove import Certificate, ProofResult, certify, prove
from nerve.proofs.rho_sets import Idealisation, RhoSetProof, fit_rho_sets, prove_rho_sets
from nerve.proofs.statements import Accuracy, Correct, Margin, Robust, Statement, TopK

__all__ = [
    "Accuracy",
    "Certificate",
    "CheckReport",
    "CompactProof",
    "Correct",
    "Idealisation",
    "Interval",
    "IntervalProgram",
    "LMCertificate",
    "Margin",
    "PromptFamily",
    "ProofResult",
    "RhoSetProof",
    "Robust",
    "Statement",
    "TopK",
    "certify",
    "certify_prompts",
    "check",
    "fit_rho_sets",
    "prove",
    "prove_compact",
    "prove_prompts",
    "prove_rho_sets",
]
