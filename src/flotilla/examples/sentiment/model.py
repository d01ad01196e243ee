"""A small sentiment classifier: multinomial naive Bayes, trained at load() from data/train.tsv.

Pure Python (no numpy), so it runs on the interpreter the agent already has. Features are the
text's words and word pairs, counted once per text (binarized naive Bayes works better than raw
counts on short reviews), with negation marked: in "not worth the money" the words after "not"
become NOT_worth, NOT_the, NOT_money, up to the next punctuation mark or "but".

Inputs: a text, {"text": "..."}, or a list of either. Outputs: {"label": "positive" |
"negative", "score": p}, where p is the model's probability of that label; a list in gives a
list out, in order.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

from flotilla.runtime import InvalidInput, Model

LABELS = ("negative", "positive")
SMOOTHING = 1.0  # Laplace
MAX_BATCH = 1000
MAX_TEXT_CHARS = 20_000

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[.,;:!?]")
_NEGATORS = frozenset(
    {"not", "no", "never", "nothing", "nobody", "none", "nor", "neither", "without", "hardly",
     "barely", "cannot", "cant", "dont", "didnt", "doesnt", "isnt", "wasnt", "wont", "wouldnt",
     "couldnt", "shouldnt", "arent", "werent", "havent", "hasnt"}
)  # fmt: skip
_SCOPE_ENDS = frozenset({".", ",", ";", ":", "!", "?", "but"})


def features(text: str) -> set[str]:
    """The words and adjacent word pairs of ``text``, with negated words marked."""
    words: list[str] = []
    negated = False
    for token in _TOKEN.findall(text.lower().replace("\u2019", "'")):
        if token in _SCOPE_ENDS:
            negated = False
            words.append(token)
            continue
        if token in _NEGATORS or token.endswith("n't"):
            negated = True
            words.append("not")
            continue
        if token.endswith("'s"):
            token = token[:-2]
        words.append(f"NOT_{token}" if negated else token)
    feats = {w for w in words if w not in _SCOPE_ENDS}
    feats.update(f"{a} {b}" for a, b in itertools.pairwise(words))
    return feats


def read_examples(path: Path) -> list[tuple[str, str]]:
    """``label<TAB>text`` lines → ``[(label, text)]``; blank lines and ``#`` comments skipped."""
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        label, sep, text = line.partition("\t")
        if not sep or label not in LABELS:
            raise ValueError(f"{path.name} line {number}: expected 'positive|negative<TAB>text'")
        examples.append((label, text.strip()))
    return examples


class NaiveBayes:
    def __init__(self, examples: list[tuple[str, str]]) -> None:
        docs = Counter(label for label, _ in examples)
        counts = {label: Counter[str]() for label in LABELS}
        for label, text in examples:
            counts[label].update(features(text))
        vocabulary = set().union(*counts.values())
        self.log_prior = {label: math.log(docs[label] / len(examples)) for label in LABELS}
        self.log_likelihood: dict[str, dict[str, float]] = {}
        self.log_unseen: dict[str, float] = {}
        for label in LABELS:
            total = sum(counts[label].values()) + SMOOTHING * len(vocabulary)
            self.log_likelihood[label] = {
                feat: math.log((counts[label][feat] + SMOOTHING) / total) for feat in vocabulary
            }
            self.log_unseen[label] = math.log(SMOOTHING / total)
        self.vocabulary = vocabulary

    def classify(self, text: str) -> tuple[str, float]:
        """The likelier label and its probability."""
        known = features(text) & self.vocabulary  # words never seen in training say nothing
        scores = {
            label: self.log_prior[label] + sum(self.log_likelihood[label][f] for f in known)
            for label in LABELS
        }
        best = max(LABELS, key=scores.__getitem__)
        top = scores[best]
        probability = 1.0 / sum(math.exp(score - top) for score in scores.values())
        return best, probability


class Sentiment(Model):
    def load(self) -> None:
        self.classifier = NaiveBayes(read_examples(self.path / "data" / "train.tsv"))

    def predict(self, inputs: Any) -> Any:
        if isinstance(inputs, list):
            if len(inputs) > MAX_BATCH:
                raise InvalidInput(f"at most {MAX_BATCH} texts per request, not {len(inputs)}")
            return [self._one(item, f"inputs[{i}]") for i, item in enumerate(inputs)]
        return self._one(inputs, "inputs")

    def _one(self, item: Any, where: str) -> dict[str, Any]:
        text = item.get("text") if isinstance(item, dict) else item
        if not isinstance(text, str):
            raise InvalidInput(
                f'{where} must be a text or {{"text": "..."}}; a list of them for a batch'
            )
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidInput(f"{where} is over {MAX_TEXT_CHARS} characters")
        label, probability = self.classifier.classify(text)
        return {"label": label, "score": round(probability, 4)}
