"""Part I.2: the triple store, TransE, ranking metrics, the GCN, label propagation and grounded QA."""

import copy

import networkx as nx
import pytest
import torch
from networkx.algorithms import node_classification

from roadmap_lib import diagrams, knowledge as K

TRAIN = [("a", "likes", "b"), ("b", "likes", "c"), ("c", "knows", "a")]


# --------------------------------------------------------------------------------------------------
# Triple store and bad input
# --------------------------------------------------------------------------------------------------
def test_roadmap_triples_cover_every_diagram_edge():
    triples = K.roadmap_triples()
    assert len(triples) == sum(d.graph.number_of_edges() for d in diagrams.article_diagrams())
    assert {r for _, r, _ in triples} == {K.HAS_PART}
    assert ("知识增强技术", K.HAS_PART, "知识图谱集成") in triples
    assert ("知识图谱集成", K.HAS_PART, "图神经网络") in triples


def test_benchmark_graphs_have_their_published_sizes():
    nations, umls = K.load_kg("nations"), K.load_kg("umls")
    assert nations.summary() == {"entities": 14, "relations": 55, "train": 1592, "valid": 199, "test": 201}
    assert umls.summary() == {"entities": 135, "relations": 46, "train": 5216, "valid": 652, "test": 661}
    assert nations.decode(nations.triples("test")[:1]) == [("poland", "ngoorgs3", "ussr")]


def test_mismatched_splits_name_the_unknown_entity_and_relation():
    with pytest.raises(ValueError, match=r"mismatched splits: test\[0\].*tail 'zed'"):
        K.KnowledgeGraph.from_splits("g", {"train": TRAIN, "test": [("a", "likes", "zed")]})
    with pytest.raises(ValueError, match=r"mismatched splits: valid\[1\].*relation 'hates'"):
        K.KnowledgeGraph.from_splits("g", {"train": TRAIN, "valid": [("a", "knows", "c"), ("a", "hates", "b")]})
    with pytest.raises(ValueError, match="mismatched splits"):  # a UMLS test split against Nations' training
        K.KnowledgeGraph.from_splits("g", {"train": K.kg_triples("nations", "train"),
                                           "test": K.kg_triples("umls", "test")})


def test_leaking_and_malformed_splits_are_rejected():
    with pytest.raises(ValueError, match=r"leaking splits: test\[0\]"):
        K.KnowledgeGraph.from_splits("g", {"train": TRAIN, "test": [TRAIN[1]]})
    with pytest.raises(ValueError, match="must contain 'train'"):
        K.KnowledgeGraph.from_splits("g", {"test": TRAIN})
    with pytest.raises(ValueError, match="split name"):
        K.KnowledgeGraph.from_splits("g", {"train": TRAIN, "dev": TRAIN})
    with pytest.raises(ValueError, match=r"splits\['train'\]\[1\] must be a \(head, relation, tail\)"):
        K.KnowledgeGraph.from_splits("g", {"train": [TRAIN[0], ("a", "b")]})
    with pytest.raises(ValueError, match="three non-empty strings"):
        K.KnowledgeGraph.from_splits("g", {"train": [("a", "", "b")]})
    with pytest.raises(ValueError, match=r"splits\['test'\] must not be empty"):
        K.KnowledgeGraph.from_splits("g", {"train": TRAIN, "test": []})


def test_triple_files_empty_or_malformed_fail_with_their_name(tmp_path):
    good, empty, broken = tmp_path / "train.txt", tmp_path / "empty.txt", tmp_path / "broken.txt"
    good.write_text("a\tlikes\tb\nb\tlikes\tc\n")
    empty.write_text("\n\n")
    broken.write_text("a\tlikes\tb\na likes c\n")
    assert K.KnowledgeGraph.from_files("g", {"train": good}).summary()["train"] == 2
    with pytest.raises(ValueError, match="holds no triples"):
        K.KnowledgeGraph.from_files("g", {"train": empty})
    with pytest.raises(ValueError, match=r"broken.txt:2: expected 'head<TAB>relation<TAB>tail'"):
        K.KnowledgeGraph.from_files("g", {"train": broken})
    with pytest.raises(FileNotFoundError):
        K.KnowledgeGraph.from_files("g", {"train": tmp_path / "missing.txt"})


