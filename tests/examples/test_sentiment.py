"""The sentiment example: a real classifier, trained at load() from the data it ships."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from flotilla.runtime import InvalidInput, Model, load_model

PACKAGE = Path(__file__).resolve().parents[2] / "examples" / "sentiment"


@pytest.fixture(scope="module")
def module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sentiment_example", PACKAGE / "model.py")
    assert spec is not None
    assert spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = loaded
    spec.loader.exec_module(loaded)
    return loaded


@pytest.fixture(scope="module")
def model() -> Model:
    return load_model(PACKAGE, "model.py:Sentiment")


def test_the_data_is_large_balanced_and_held_out(module: ModuleType) -> None:
    train = module.read_examples(PACKAGE / "data" / "train.tsv")
    test = module.read_examples(PACKAGE / "data" / "test.tsv")
    assert len(train) >= 300
    assert len(test) >= 60
    for examples in (train, test):
        counts = {
            label: sum(1 for lbl, _ in examples if lbl == label)
            for label in ("positive", "negative")
        }
        assert counts["positive"] == counts["negative"]
    assert len({text for _, text in train}) == len(train)  # no duplicates
    assert not {text.lower() for _, text in train} & {text.lower() for _, text in test}


def test_accuracy_on_the_held_out_set_is_at_least_80_percent(
    model: Model, module: ModuleType
) -> None:
    test = module.read_examples(PACKAGE / "data" / "test.tsv")
    outputs = model.predict([text for _, text in test])
    correct = sum(
        output["label"] == label for output, (label, _) in zip(outputs, test, strict=True)
    )
    assert correct / len(test) >= 0.8


def test_input_shapes(model: Model) -> None:
    one = model.predict({"text": "Absolutely love it, great quality"})
    assert one["label"] == "positive"
    assert 0.5 <= one["score"] <= 1.0
    assert model.predict("Cheap, flimsy and it broke in a day")["label"] == "negative"
    batch = model.predict(["A wonderful movie", {"text": "Awful, a waste of money"}])
    assert [o["label"] for o in batch] == ["positive", "negative"]
    assert model.predict([]) == []


def test_negation_is_understood(model: Model) -> None:
    assert model.predict("It is not good at all")["label"] == "negative"
    assert model.predict("I would not recommend this to anyone")["label"] == "negative"


@pytest.mark.parametrize("inputs", [42, None, {"txt": "typo"}, ["fine", 3], {"text": ["a"]}])
def test_wrong_inputs_say_what_to_send(model: Model, inputs: object) -> None:
    with pytest.raises(InvalidInput, match=r"must be a text or \{\"text\""):
        model.predict(inputs)
