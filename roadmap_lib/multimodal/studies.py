"""The recorded benchmark: the chapter's one-seed comparisons repeated over seeds
(``python -m roadmap_lib.multimodal benchmark``)."""

from __future__ import annotations

import torch

from ..benchmark import Benchmark
from ..data import digits_split
from ..runtime import num_threads, seed_everything
from .fusion import FUSIONS, QUESTION_TYPES, VQAConfig, question_vocab, train_vqa, vqa_predict, vqa_questions
from .selfsup import SSLConfig, few_labels, linear_probe, simclr_pretrain, tower_features, train_supervised


def _repeat(config: dict) -> dict:
    """Fusion comparison over ``seeds`` and label efficiency (SimCLR probe vs from scratch) over
    ``labels_per_class`` × ``label_draws`` for each pre-training seed, on one thread like the chapter."""
    with num_threads(1):
        return _run_repeat(config)


def _run_repeat(config: dict) -> dict:
    x_train, x_test, y_train, y_test = digits_split()
    qvocab = question_vocab()
    vqa_train, vqa_test = vqa_questions(y_train, seed=0), vqa_questions(y_test, seed=1)
    fusion: dict[str, dict[str, list[float]]] = {name: {t: [] for t in ("all", *QUESTION_TYPES)} for name in FUSIONS}
    for seed in config["seeds"]:
        for name in FUSIONS:
            seed_everything(seed)
            model, _ = train_vqa(name, x_train, vqa_train, qvocab, VQAConfig(steps=config["vqa_steps"], seed=seed))
            correct = vqa_predict(model, x_test, vqa_test, qvocab) == vqa_test.answers
            fusion[name]["all"].append(float(correct.mean()))
            for i, t in enumerate(QUESTION_TYPES):
                fusion[name][t].append(float(correct[vqa_test.qtype == i].mean()))
    methods = ("SimCLR probe", "from scratch, same augmentations", "from scratch, no augmentation")
    ssl: dict[str, dict[str, list[float]]] = {m: {str(k): [] for k in config["labels_per_class"]} for m in methods}
    x_test_t = torch.as_tensor(x_test)
    for seed in config["seeds"]:
        seed_everything(seed)
        tower, _ = simclr_pretrain(x_train, SSLConfig(steps=config["ssl_steps"], seed=seed))
        features_train, features_test = tower_features(tower, x_train), tower_features(tower, x_test)
        for per_class in config["labels_per_class"]:
            for draw in range(config["label_draws"]):
                idx = few_labels(y_train, per_class, seed=100 * seed + draw)
                ssl["SimCLR probe"][str(per_class)].append(linear_probe(features_train[idx], y_train[idx], features_test, y_test))
                for aug, method in ((True, methods[1]), (False, methods[2])):
                    model = train_supervised(x_train[idx], y_train[idx], SSLConfig(seed=seed), augmented=aug,
                                             steps=config["supervised_steps"])
                    with torch.no_grad():
                        pred = model.head(model.tower(x_test_t)[1]).argmax(1).numpy()
                    ssl[method][str(per_class)].append(float((pred == y_test).mean()))
    return {"fusion": fusion, "ssl": ssl}


BENCHMARKS = [Benchmark(
    "multimodal_repeat", _repeat,
    config={"seeds": [0, 1, 2], "vqa_steps": 600, "ssl_steps": 400, "supervised_steps": 300,
            "labels_per_class": [1, 5, 10, 20], "label_draws": 2},
    smoke_config={"seeds": [0], "vqa_steps": 5, "ssl_steps": 3, "supervised_steps": 3,
                  "labels_per_class": [1], "label_draws": 1},
    packages=("scikit-learn",),
)]