def test_ids_out_of_range_are_named():
    kg = K.KnowledgeGraph.from_splits("g", {"train": TRAIN})
    model = K.TransE(kg.num_entities, kg.num_relations, dim=4)
    with pytest.raises(ValueError, match=r"heads holds id 3, outside \[0, 2\]"):
        model(torch.tensor([3]), torch.tensor([0]), torch.tensor([1]))
    with pytest.raises(ValueError, match=r"relations holds id -1"):
        model.score_tails(torch.tensor([0]), torch.tensor([-1]))
    with pytest.raises(TypeError, match="tails must be an integer"):
        model.score_heads(torch.tensor([0]), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="one shape"):
        model(torch.tensor([0, 1]), torch.tensor([0]), torch.tensor([1]))
    with pytest.raises(ValueError, match=r"triples tails holds id 9"):
        kg.decode(torch.tensor([[0, 0, 9]]))
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        kg.decode(torch.tensor([0, 0, 1]))
    with pytest.raises(ValueError, match="model was built for"):
        K.evaluate_link_prediction(K.TransE(5, 2), kg, "train")


# --------------------------------------------------------------------------------------------------
# TransE and ranking metrics
# --------------------------------------------------------------------------------------------------
def test_bulk_scores_equal_one_by_one_scores():
    torch.manual_seed(0)
    for p_norm in (1, 2):
        model = K.TransE(6, 3, dim=5, p_norm=p_norm)
        heads, relations, tails = torch.tensor([0, 4]), torch.tensor([2, 1]), torch.tensor([5, 0])
        every = torch.arange(6)
        for i in range(2):
            by_tail = model(heads[i].repeat(6), relations[i].repeat(6), every)
            by_head = model(every, relations[i].repeat(6), tails[i].repeat(6))
            torch.testing.assert_close(model.score_tails(heads, relations)[i], by_tail)
            torch.testing.assert_close(model.score_heads(relations, tails)[i], by_head)


def test_higher_score_means_more_plausible():
    model = K.TransE(3, 1, dim=2)
    with torch.no_grad():
        model.entity.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
        model.relation.weight.copy_(torch.tensor([[1.0, 0.0]]))
    scores = model(torch.tensor([0, 0]), torch.tensor([0, 0]), torch.tensor([1, 2]))
    assert scores[0] == 0 and scores[1] == -2  # exact translation beats a miss by its L1 distance


def test_realistic_ranks_on_hand_computed_cases():
    scores = torch.tensor([[3.0, 1.0, 2.0, 2.0], [0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0]])
    targets = torch.tensor([2, 0, 3])
    # row 0: one better (3), tied with one other (2, 2) -> positions 2 and 3 -> 2.5
    # row 1: all tied -> positions 1..4 -> 2.5 (an optimistic rank would call this constant scorer perfect)
    # row 2: best -> 1
    assert K.realistic_ranks(scores, targets).tolist() == [2.5, 2.5, 1.0]
    exclude = torch.tensor([[True, False, False, False], [False, True, True, False], [False] * 4])
    assert K.realistic_ranks(scores, targets, exclude).tolist() == [1.5, 1.5, 1.0]
    never_target = torch.tensor([[False, False, True, False]] + [[False] * 4] * 2)
    assert K.realistic_ranks(scores, targets, never_target)[0] == 2.5  # the target itself is never excluded
    with pytest.raises(ValueError, match=r"targets holds id 4"):
        K.realistic_ranks(scores, torch.tensor([4, 0, 0]))
    with pytest.raises(ValueError, match="NaN"):
        K.realistic_ranks(torch.tensor([[float("nan"), 1.0]]), torch.tensor([0]))


def test_rank_metrics_on_hand_computed_ranks():
    metrics = K.rank_metrics(torch.tensor([1.0, 2.0, 4.0]), 5)
    assert metrics["MRR"] == pytest.approx((1 + 1 / 2 + 1 / 4) / 3)
    assert metrics["Hits@1"] == pytest.approx(1 / 3)
    assert metrics["Hits@3"] == pytest.approx(2 / 3)
    assert metrics["Hits@10"] == 1.0
    assert metrics["MR"] == pytest.approx(7 / 3)
    assert metrics["AMRI"] == pytest.approx(1 - (7 / 3 - 1) / (3 - 1))  # E[MR] = (5 + 1) / 2 = 3
    with pytest.raises(ValueError, match="ranks must lie in"):
        K.rank_metrics(torch.tensor([6.0]), 5)
    with pytest.raises(ValueError, match="must not be empty"):
        K.rank_metrics(torch.tensor([]), 5)


def test_random_metrics_are_the_expectation_of_random_ranks():
    generator = torch.Generator().manual_seed(0)
    candidates = torch.tensor([3, 7, 14] * 20_000)
    ranks = (torch.rand(len(candidates), generator=generator) * candidates).floor() + 1
    sampled, exact = K.rank_metrics(ranks, candidates), K.random_metrics(candidates)
    for name in ("MRR", "Hits@1", "Hits@3", "Hits@10", "MR"):
        assert sampled[name] == pytest.approx(exact[name], rel=0.02)
    assert abs(sampled["AMRI"]) < 0.02 and exact["AMRI"] == 0.0
    assert K.random_metrics(1)["MRR"] == 1.0
    assert K.random_metrics(4)["MRR"] == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)


def test_raw_and_filtered_differ_on_the_toy_graph_exactly_as_computed_by_hand():
    kg, model = K.toy_city_graph()
    raw, candidates = K.link_prediction_ranks(model.score_tails, model.score_heads, kg.triples("test"),
                                              kg.num_entities, kg.num_relations)
    assert raw.tolist() == [3.0, 2.0, 1.0, 1.0]  # Nice behind Paris and Lyon; Munich behind Berlin
    assert candidates.tolist() == [7, 7, 7, 7]
    filtered, candidates = K.link_prediction_ranks(model.score_tails, model.score_heads, kg.triples("test"),
                                                   kg.num_entities, kg.num_relations, known=kg.all_triples())
    assert filtered.tolist() == [1.0, 1.0, 1.0, 1.0]
    assert candidates.tolist() == [5, 6, 7, 7]  # Paris and Lyon, then Berlin, taken out of the running
    results = K.evaluate_link_prediction(model, kg)
    assert results["raw"]["MRR"] == pytest.approx((1 / 3 + 1 / 2 + 1 + 1) / 4)
    assert results["filtered"]["MRR"] == 1.0 and results["filtered"]["AMRI"] == 1.0
    assert results["raw"]["AMRI"] == pytest.approx(1 - (1.75 - 1) / (4 - 1))


def test_corrupt_replaces_exactly_one_end_and_keeps_the_relation():
    triples = torch.tensor([[0, 1, 2], [3, 0, 4]])
    negatives = K.corrupt(triples, 50, 64, torch.Generator().manual_seed(0))
    assert negatives.shape == (2, 64, 3)
    assert (negatives[..., 1] == triples[:, None, 1]).all()
    same_head = negatives[..., 0] == triples[:, None, 0]
    same_tail = negatives[..., 2] == triples[:, None, 2]
    assert (same_head | same_tail).all()
    assert 0.3 < (~same_head).float().mean() < 0.7  # heads and tails corrupted about equally often
    with pytest.raises(ValueError, match="triples heads holds id 3"):
        K.corrupt(triples, 3, 4, torch.Generator())


def test_config_rejects_bad_hyper_parameters():
    with pytest.raises(ValueError, match="margin"):
        K.TransEConfig(margin=0.0)
    with pytest.raises(ValueError, match="p_norm"):
        K.TransEConfig(p_norm=3)
    with pytest.raises(TypeError, match="dim"):
        K.TransEConfig(dim=2.5)


@pytest.fixture(scope="module")
def nations():
    return K.load_kg("nations")


@pytest.fixture(scope="module")
def short_nations_run(nations):
    config = K.TransEConfig(**{**K._settings(K.NATIONS_CONFIG), "max_epochs": 30, "eval_every": 10})
    return K.train_transe(nations, config, show_progress=False)


def test_short_transe_run_beats_the_random_scorer_by_a_wide_margin(nations, short_nations_run):
    results = K.evaluate_link_prediction(short_nations_run.model, nations)
    filtered, chance = results["filtered"], results["random (filtered)"]
    assert filtered["AMRI"] > 0.25  # chance is 0
    assert filtered["MR"] < 0.75 * chance["MR"]
    assert filtered["Hits@1"] > 1.5 * chance["Hits@1"]
    assert results["raw"]["MRR"] < filtered["MRR"]  # raw ranking always looks worse on a dense graph


def test_training_is_deterministic_and_keeps_entities_on_the_unit_sphere(nations, short_nations_run):
    norms = short_nations_run.model.entity.weight.norm(dim=1)
    torch.testing.assert_close(norms, torch.ones_like(norms))
    again = K.train_transe(nations, short_nations_run.config, show_progress=False)
    torch.testing.assert_close(again.model.entity.weight, short_nations_run.model.entity.weight)
    assert [h["epoch"] for h in short_nations_run.history] == [10, 20, 30]


def test_without_the_norm_constraint_entity_norms_grow(nations):
    config = K.TransEConfig(**{**K._settings(K.NATIONS_CONFIG), "max_epochs": 20, "eval_every": 20,
                               "normalize_entities": False})
    trained = K.train_transe(nations, config, show_progress=False)
    assert trained.history[-1]["entity_norm"] > 1.1


def test_train_transe_needs_a_validation_split():
    kg, _ = K.toy_city_graph()
    with pytest.raises(ValueError, match="no 'valid' split"):
        K.train_transe(kg, show_progress=False)


def test_summarise_runs_means_and_deviations():
    runs = [{"dataset": "d", "metrics": {"filtered": {"MRR": v}}} for v in (0.4, 0.6)]
    assert K.summarise_runs(runs) == {"d": {"MRR": (pytest.approx(0.5), pytest.approx(0.1))}}


# --------------------------------------------------------------------------------------------------
# GCN and label propagation
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def karate():
    return K.karate_club()


def test_normalized_adjacency_equals_networkx(karate):
    graph, _, _ = karate
    with_loops = nx.Graph(graph)
    with_loops.add_edges_from((n, n) for n in graph)
    laplacian = nx.normalized_laplacian_matrix(with_loops, nodelist=sorted(graph)).toarray()
    expected = torch.eye(34, dtype=torch.float64) - torch.tensor(laplacian)
    torch.testing.assert_close(K.normalized_adjacency(graph).double(), expected, atol=1e-6, rtol=0)


def test_gcn_beats_the_same_network_without_the_graph(karate):
    graph, labels, _ = karate
    features, leaders = torch.eye(34), torch.tensor([0, 33])
    unlabelled = torch.ones(34, dtype=torch.bool)
    unlabelled[leaders] = False
    accuracy = {}
    for name, propagation in (("gcn", K.normalized_adjacency(graph)), ("mlp", torch.eye(34))):
        torch.manual_seed(0)
        model = K.GCN(34, 16, 2)
        losses = K.train_node_classifier(model, features, propagation, labels, leaders)
        assert losses[-1] < losses[0]
        predicted = model(features, propagation).argmax(1)
        accuracy[name] = (predicted[unlabelled] == labels[unlabelled]).float().mean().item()
    assert accuracy["gcn"] >= 0.9
    assert accuracy["mlp"] <= 0.7  # one-hot features carry no information about unlabelled nodes


def test_label_propagation_equals_networkx_harmonic_function(karate):
    graph, labels, _ = karate
    for labelled in (torch.tensor([0, 33]), torch.tensor([1, 5, 30, 32])):
        marked = graph.copy()
        for node in labelled.tolist():
            marked.nodes[node]["label"] = int(labels[node])
        expected = node_classification.harmonic_function(marked, max_iter=30)
        assert K.label_propagation(graph, labels, labelled, max_iter=30).tolist() == expected


def test_graph_learning_rejects_bad_input(karate):
    graph, labels, _ = karate
    with pytest.raises(ValueError, match=r"labelled holds id 34"):
        K.label_propagation(graph, labels, torch.tensor([0, 34]))
    with pytest.raises(ValueError, match="distinct"):
        K.label_propagation(graph, labels, torch.tensor([0, 0]))
    with pytest.raises(ValueError, match="one per node"):
        K.label_propagation(graph, labels[:10], torch.tensor([0]))
    with pytest.raises(ValueError, match="undirected"):
        K.normalized_adjacency(nx.DiGraph([(0, 1)]))
    with pytest.raises(ValueError, match="integers 0..n-1"):
        K.normalized_adjacency(nx.Graph([("a", "b")]))
    model = K.GCN(34, 4, 2)
    with pytest.raises(ValueError, match=r"propagation must be \(34, 34\)"):
        model(torch.eye(34), torch.eye(3))
    with pytest.raises(ValueError, match=r"features must be \(nodes, 34\)"):
        model(torch.eye(5), torch.eye(5))
    with pytest.raises(ValueError, match="dropout"):
        K.GCN(34, 4, 2, dropout=1.0)


# --------------------------------------------------------------------------------------------------
# Knowledge-grounded question answering
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def umls():
    return K.load_kg("umls")


def test_questions_come_from_test_triples_and_know_every_answer(umls):
    questions = K.build_questions(umls)
    train = set(umls.decode(umls.triples("train")))
    assert len({(q.side, q.entity, q.relation) for q in questions}) == len(questions)
    for q in questions:
        h, r, t = q.source
        assert (h if q.side == "tail" else t) == q.entity and r == q.relation
        assert (t if q.side == "tail" else h) in q.answers
        assert q.source not in train  # built from held-out facts only
    first = questions[0]
    assert first.text == "What does steroid interact with?" and "eicosanoid" in first.answers
    with pytest.raises(ValueError, match="relation"):
        K.build_questions(umls, relations=["owns"])


def test_answer_grading(umls):
    questions = K.build_questions(umls, relations=["treats"])
    q = questions[0]
    right, wrong = sorted(q.answers)[0], next(e for e in umls.entities if e not in q.answers)
    others = [None] * (len(questions) - 1)  # None is an abstention: never correct
    assert K.accuracy([right] + others, questions) == pytest.approx(1 / len(questions))
    assert K.accuracy([wrong] + others, questions) == 0.0
    assert K.mentions_answer(f"I think {K.readable(right).upper()}, surely.", q)
    assert not K.mentions_answer("To be, or not to be", q)
    with pytest.raises(ValueError, match="answers for"):
        K.accuracy([right], questions + questions)


def test_prior_and_transe_answer_every_question(umls):
    questions = K.build_questions(umls, relations=["treats", "precedes"])
    prior = K.most_frequent_answers(umls, questions)
    assert len(set(prior)) <= 4  # one answer per (relation, side), whatever the subject
    model = K.TransE(umls.num_entities, umls.num_relations, dim=8)
    answers = K.transe_answers(model, umls, questions)
    assert len(answers) == len(questions) and set(answers) <= set(umls.entities)


def test_answerers_reject_questions_and_models_from_another_graph(umls):
    nations = K.load_kg("nations")
    nations_questions = [K.Question("What does usa treat?", "usa", "treats", "tail", frozenset({"uk"}), ("usa", "treats", "uk"))]
    with pytest.raises(ValueError, match=r"questions\[0\].*'umls'"):
        K.most_frequent_answers(umls, nations_questions)
    umls_questions = K.build_questions(umls, relations=["treats"])
    with pytest.raises(ValueError, match="model was built for 14 entities"):
        K.transe_answers(K.TransE(nations.num_entities, nations.num_relations, dim=8), umls, umls_questions)
    with pytest.raises(TypeError, match=r"questions\[0\]"):
        K.transe_answers(K.TransE(umls.num_entities, umls.num_relations, dim=8), umls, ["What treats a fungus?"])


def test_verbalise_uses_the_templates():
    assert K.verbalise(("antibiotic", "treats", "disease_or_syndrome")) == "antibiotic treats disease or syndrome."
    assert K.verbalise(("a", "part_of", "b")) == "a part of b."
    with pytest.raises(ValueError, match="triple"):
        K.verbalise(("a", "b"))


@pytest.fixture(scope="module")
def encoder():
    from roadmap_lib import nlp

    return nlp.load_encoder()


def test_retriever_finds_the_fact_and_checks_it(encoder):
    tokenizer, model = encoder
    facts = [("antibiotic", "treats", "disease_or_syndrome"), ("virus", "causes", "disease_or_syndrome"),
             ("antibiotic", "isa", "pharmacologic_substance"), ("fungus", "isa", "organism")]
    retriever = K.FactRetriever(facts, tokenizer, model)
    question = K.Question("What does antibiotic treat?", "antibiotic", "treats", "tail",
                          frozenset({"disease_or_syndrome"}), facts[0])
    entities, sentences, similarity = retriever.answer([question])
    assert entities == ["disease_or_syndrome"] and sentences[0].endswith("[fact #0]")
    assert 0.5 < similarity[0] <= 1.0 + 1e-6
    # asked the other way round, the nearest fact is the same sentence: checking catches it
    reverse = K.Question("What treats disease or syndrome?", "disease_or_syndrome", "treats", "head",
                         frozenset({"antibiotic"}), facts[0])
    assert retriever.answer([reverse], k=4, check=True)[0] == ["antibiotic"]
    unanswerable = K.Question("What does fungus treat?", "fungus", "treats", "tail", frozenset({"x"}), facts[0])
    assert retriever.answer([unanswerable], k=4, check=True)[0] == [None]
    with pytest.raises(ValueError, match="k must be <= 4"):
        retriever.retrieve(["x"], k=5)


def test_lm_answers_are_deterministic_and_checked():
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["<|endoftext|>", "Question", ":", "What", "does", "a", "treat", "?", "Answer", "Fact", "."]
    raw = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<|endoftext|>"))
    raw.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = GPT2TokenizerFast(tokenizer_object=raw, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(words), n_layer=1, n_embd=8, n_head=2, n_positions=32)).eval()
    question = K.Question("What does a treat ?", "a", "treats", "tail", frozenset({"b"}), ("a", "treats", "b"))
    first = K.lm_answers(model, tokenizer, [question], max_new_tokens=3)
    assert first == K.lm_answers(model, tokenizer, [question], max_new_tokens=3) and isinstance(first[0], str)
    with pytest.raises(ValueError, match="facts has 2 entries"):
        K.lm_answers(model, tokenizer, [question], facts=["a", "b"])


def test_results_frame_orders_settings_beside_their_chance_level():
    kg, model = K.toy_city_graph()
    frame = K.results_frame(K.evaluate_link_prediction(model, kg))
    assert list(frame.index) == ["raw", "random (raw)", "filtered", "random (filtered)"]
    assert frame.loc["raw", "MRR"] == 0.708 and frame.loc["filtered", "AMRI"] == 1.0
    with pytest.raises(ValueError, match="raw"):
        K.results_frame({"other": {}})


def test_sample_labelled_draws_distinct_nodes_of_every_class(karate):
    _, labels, _ = karate
    chosen = K.sample_labelled(labels, 2, torch.Generator().manual_seed(0))
    assert labels[chosen].tolist() == [0, 0, 1, 1] and len(set(chosen.tolist())) == 4
    with pytest.raises(ValueError, match="fewer than per_class"):
        K.sample_labelled(labels, 20, torch.Generator())


def test_answer_triple_puts_the_answer_on_the_asked_side():
    tail = K.Question("What does a treat?", "a", "treats", "tail", frozenset({"b"}), ("a", "treats", "b"))
    head = K.Question("What treats b?", "b", "treats", "head", frozenset({"a"}), ("a", "treats", "b"))
    assert K.answer_triple(tail, "c") == ("a", "treats", "c")
    assert K.answer_triple(head, "c") == ("c", "treats", "b")


# --------------------------------------------------------------------------------------------------
# Bad input: every check fires, names the argument, and fires before any training
# --------------------------------------------------------------------------------------------------
ISA = [("a", "isa", "b"), ("b", "isa", "c")]
QUESTION = K.Question("What does a treat?", "a", "treats", "tail", frozenset({"b"}), ("a", "treats", "b"))


def _flat_scores(first: torch.Tensor, _second: torch.Tensor, width: int = 3) -> torch.Tensor:
    """A scorer for a 3-entity graph (or, with another ``width``, for the wrong graph)."""
    return torch.zeros(len(first), width)


def _ranks(score_tails=_flat_scores, score_heads=_flat_scores, triples=torch.tensor([[0, 0, 1]]), **kwargs):
    return K.link_prediction_ranks(score_tails, score_heads, triples, 3, 2, **kwargs)


def _train_tiny(**overrides):
    """Three nodes, two classes: every argument valid unless overridden."""
    arguments = {"model": K.GCN(3, 2, 2), "features": torch.eye(3), "propagation": torch.eye(3),
                 "labels": torch.tensor([0, 1, 0]), "labelled": torch.tensor([0, 1])}
    arguments.update(overrides)
    keywords = {k: arguments.pop(k) for k in ("epochs", "lr", "weight_decay", "seed") if k in arguments}
    return K.train_node_classifier(*arguments.values(), **keywords)


def _compare_tiny(**overrides):
    arguments = {"graph": nx.path_graph(3), "labels": torch.tensor([0, 1, 0]), "labelled": torch.tensor([0, 1])}
    arguments.update(overrides)
    keywords = {k: arguments.pop(k) for k in ("hidden", "seed") if k in arguments}
    return K.compare_node_classifiers(*arguments.values(), **keywords)


def _benchmark_config(**overrides):
    """The shipped smoke config with some entries replaced (a deep copy: the original stays intact)."""
    return {**copy.deepcopy(K.BENCHMARKS[0].smoke_config), **overrides}


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: K.load_kg("wordnet"), ValueError, "name must be one of"),
        (lambda: K.isa_groups("umls", ["event"]), TypeError, "kg must be"),
        (lambda: K.isa_groups(K.KnowledgeGraph.from_splits("g", {"train": ISA}), "event"), TypeError, "groups must be"),
        (lambda: K.isa_groups(K.KnowledgeGraph.from_splits("g", {"train": ISA}), []), ValueError, "groups must not"),
        (lambda: K.isa_groups(K.KnowledgeGraph.from_splits("g", {"train": TRAIN}), ["a"]), ValueError,
         "kg 'g' has no 'isa' relation"),
        (lambda: K.check_triples([[0, 0, 1]], 3, 2, "facts"), TypeError, "facts must be Tensor"),
        (lambda: K.check_triples(torch.tensor([[0, 1]]), 3, 2), ValueError, r"triples must have shape \(n, 3\)"),
        (lambda: K.check_triples(torch.tensor([[3, 0, 1]]), 3, 2), ValueError, "triples heads holds id 3"),
        (lambda: K.check_triples(torch.tensor([[0, 2, 1]]), 3, 2), ValueError, "triples relations holds id 2"),
        (lambda: K.check_triples(torch.tensor([[0.0, 0.0, 1.0]]), 3, 2), TypeError, "triples heads must be an integer"),
        (lambda: K.check_triples(torch.tensor([[0, 0, 1]]), 0, 2), ValueError, "num_entities must be >= 1"),
        (lambda: K.check_triples(torch.tensor([[0, 0, 1]]), 3, "2"), TypeError, "num_relations must be an int"),
        (lambda: K.random_metrics(0), ValueError, "num_candidates must be >= 1"),
        (lambda: K.random_metrics(torch.tensor([], dtype=torch.long)), ValueError, "num_candidates must not be empty"),
        (lambda: K.random_metrics(torch.tensor([2.5])), TypeError, "num_candidates must be an integer tensor"),
        (lambda: K.random_metrics("7"), TypeError, "num_candidates must be an int"),
        (lambda: _ranks(score_tails=None), TypeError, "score_tails must be callable"),
        (lambda: _ranks(score_heads="model"), TypeError, "score_heads must be callable"),
        (lambda: _ranks(triples=torch.tensor([[0, 0, 5]])), ValueError, "triples tails holds id 5"),
        (lambda: _ranks(known=torch.tensor([[0, 9, 0]])), ValueError, "known relations holds id 9"),
        (lambda: _ranks(batch_size=0), ValueError, "batch_size must be >= 1"),
        (lambda: _ranks(score_tails=lambda h, r: _flat_scores(h, r, width=4)), ValueError,
         r"score_tails must return \(batch, num_entities\) = \(1, 3\)"),
        (lambda: _ranks(score_heads=lambda r, t: _flat_scores(r, t, width=2)), ValueError, "score_heads must return"),
        (lambda: _ranks(score_tails=lambda h, r: [[0.0, 0.0, 0.0]]), TypeError, "score_tails' result must be Tensor"),
        (lambda: K.validation_mrr(K.TransE(5, 2), K.KnowledgeGraph.from_splits("g", {"train": TRAIN}), "train"),
         ValueError, "model was built for 5 entities"),
        (lambda: K.validation_mrr(None, K.KnowledgeGraph.from_splits("g", {"train": TRAIN})), TypeError,
         "model must be"),
        (lambda: K.validation_mrr(K.TransE(3, 2), "g"), TypeError, "kg must be"),
        (lambda: K.validation_mrr(K.TransE(3, 2), K.KnowledgeGraph.from_splits("g", {"train": TRAIN})), ValueError,
         "split must be one of"),
        (lambda: K.adjacency([(0, 1)]), TypeError, "graph must be Graph"),
        (lambda: K.adjacency(nx.Graph()), ValueError, "graph has no nodes"),
        (lambda: K.adjacency(nx.DiGraph([(0, 1)])), ValueError, "graph must be undirected"),
        (lambda: K.adjacency(nx.Graph([(1, 2)])), ValueError, "graph nodes must be the integers"),
        (lambda: _train_tiny(model=None), TypeError, "model must be GCN"),
        (lambda: _train_tiny(features=[[1.0]]), TypeError, "features must be Tensor"),
        (lambda: _train_tiny(features=torch.tensor(1.0)), ValueError, r"features must be \(nodes, 3\)"),
        (lambda: _train_tiny(propagation="A"), TypeError, "propagation must be Tensor"),
        (lambda: _train_tiny(propagation=torch.eye(2)), ValueError, r"propagation must be \(3, 3\)"),
        (lambda: _train_tiny(labels=torch.tensor([0, 1])), ValueError, "labels must have shape"),
        (lambda: _train_tiny(labels=torch.tensor([0.0, 1.0, 0.0])), TypeError, "labels must be an integer"),
        (lambda: _train_tiny(labelled=torch.tensor([], dtype=torch.long)), ValueError, "labelled must not be empty"),
        (lambda: _train_tiny(labelled=torch.tensor([0, 0])), ValueError, "labelled must be a 1-D tensor of distinct"),
        (lambda: _train_tiny(labelled=torch.tensor([3])), ValueError, "labelled holds id 3"),
        (lambda: _train_tiny(epochs=0), ValueError, "epochs must be >= 1"),
        (lambda: _train_tiny(lr=0.0), ValueError, "lr must be in"),
        (lambda: _train_tiny(weight_decay=-1.0), ValueError, "weight_decay must be in"),
        (lambda: _train_tiny(seed=-1), ValueError, "seed must be >= 0"),
        (lambda: _compare_tiny(graph=nx.DiGraph([(0, 1), (1, 2)])), ValueError, "graph must be undirected"),
        (lambda: _compare_tiny(labels=torch.tensor([0, 1])), ValueError, "labels must have shape"),
        (lambda: _compare_tiny(labelled=torch.tensor([5])), ValueError, "labelled holds id 5"),
        (lambda: _compare_tiny(hidden=0), ValueError, "hidden must be >= 1"),
        (lambda: _compare_tiny(seed=None), TypeError, "seed must be an int"),
        (lambda: K.readable(None), TypeError, "name must be str"),
        (lambda: K.answer_triple(("a", "treats", "b"), "c"), TypeError, "question must be Question"),
        (lambda: K.answer_triple(QUESTION, 3), TypeError, "answer must be str"),
        (lambda: K.mentions_answer(None, QUESTION), TypeError, "text must be str"),
        (lambda: K.mentions_answer("b", "What does a treat?"), TypeError, "question must be Question"),
        (lambda: K.run_link_prediction_benchmark([]), TypeError, "config must be dict"),
        (lambda: K.run_link_prediction_benchmark({k: v for k, v in _benchmark_config().items() if k != "ablation"}),
         ValueError, r"config is missing \['ablation'\]"),
        (lambda: K.run_link_prediction_benchmark(_benchmark_config(seeds=[])), ValueError,
         r"config\['seeds'\] must not be empty"),
        (lambda: K.run_link_prediction_benchmark(_benchmark_config(seeds=[-1])), ValueError,
         r"config\['seeds'\]\[0\] must be >= 0"),
        (lambda: K.run_link_prediction_benchmark(_benchmark_config(transe={"wordnet": {}})), ValueError,
         r"config\['transe'\] dataset must be one of"),
        (lambda: K.run_link_prediction_benchmark(_benchmark_config(transe={"nations": {"seed": 1}})), ValueError,
         r"config\['transe'\]\['nations'\] must not set 'seed'"),
        (lambda: K.run_link_prediction_benchmark(_benchmark_config(transe={"nations": {"dimension": 5}})), TypeError,
         r"config\['transe'\]\['nations'\]: .*'dimension'"),
        (lambda: K.run_link_prediction_benchmark(_benchmark_config(transe={"nations": {"margin": 0.0}})), ValueError,
         r"config\['transe'\]\['nations'\]: margin must be in"),
        (lambda: K.run_link_prediction_benchmark(_benchmark_config(
            transe={"umls": {}}, ablation={"dataset": "umls", "seeds": [0]})), ValueError,
         r"config\['margin_sweep'\]\['dataset'\] must be one of 'umls'"),
        (lambda: K.run_link_prediction_benchmark(_benchmark_config(
            margin_sweep={"dataset": "nations", "margins": [0.0], "seeds": [0]})), ValueError,
         r"config\['margin_sweep'\]\['margins'\]\[0\] must be in"),
        (lambda: K.run_link_prediction_benchmark(_benchmark_config(ablation={"dataset": "nations"})), ValueError,
         r"config\['ablation'\] is missing \['seeds'\]"),
        (lambda: K.summarise_runs([]), ValueError, "runs must not be empty"),
        (lambda: K.summarise_runs({"dataset": "d", "metrics": {}}), TypeError, "runs must be list"),
        (lambda: K.summarise_runs(["run"]), TypeError, r"runs\[0\] must be Mapping"),
        (lambda: K.summarise_runs([{"dataset": "d"}]), ValueError, r"runs\[0\] is missing \['metrics'\]"),
        (lambda: K.summarise_runs([{"dataset": "d", "metrics": {"raw": {"MRR": 0.5}}}]), ValueError,
         "setting must be one of"),
    ],
)
def test_bad_inputs_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_the_shipped_benchmark_configs_pass_their_check():
    for config in (K.BENCHMARKS[0].config, K.BENCHMARKS[0].smoke_config):
        K._check_benchmark_config(config)  # raises on any malformed entry
