"""Part V: every hand-written method equals its library twin (Captum, scikit-learn, fairlearn) on real
and hand-made inputs, trained models beat chance, and bad input fails with a message naming it."""

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from captum.attr import IntegratedGradients
from fairlearn import metrics as flm
from sklearn.inspection import permutation_importance as sk_permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from roadmap_lib import compression
from roadmap_lib import responsible as R


# --------------------------------------------------------------------------------------------------
# Shared fixtures: Adult encoded once, one small MLP trained once
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def adult():
    split = R.adult_split(seed=0)
    pre = R.adult_preprocessor().fit(split.x_train)
    enc = {name: pre.transform(getattr(split, f"x_{name}")).astype(np.float32) for name in ("train", "val", "test")}
    return SimpleNamespace(split=split, pre=pre, **enc)


@pytest.fixture(scope="module")
def mlp(adult):
    return R.TorchMLPClassifier(epochs=3).fit(adult.train, adult.split.y_train)


@pytest.fixture(scope="module")
def compas():
    return R.compas_risk()


# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------
def test_adult_split_is_disjoint_binary_and_keeps_sensitive_columns_out_of_the_inputs(adult):
    split = adult.split
    sizes = [len(split.x_train), len(split.x_val), len(split.x_test)]
    assert sum(sizes) == 48_842 and min(sizes) > 9_000
    assert set(np.unique(split.y_train)) == {0, 1}
    assert not set(R.ADULT_SENSITIVE) & set(split.x_train.columns)
    assert list(split.s_test.columns) == ["sex", "race"] and len(split.s_test) == len(split.y_test)
    assert not split.x_train.isna().any().any()
    # base rate is stratified: the same in every part, to 3 decimals
    assert abs(split.y_train.mean() - split.y_test.mean()) < 1e-3


def test_feature_groups_cover_every_encoded_column_once(adult):
    groups = R.feature_groups(adult.pre)
    columns = sorted(c for block in groups.values() for c in block)
    assert columns == list(range(adult.train.shape[1]))
    assert set(groups) == set(adult.split.x_train.columns)
    assert len(groups["relationship"]) == 6
    with pytest.raises(ValueError, match="fitted"):
        R.feature_groups(R.adult_preprocessor())


def test_adult_split_rejects_bad_sizes():
    with pytest.raises(ValueError, match="val_size \\+ test_size"):
        R.adult_split(val_size=0.5, test_size=0.5)
    with pytest.raises(ValueError, match="test_size"):
        R.adult_split(test_size=0.0)
    with pytest.raises(TypeError, match="seed"):
        R.adult_split(seed=0.5)


def test_compas_filter_reproduces_propublica_sample(compas):
    # ProPublica's notebook: 6,172 rows after the same four filters.
    assert len(compas) == 6172
    assert set(compas["race"]) == {"African-American", "Caucasian", "Hispanic", "Other", "Asian", "Native American"}
    assert ((compas["decile_score"] >= 5) == (compas["y_pred"] == 1)).all()


# --------------------------------------------------------------------------------------------------
# The tabular classifier
# --------------------------------------------------------------------------------------------------
def test_mlp_beats_the_majority_class_by_a_margin(adult, mlp):
    majority = 1 - adult.split.y_test.mean()
    accuracy = mlp.score(adult.test, adult.split.y_test)
    assert accuracy > majority + 0.06, (accuracy, majority)
    proba = mlp.predict_proba(adult.test[:50])
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert ((proba[:, 1] > 0.5) == (mlp.predict(adult.test[:50]) == 1)).all()


def test_mlp_is_deterministic_and_leaves_the_global_rng_alone(adult):
    state = torch.get_rng_state()
    x, y = adult.train[:2000], adult.split.y_train[:2000]
    a = R.TorchMLPClassifier(epochs=1).fit(x, y).decision_function(adult.test[:100])
    b = R.TorchMLPClassifier(epochs=1).fit(x, y).decision_function(adult.test[:100])
    np.testing.assert_array_equal(a, b)
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize(
    ("x", "y", "weight", "error", "match"),
    [
        (np.full((4, 2), np.nan), [0, 1, 0, 1], None, ValueError, "NaN"),
        (np.ones((4, 2)), [0, 1, 0], None, ValueError, "rows"),
        (np.ones((4, 2)), [0, 1, 2, 1], None, ValueError, "binary"),
        (np.ones((4, 2)), [0, 1, 0, 1], [1, -1, 1, 1], ValueError, "sample_weight"),
        (np.ones(4), [0, 1, 0, 1], None, ValueError, "2-D"),
    ],
)
def test_mlp_rejects_bad_training_data(x, y, weight, error, match):
    with pytest.raises(error, match=match):
        R.TorchMLPClassifier(epochs=1).fit(x, y, sample_weight=weight)


def test_mlp_refuses_to_predict_before_fit_or_on_the_wrong_width(mlp):
    with pytest.raises(ValueError, match="not fitted"):
        R.TorchMLPClassifier().predict(np.ones((2, 3)))
    with pytest.raises(ValueError, match="features"):
        mlp.predict(np.ones((2, 3)))
    with pytest.raises(TypeError, match="device"):
        R.TorchMLPClassifier(epochs=1, device=3).fit(np.ones((4, 2)), [0, 1, 0, 1])


# --------------------------------------------------------------------------------------------------
# 5.1.1 Attributions
# --------------------------------------------------------------------------------------------------
def test_input_gradients_leave_no_trace(mlp, adult):
    model = mlp.module_.train()  # a caller in training mode must find it so afterwards
    assert all(p.grad is None for p in model.parameters())  # training leaves no stale gradients
    x = torch.as_tensor(adult.test[:64])
    first = R.input_gradients(model, x)
    second = R.input_gradients(model, x)
    assert torch.equal(first, second)  # nothing accumulates between calls
    assert not x.requires_grad and x.grad is None
    assert all(p.grad is None for p in model.parameters())
    assert model.training
    model.eval()


def test_feature_importance_of_a_linear_model_is_its_weight_whatever_the_batch():
    torch.manual_seed(0)
    linear = torch.nn.Linear(10, 1)
    for rows in (7, 100):
        importance = R.feature_importance(linear, torch.randn(rows, 10))
        np.testing.assert_allclose(importance, linear.weight.detach().abs().numpy()[0], rtol=1e-6)


def test_gradient_times_input_and_integrated_gradients_are_exact_on_a_linear_model():
    torch.manual_seed(0)
    linear = torch.nn.Linear(6, 1)
    x, base = torch.randn(5, 6), torch.randn(6)
    expected = linear.weight.detach()[0] * (x - base)
    torch.testing.assert_close(R.gradient_times_input(linear, x, base), expected)
    torch.testing.assert_close(R.integrated_gradients(linear, x, base, n_steps=4), expected)


@pytest.mark.parametrize("n_steps", [8, 50])
def test_integrated_gradients_equal_captum_on_the_trained_model(mlp, adult, n_steps):
    model = mlp.module_
    x = torch.as_tensor(adult.test[:200])
    base = torch.as_tensor(adult.train.mean(0))
    ours = R.integrated_gradients(model, x, base, n_steps=n_steps)
    captum = IntegratedGradients(model).attribute(x, baselines=base.expand_as(x), target=0, n_steps=n_steps)
    torch.testing.assert_close(ours, captum, atol=1e-5, rtol=1e-4)


def test_integrated_gradients_are_complete_up_to_quadrature_error(mlp, adult):
    model = mlp.module_
    x = torch.as_tensor(adult.test[:200])
    base = torch.as_tensor(adult.train.mean(0))
    with torch.no_grad():
        gap = model(x)[:, 0] - model(base[None])[:, 0]
    total = R.integrated_gradients(model, x, base, n_steps=200).sum(1)
    assert (total - gap).abs().mean() < 0.02 * gap.abs().mean()


def test_integrated_gradients_with_a_class_per_row_equal_captum():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    x, target = torch.randn(6, 4), torch.tensor([0, 1, 2, 2, 1, 0])
    captum = IntegratedGradients(model).attribute(x, target=target, n_steps=20)
    torch.testing.assert_close(R.integrated_gradients(model, x, target=target, n_steps=20), captum, atol=1e-6, rtol=1e-5)


def test_permutation_importance_equals_sklearn_on_the_adult_pipeline(mlp, adult):
    pipeline = make_pipeline(adult.pre, mlp)
    x, y = adult.split.x_test.iloc[:1500], adult.split.y_test[:1500]
    before = x.copy()
    ours = R.permutation_importance(pipeline, x, y, n_repeats=3, seed=7)
    theirs = sk_permutation_importance(pipeline, x, y, n_repeats=3, random_state=7).importances
    np.testing.assert_array_equal(ours, theirs)
    pd.testing.assert_frame_equal(x, before)
    assert ours.mean(1).max() > 0.01  # some feature matters


def test_permutation_importance_equals_sklearn_on_arrays():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    y = (x[:, 0] + 0.3 * x[:, 2] > 0).astype(int)
    model = LogisticRegression().fit(x, y)
    ours = R.permutation_importance(model, x, y, n_repeats=4, seed=1)
    np.testing.assert_array_equal(ours, sk_permutation_importance(model, x, y, n_repeats=4, random_state=1).importances)
    assert ours.mean(1).argmax() == 0


def test_group_importance_sums_or_averages_blocks():
    attributions = np.array([[1.0, -1.0, 2.0], [3.0, 1.0, 0.0]])
    groups = {"a": [0, 1], "b": [2]}
    assert R.group_importance(attributions, groups, "sum").to_dict() == {"a": 2.0, "b": 1.0}
    assert R.group_importance(attributions, groups, "mean").to_dict() == {"a": 1.5, "b": 1.0}
    with pytest.raises(ValueError, match="how"):
        R.group_importance(attributions, groups, "norm")


@pytest.mark.parametrize(
    ("inputs", "target", "error", "match"),
    [
        (torch.ones(3, 4, dtype=torch.long), None, TypeError, "floating"),
        (torch.full((3, 4), float("nan")), None, ValueError, "NaN"),
        (torch.ones(0, 4), None, ValueError, "non-empty"),
        (torch.ones(3, 4), None, ValueError, "target"),
        (torch.ones(3, 4), 5, ValueError, "target"),
        (torch.ones(3, 4), torch.tensor([0, 1]), ValueError, "target"),
        (torch.ones(3, 4), torch.tensor([0, 1, 3]), ValueError, r"target must hold class indices in \[0, 2\]"),
        (torch.ones(3, 4), torch.tensor([0, -1, 2]), ValueError, r"target must hold class indices in \[0, 2\]"),
    ],
)
def test_input_gradients_reject_bad_input(inputs, target, error, match):
    model = torch.nn.Linear(4, 3)
    with pytest.raises(error, match=match):
        R.input_gradients(model, inputs, target)


def test_baseline_must_fit_the_inputs():
    with pytest.raises(ValueError, match="baseline"):
        R.integrated_gradients(torch.nn.Linear(4, 1), torch.ones(2, 4), torch.ones(3))


with torch.random.fork_rng(devices=[]):  # built at import: leave the global RNG to the tests that seed it
    LINEAR, THREE_CLASSES = torch.nn.Linear(4, 1), torch.nn.Linear(4, 3)
    CNN = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.Flatten(), torch.nn.Linear(2 * 4 * 4, 3))
IMAGES, LABELS = torch.ones(2, 1, 4, 4), torch.tensor([0, 2])
SCORER = SimpleNamespace(score=lambda X, y: 1.0)  # no model to train: every check fires before scoring


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: R.feature_importance(lambda x: x, torch.ones(2, 4)), TypeError, "model must be Module"),
        (lambda: R.feature_importance(LINEAR, [[1.0, 2.0, 3.0, 4.0]]), TypeError, "inputs must be Tensor"),
        (lambda: R.feature_importance(LINEAR, torch.full((2, 4), float("inf"))), ValueError, "inputs contains NaN"),
        (lambda: R.feature_importance(THREE_CLASSES, torch.ones(2, 4)), ValueError, "pass target"),
        (lambda: R.feature_importance(THREE_CLASSES, torch.ones(2, 4), 3), ValueError, "target must be <= 2"),
        (lambda: R.feature_importance(THREE_CLASSES, torch.ones(2, 4), torch.tensor([0, 3])), ValueError,
         "target must hold class indices"),
        (lambda: R.gradient_times_input(lambda x: x, torch.ones(2, 4)), TypeError, "model must be Module"),
        (lambda: R.gradient_times_input(LINEAR, torch.ones(2, 4, dtype=torch.long)), TypeError,
         "inputs must be a floating"),
        (lambda: R.gradient_times_input(LINEAR, torch.ones(0, 4)), ValueError, "inputs must be a non-empty"),
        (lambda: R.gradient_times_input(LINEAR, torch.ones(2, 4), [0.0] * 4), TypeError, "baseline must be Tensor"),
        (lambda: R.gradient_times_input(LINEAR, torch.ones(2, 4), torch.ones(3)), ValueError,
         "baseline must have shape"),
        (lambda: R.gradient_times_input(THREE_CLASSES, torch.ones(2, 4), None, 5), ValueError, "target must be <= 2"),
        (lambda: R.saliency_maps(lambda x: x, IMAGES, LABELS), TypeError, "model must be Module"),
        (lambda: R.saliency_maps(CNN, IMAGES.numpy(), LABELS), TypeError, "images must be Tensor"),
        (lambda: R.saliency_maps(CNN, IMAGES.to(torch.uint8), LABELS), TypeError, "images must be a floating"),
        (lambda: R.saliency_maps(CNN, IMAGES * float("nan"), LABELS), ValueError, "images contains NaN"),
        (lambda: R.saliency_maps(CNN, IMAGES[:, 0], LABELS), ValueError, r"images must be \(n, channels"),
        (lambda: R.saliency_maps(CNN, IMAGES, [0, 2]), TypeError, "labels must be Tensor"),
        (lambda: R.saliency_maps(CNN, IMAGES, LABELS.float()), TypeError, "labels must hold integer"),
        (lambda: R.saliency_maps(CNN, IMAGES, LABELS[:1]), ValueError, "labels must hold one class index per image"),
        (lambda: R.saliency_maps(CNN, IMAGES, torch.tensor([0, 3])), ValueError,
         r"target must hold class indices in \[0, 2\]"),
        (lambda: R.permutation_importance(object(), np.ones((2, 2)), [0, 1]), TypeError, "estimator must have a score"),
        (lambda: R.permutation_importance(SCORER, np.ones((2, 2)), [0, 1], n_repeats=0), ValueError,
         "n_repeats must be >= 1"),
        (lambda: R.permutation_importance(SCORER, np.ones((2, 2)), [0, 1], seed=-1), ValueError, "seed must be >= 0"),
        (lambda: R.permutation_importance(SCORER, np.ones((2, 2)), [0, 1], seed=0.5), TypeError, "seed must be an int"),
        (lambda: R.permutation_importance(SCORER, [[1.0, 2.0], [3.0, 4.0]], [0, 1]), TypeError, "X must be ndarray"),
        (lambda: R.permutation_importance(SCORER, np.ones(2), [0, 1]), ValueError, "X must be 2-D"),
        (lambda: R.permutation_importance(SCORER, np.ones((2, 2)), 1), TypeError, "y must hold one label per row"),
        (lambda: R.permutation_importance(SCORER, np.ones((3, 2)), [0, 1]), ValueError, "X has 3 rows but y has 2"),
        (lambda: R.permutation_importance(SCORER, np.ones((0, 2)), []), ValueError, "X must not be empty"),
    ],
)
def test_attributions_reject_bad_input_by_name(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --------------------------------------------------------------------------------------------------
# 5.1.2 Attention and saliency
# --------------------------------------------------------------------------------------------------
def test_attention_maps_of_minilm_are_row_stochastic():
    from roadmap_lib.nlp import load_encoder

    tokenizer, model = load_encoder(attn_implementation="eager")
    tokens, maps = R.attention_maps("Fairness needs exact metrics.", tokenizer, model)
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert maps.shape == (6, 12, len(tokens), len(tokens))
    torch.testing.assert_close(maps.sum(-1), torch.ones(6, 12, len(tokens)))
    table = R.attention_statistics(maps, tokens)
    assert list(table.index) == [1, 2, 3, 4, 5, 6]
    assert ((table["entropy (bits)"] >= 0) & (table["entropy (bits)"] <= np.log2(len(tokens)))).all()


def test_attention_maps_need_the_eager_kernel():
    fake = SimpleNamespace(config=SimpleNamespace(_attn_implementation="sdpa"))
    with pytest.raises(ValueError, match="eager"):
        R.attention_maps("text", None, fake)
    with pytest.raises(ValueError, match="empty"):
        R.attention_maps("  ", None, fake)


def test_attention_plots_draw_every_head_and_check_shapes():
    tokens = ["[CLS]", "a", "b", "[SEP]"]
    maps = torch.softmax(torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(0)), dim=-1)
    fig = R.plot_attention_grid(maps)
    mosaic = fig.axes[0].images[0].get_array()
    assert mosaic.shape == (2 * 5 - 1, 3 * 5 - 1)
    np.testing.assert_allclose(mosaic[5:9, 10:14], maps[1, 2].numpy())  # layer 2, head 3 tile
    ax = R.plot_attention(maps[0, 0], tokens)
    assert [t.get_text() for t in ax.get_xticklabels()] == tokens
    with pytest.raises(ValueError, match="weights"):
        R.plot_attention(maps[0, 0], tokens[:3])
    with pytest.raises(ValueError, match="attentions"):
        R.plot_attention_grid(maps[0])


def test_attention_statistics_of_uniform_attention():
    tokens = ["[CLS]", "a", "b", "[SEP]"]
    maps = torch.full((2, 3, 4, 4), 0.25)
    table = R.attention_statistics(maps, tokens)
    np.testing.assert_allclose(table["entropy (bits)"], 2.0)
    np.testing.assert_allclose(table["[CLS]"], 0.25)
    np.testing.assert_allclose(table["self"], 0.25)
    with pytest.raises(ValueError, match="attentions"):
        R.attention_statistics(maps, tokens[:3])


@pytest.fixture(scope="module")
def digits():
    split = compression.digits_tensors()
    model = compression.train_teacher(split, epochs=4)
    return SimpleNamespace(model=model, x=split.x_test, y=split.y_test)


def test_saliency_of_the_digits_cnn_beats_random_pixels(digits):
    assert compression.accuracy(digits.model, digits.x, digits.y) > 0.9
    saliency = R.saliency_maps(digits.model, digits.x, digits.y)
    assert saliency.shape == (len(digits.x), 8, 8) and (saliency >= 0).all()
    table = R.deletion_test(digits.model, digits.x, digits.y, saliency, ks=(0, 8)).set_index(["pixels blanked", "which"])
    probability = table["true-class probability"]
    assert probability[0, "most salient"] == probability[0, "random"]  # nothing blanked, same model
    assert probability[8, "most salient"] < probability[8, "random"] - 0.1
    with pytest.raises(ValueError, match="saliency"):
        R.deletion_test(digits.model, digits.x, digits.y, saliency[:3])
    with pytest.raises(ValueError, match="k must be <= 64"):
        R.deletion_test(digits.model, digits.x, digits.y, saliency, ks=(65,))


# --------------------------------------------------------------------------------------------------
# 5.2.1 Fairness metrics: equal to fairlearn, for 2, 3+ and intersectional groups
# --------------------------------------------------------------------------------------------------
def assert_equals_fairlearn(y_true, y_pred, sensitive, y_score=None):
    """Every per-group table and every difference equals fairlearn's on the same inputs."""
    frame = flm.MetricFrame(
        metrics={"tpr": flm.true_positive_rate, "sel": flm.selection_rate, "fpr": flm.false_positive_rate},
        y_true=y_true, y_pred=y_pred, sensitive_features=sensitive,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", R.UndefinedGroupWarning)
        table = R.group_table(y_true, y_pred, sensitive)
    for ours, theirs in (("true_positive_rate", "tpr"), ("selection_rate", "sel"), ("false_positive_rate", "fpr")):
        undefined = table.index[table[ours].isna()]
        assert (frame.by_group[theirs][undefined] == 0).all()  # where ours is NaN, fairlearn silently says 0
        pd.testing.assert_series_equal(table[ours].dropna(), frame.by_group[theirs].drop(undefined),
                                       check_names=False, check_index_type=False)
    tpr = R.true_positive_rates(y_true, y_pred, sensitive)
    pd.testing.assert_series_equal(tpr, frame.by_group["tpr"], check_names=False, check_index_type=False)
    pd.testing.assert_series_equal(R.selection_rates(y_pred, sensitive), frame.by_group["sel"],
                                   check_names=False, check_index_type=False)
    assert R.equal_opportunity_difference(y_true, y_pred, sensitive).difference == pytest.approx(
        flm.equal_opportunity_difference(y_true, y_pred, sensitive_features=sensitive), abs=1e-12)
    assert R.demographic_parity_difference(y_pred, sensitive).difference == pytest.approx(
        flm.demographic_parity_difference(y_true, y_pred, sensitive_features=sensitive), abs=1e-12)
    if y_score is not None:
        mean_score = flm.MetricFrame(metrics=lambda t, p: np.mean(p), y_true=y_true, y_pred=y_score,
                                     sensitive_features=sensitive)
        pd.testing.assert_series_equal(R.average_predictions(y_score, sensitive), mean_score.by_group,
                                       check_names=False, check_index_type=False, rtol=1e-12)
        assert R.average_prediction_difference(y_score, sensitive).difference == pytest.approx(
            mean_score.difference(), abs=1e-12)


TWO_GROUPS = (np.array([1, 0, 1, 1, 0, 1]), np.array([1, 0, 0, 1, 0, 1]), np.array([0, 0, 0, 1, 1, 1]))
THREE_GROUPS = (
    np.array([1, 0, 1, 1, 0, 1, 1, 1, 0]),
    np.array([1, 0, 0, 1, 0, 1, 0, 0, 1]),
    np.array(["a", "a", "a", "b", "b", "b", "c", "c", "c"]),
)


def test_two_hand_made_groups_equal_fairlearn_and_the_article_example():
    y_true, y_pred, sensitive = TWO_GROUPS
    assert_equals_fairlearn(y_true, y_pred, sensitive, y_score=np.linspace(0, 1, 6))
    # the article's own example prints 0.5: group 0 has TPR 1/2, group 1 has TPR 1
    assert R.equal_opportunity_difference(y_true, y_pred, sensitive).difference == 0.5


def test_three_hand_made_groups_equal_fairlearn_and_the_third_group_counts():
    y_true, y_pred, sensitive = THREE_GROUPS
    assert_equals_fairlearn(y_true, y_pred, sensitive, y_score=np.arange(9) / 8)
    gap = R.equal_opportunity_difference(y_true, y_pred, sensitive)
    assert gap.by_group.to_dict() == {"a": 0.5, "b": 1.0, "c": 0.0}
    assert gap.difference == 1.0  # the article's code returns 0.5: it never looks at group "c"


def test_intersectional_hand_made_groups_equal_fairlearn():
    rng = np.random.default_rng(3)
    n = 400
    sensitive = pd.DataFrame({"sex": rng.choice(["F", "M"], n), "race": rng.choice(["x", "y", "z"], n)})
    y_true = rng.integers(0, 2, n)
    y_pred = rng.integers(0, 2, n)
    assert_equals_fairlearn(y_true, y_pred, sensitive, y_score=rng.random(n))
    assert R.true_positive_rates(y_true, y_pred, sensitive).index.names == ["sex", "race"]
    assert len(R.group_table(y_true, y_pred, sensitive)) == 6


@pytest.fixture(scope="module")
def adult_predictions(adult, mlp):
    return mlp.predict(adult.test), mlp.predict_proba(adult.test)[:, 1]


@pytest.mark.parametrize("attribute", ["sex", "race"])
def test_real_adult_predictions_equal_fairlearn(adult, adult_predictions, attribute):
    y_pred, y_score = adult_predictions
    assert_equals_fairlearn(adult.split.y_test, y_pred, adult.split.s_test[attribute], y_score)


def test_real_adult_intersections_equal_fairlearn_except_where_fairlearn_writes_zero(adult, adult_predictions):
    y_pred, _ = adult_predictions
    y_true, sensitive = adult.split.y_test, adult.split.s_test
    with pytest.warns(R.UndefinedGroupWarning, match="no positive"):
        ours = R.true_positive_rates(y_true, y_pred, sensitive)
    theirs = flm.MetricFrame(metrics=flm.true_positive_rate, y_true=y_true, y_pred=y_pred,
                             sensitive_features=sensitive).by_group
    undefined = ours.index[ours.isna()]
    assert list(undefined) == [("Female", "Other")]  # no woman of race "Other" earns >50K in this test split
    assert (theirs[undefined] == 0).all()  # fairlearn reports TPR 0 there, silently
    pd.testing.assert_series_equal(ours.dropna(), theirs.drop(undefined), check_names=False)


def test_real_compas_scores_equal_fairlearn_for_six_race_groups(compas):
    assert_equals_fairlearn(compas["y_true"].to_numpy(), compas["y_pred"].to_numpy(), compas["race"],
                            compas["decile_score"].to_numpy() / 10)
    sensitive = compas[["race", "sex"]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every COMPAS race × sex cell has positives, so every TPR is defined
        assert_equals_fairlearn(compas["y_true"].to_numpy(), compas["y_pred"].to_numpy(), sensitive)
    with pytest.warns(R.UndefinedGroupWarning, match=r"false_positive_rate.*\('Native American', 'Female'\)"):
        R.group_table(compas["y_true"], compas["y_pred"], sensitive)  # ...but one has no negatives


def test_group_without_positives_is_nan_with_a_warning_not_zero():
    y_true = np.array([1, 0, 1, 0, 0, 1, 1])
    y_pred = np.array([1, 0, 0, 1, 0, 1, 0])
    groups = np.array(["a", "a", "a", "b", "b", "c", "c"])
    with pytest.warns(R.UndefinedGroupWarning, match=r"no positive examples: \['b'\]") as record:
        gap = R.equal_opportunity_difference(y_true, y_pred, groups)
    assert record[0].filename == __file__  # the warning points at the caller's line, not inside the library
    assert np.isnan(gap.by_group["b"])
    assert gap.difference == 0.0  # a and c both have TPR 1/2; the article would report 0.5 against b's "0"


def test_fewer_than_two_defined_groups_give_nan_difference():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gap = R.equal_opportunity_difference([1, 0, 0], [1, 0, 1], ["a", "b", "b"])
    assert np.isnan(gap.difference)
    messages = [str(w.message) for w in caught if w.category is R.UndefinedGroupWarning]
    assert len(messages) == 2 and "no positive examples: ['b']" in messages[0] and "fewer than two" in messages[1]


def test_declared_empty_group_is_reported_as_nan():
    sensitive = pd.Categorical(["a", "a", "b", "b"], categories=["a", "b", "c"])
    with pytest.warns(R.UndefinedGroupWarning, match="no rows"):
        rates = R.selection_rates([1, 0, 1, 1], pd.Series(sensitive, name="group"))
    assert rates.index.tolist() == ["a", "b", "c"] and np.isnan(rates["c"])
    with pytest.warns(R.UndefinedGroupWarning):
        table = R.group_table([1, 0, 1, 1], [1, 0, 1, 1], pd.Series(sensitive))
    assert table.loc["c", "count"] == 0


#: Every fairness metric (and mitigation helper that takes labels) with the names of its arguments,
#: called below on a valid 4-row input with one argument broken.
METRICS = {
    "true_positive_rates": (R.true_positive_rates, ("y_true", "y_pred", "sensitive")),
    "selection_rates": (R.selection_rates, ("y_pred", "sensitive")),
    "average_predictions": (R.average_predictions, ("y_score", "sensitive")),
    "equal_opportunity_difference": (R.equal_opportunity_difference, ("y_true", "y_pred", "sensitive")),
    "demographic_parity_difference": (R.demographic_parity_difference, ("y_pred", "sensitive")),
    "average_prediction_difference": (R.average_prediction_difference, ("y_score", "sensitive")),
    "group_table": (R.group_table, ("y_true", "y_pred", "sensitive", "y_score")),
    "reweighing_weights": (R.reweighing_weights, ("y", "sensitive")),
    "tradeoff_row": (R.tradeoff_row, ("y_true", "y_pred", "y_score", "sensitive")),
}
VALID = {"y_true": [1, 0, 1, 0], "y_pred": [1, 1, 0, 0], "y": [1, 0, 1, 0], "y_score": [0.9, 0.6, 0.4, 0.1],
         "sensitive": ["a", "a", "b", "b"]}
NAN = float("nan")
#: Per kind of argument: (case, bad value, error, what the message says; ``{arg}`` is the argument's name).
BAD = {
    "labels": [
        ("lengths", [1, 0, 1], ValueError, r"one entry per row.*\b{arg}=3"),
        ("empty", [], ValueError, "{arg} must not be empty"),
        ("2-D", [[1], [0], [1], [0]], ValueError, "{arg} must be one-dimensional"),
        ("NaN", [1.0, NAN, 0.0, 0.0], ValueError, "{arg} contains NaN"),
        ("non-binary", [1, 2, 0, 0], ValueError, r"{arg} must be binary \(0/1\); found other values \[2\]"),
        ("text", ["yes", "no", "yes", "no"], ValueError, "{arg} must hold 0/1 labels"),
    ],
    "y_score": [
        ("lengths", [0.9, 0.6, 0.4], ValueError, r"one entry per row.*\by_score=3"),
        ("empty", [], ValueError, "y_score must not be empty"),
        ("2-D", [[0.9], [0.6], [0.4], [0.1]], ValueError, "y_score must be one-dimensional"),
        ("NaN", [0.9, NAN, 0.4, 0.1], ValueError, "y_score contains NaN"),
        ("infinite", [0.9, float("inf"), 0.4, 0.1], ValueError, "y_score contains NaN or infinite"),
        ("text", ["high", "high", "low", "low"], ValueError, "y_score must be numeric"),
    ],
    "sensitive": [
        ("lengths", ["a", "a", "b"], ValueError, r"one entry per row.*\bsensitive=3"),
        ("empty", [], ValueError, "sensitive must not be empty"),
        ("3-D", np.zeros((4, 1, 1)), ValueError, r"sensitive must be 1-D \(one attribute\) or 2-D"),
        ("None", ["a", None, "b", "b"], ValueError, "sensitive contains 1 missing group"),
        ("NaN", np.array([1.0, NAN, 2.0, 2.0]), ValueError, "sensitive contains 1 missing group"),
        ("mixed types", ["a", 1, "b", "b"], TypeError, "sensitive must hold hashable group labels of one type"),
        ("unhashable", pd.Series([[1], [1], [2], [2]]), TypeError, "sensitive must hold hashable group labels"),
    ],
}
BAD_METRIC_INPUTS = [
    pytest.param(function, names, arg, value, error, match.format(arg=arg), id=f"{name}-{arg}-{case}")
    for name, (function, names) in METRICS.items()
    for arg in names
    for case, value, error, match in BAD[arg if arg in ("y_score", "sensitive") else "labels"]
]


@pytest.mark.parametrize(("function", "names", "arg", "value", "error", "match"), BAD_METRIC_INPUTS)
def test_fairness_metrics_reject_bad_input_by_name(function, names, arg, value, error, match):
    """Mismatched lengths, empty, wrongly shaped, NaN, non-binary and non-numeric input, for every argument
    of every metric: each is an error that names the argument, before any rate is computed."""
    arguments = {name: VALID[name] for name in names}
    with warnings.catch_warnings():
        warnings.simplefilter("error", R.UndefinedGroupWarning)  # a check that fires late would warn first
        with pytest.raises(error, match=match):
            function(**dict(arguments, **{arg: value}))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: R.check_binary("labels", np.zeros((2, 2))), ValueError, "labels must be one-dimensional"),
        (lambda: R.check_binary("labels", [0, 1, NAN]), ValueError, "labels contains NaN at 1 positions"),
        (lambda: R.check_binary("labels", [True, False, 3]), ValueError, "labels must be binary"),
        (lambda: R.check_scores("weights", [1.0, -float("inf")]), ValueError, "weights contains NaN or infinite"),
        (lambda: R.check_scores("weights", pd.Series([], dtype=float)), ValueError, "weights must not be empty"),
        (lambda: R.check_scores("weights", [1.0 + 2.0j]), ValueError, "weights must be numeric"),
        (lambda: R.group_codes(None), ValueError, "sensitive must be 1-D"),
        (lambda: R.group_codes(pd.DataFrame(index=[0, 1])), ValueError, "sensitive must not be empty"),
        (lambda: R.group_codes(pd.DataFrame({"sex": ["F", None], "race": ["x", "y"]})), ValueError, "missing group"),
        (lambda: R.group_codes(pd.DataFrame({"sex": ["F", 1], "race": ["x", "y"]})), TypeError,
         "one type per attribute"),
        (lambda: R.group_thresholds([0.1, 0.2], pd.Series(pd.Categorical(["a", "b"], categories=["a", "b", "c"])), 0.5),
         ValueError, r"empty group\(s\) \['c'\]"),
    ],
)
def test_label_score_and_group_checks_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("name", ["equal_opportunity_difference", "demographic_parity_difference",
                                  "average_prediction_difference", "tradeoff_row"])
def test_a_single_group_has_no_difference(name):
    function, names = METRICS[name]
    with pytest.raises(ValueError, match=r"sensitive has a single group \('a'\)"):
        function(**dict({n: VALID[n] for n in names}, sensitive=["a"] * 4))


def test_a_single_group_is_a_one_row_table_and_needs_no_reweighing():
    single = ["a"] * 4
    assert R.true_positive_rates(VALID["y_true"], VALID["y_pred"], single).to_dict() == {"a": 0.5}
    assert R.selection_rates(VALID["y_pred"], single).to_dict() == {"a": 0.5}
    assert R.average_predictions(VALID["y_score"], single).to_dict() == {"a": pytest.approx(0.5)}
    assert len(R.group_table(VALID["y_true"], VALID["y_pred"], single, VALID["y_score"])) == 1
    np.testing.assert_array_equal(R.reweighing_weights(VALID["y"], single), np.ones(4))


@pytest.mark.parametrize("name", ["true_positive_rates", "average_predictions"])  # selection_rates: below
def test_declared_empty_group_is_nan_in_every_rate(name):
    function, names = METRICS[name]
    sensitive = pd.Series(pd.Categorical(VALID["sensitive"], categories=["a", "b", "c"]))
    with pytest.warns(R.UndefinedGroupWarning, match=r"for 1 group\(s\) with no (rows|positive examples): \['c'\]"):
        rates = function(**dict({n: VALID[n] for n in names}, sensitive=sensitive))
    assert rates.index.tolist() == ["a", "b", "c"] and np.isnan(rates["c"]) and not rates[["a", "b"]].isna().any()


@pytest.mark.parametrize("name", ["equal_opportunity_difference", "demographic_parity_difference",
                                  "average_prediction_difference"])
def test_declared_empty_group_is_left_out_of_every_difference(name):
    function, names = METRICS[name]
    sensitive = pd.Series(pd.Categorical(VALID["sensitive"], categories=["a", "b", "c"]))
    arguments = {n: VALID[n] for n in names}
    with pytest.warns(R.UndefinedGroupWarning, match=r"\['c'\]"):
        gap = function(**dict(arguments, sensitive=sensitive))
    assert np.isnan(gap.by_group["c"])
    assert gap.difference == function(**arguments).difference  # the same as without the empty group


def test_declared_empty_group_needs_no_reweighing():
    sensitive = pd.Series(pd.Categorical(VALID["sensitive"], categories=["a", "b", "c"]))
    np.testing.assert_array_equal(R.reweighing_weights(VALID["y"], sensitive),
                                  R.reweighing_weights(VALID["y"], VALID["sensitive"]))


def test_group_table_has_one_row_per_group_with_consistent_counts(adult, adult_predictions):
    y_pred, y_score = adult_predictions
    table = R.group_table(adult.split.y_test, y_pred, adult.split.s_test["race"], y_score)
    assert table["count"].sum() == len(y_pred)
    assert table["positives"].sum() == adult.split.y_test.sum()
    np.testing.assert_allclose(table["base_rate"], table["positives"] / table["count"])


# --------------------------------------------------------------------------------------------------
# 5.2.2 Mitigation
# --------------------------------------------------------------------------------------------------
def test_reweighing_makes_label_independent_of_group(adult):
    y, sex = adult.split.y_train, adult.split.s_train["sex"]
    weights = R.reweighing_weights(y, sex)
    assert weights.mean() == pytest.approx(1.0)
    weighted_base_rate = pd.Series(weights * y).groupby(sex).sum() / pd.Series(weights).groupby(sex).sum()
    np.testing.assert_allclose(weighted_base_rate, y.mean())
    # hand-made: 3 of 4 in group a positive, 1 of 4 in b → positives in a weigh 2/3, in b 2
    np.testing.assert_allclose(R.reweighing_weights([1, 1, 1, 0, 1, 0, 0, 0], list("aaaabbbb")),
                               [2 / 3, 2 / 3, 2 / 3, 2, 2, 2 / 3, 2 / 3, 2 / 3])


def test_group_thresholds_equalise_selection_rates():
    rng = np.random.default_rng(0)
    groups = np.repeat(["a", "b", "c"], 1000)
    scores = rng.random(3000) ** np.repeat([1.0, 2.0, 4.0], 1000)  # three very different score scales
    thresholds = R.group_thresholds(scores, groups, 0.3)
    predictions = R.apply_thresholds(scores, groups, thresholds)
    rates = R.selection_rates(predictions, groups)
    np.testing.assert_allclose(rates, 0.3, atol=0.002)
    with pytest.raises(ValueError, match="no entry"):
        R.apply_thresholds(scores, groups, thresholds.drop("c"))
    with pytest.raises(ValueError, match="selection_rate"):
        R.group_thresholds(scores, groups, 1.0)


def test_debias_gradient_removes_the_component_that_helps_the_adversary():
    torch.manual_seed(0)
    g_p, g_a = torch.randn(5, 4), torch.randn(5, 4)
    update = R.debias_gradient(g_p, g_a, alpha=0.0)
    assert abs((update * g_a).sum().item()) < 1e-5  # orthogonal in the flattened inner product
    torch.testing.assert_close(R.debias_gradient(g_p, g_a, 1.0), update - g_a)
    with pytest.raises(ValueError, match="shape"):
        R.debias_gradient(g_p, g_a[:2], 1.0)


def test_adversarial_debiasing_lowers_the_demographic_parity_gap(adult):
    n = 12_000
    x, y, sex = adult.train[:n], adult.split.y_train[:n], adult.split.s_train["sex"][:n]
    base = R.TorchMLPClassifier(epochs=3).fit(x, y)
    fair = R.AdversarialDebiasingClassifier(epochs=3, adversary_weight=0.3).fit(x, y, sensitive_features=sex)
    test_sex = adult.split.s_test["sex"]
    gap_base = R.demographic_parity_difference(base.predict(adult.test), test_sex).difference
    gap_fair = R.demographic_parity_difference(fair.predict(adult.test), test_sex).difference
    assert gap_fair < 0.5 * gap_base, (gap_base, gap_fair)
    assert fair.score(adult.test, adult.split.y_test) > 0.8


def test_adversarial_debiasing_needs_two_groups():
    x, y = np.ones((6, 2)), np.array([0, 1, 0, 1, 0, 1])
    with pytest.raises(ValueError, match="exactly two groups"):
        R.AdversarialDebiasingClassifier(epochs=1).fit(x, y, sensitive_features=list("abcabc"))
    with pytest.raises(ValueError, match="required"):
        R.AdversarialDebiasingClassifier(epochs=1).fit(x, y)


def test_tradeoff_row_checks_the_scores_before_any_metric_warns():
    with warnings.catch_warnings():
        warnings.simplefilter("error", R.UndefinedGroupWarning)  # group b has no positives: EOD would warn
        with pytest.raises(ValueError, match="y_score contains NaN"):
            R.tradeoff_row([1, 0, 0, 0], [1, 0, 1, 0], [0.5, NAN, 0.5, 0.5], ["a", "a", "b", "b"])


def test_tradeoff_row_reports_accuracy_and_gaps():
    y_true, y_pred, sensitive = THREE_GROUPS
    row = R.tradeoff_row(y_true, y_pred, y_pred.astype(float), sensitive)
    assert row["accuracy"] == pytest.approx(np.mean(y_true == y_pred))
    assert row["EOD"] == 1.0 and row["APD"] == row["DPD"]  # on 0/1 predictions APD is DPD


# --------------------------------------------------------------------------------------------------
# 5.3 Efficiency
# --------------------------------------------------------------------------------------------------
def test_flops_of_a_linear_layer_are_two_per_multiply_add():
    layer = torch.nn.Linear(10, 5)
    assert R.count_flops(layer, torch.ones(3, 10)) == 2 * 3 * 10 * 5
    with pytest.raises(TypeError, match="model"):
        R.count_flops(lambda x: x, torch.ones(1))


def test_dynamic_int8_model_is_invisible_to_the_flop_counter():
    model = torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 2)).eval()
    quantized = compression.quantize_dynamic_int8(model)
    assert R.count_flops(quantized, torch.ones(1, 256)) == 0 < R.count_flops(model, torch.ones(1, 256))


def test_energy_is_measured_and_writes_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    work = lambda: torch.randn(300, 300) @ torch.randn(300, 300)  # noqa: E731
    estimate = R.measure_energy(work, repeats=200, country_iso_code="CHN")
    assert estimate.cpu_energy_kwh > 0 and estimate.energy_kwh > estimate.cpu_energy_kwh
    assert 300 < estimate.carbon_intensity_g_per_kwh < 900  # China's grid, per codecarbon's table
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(TypeError, match="run"):
        R.measure_energy(3)
    with pytest.raises(ValueError, match="repeats"):
        R.measure_energy(work, repeats=0)


# --------------------------------------------------------------------------------------------------
# Benchmark
# --------------------------------------------------------------------------------------------------
STUDY = {"seeds": [0], "alphas": [0.3], "classifier": {"epochs": 1}}


@pytest.mark.parametrize(
    ("config", "error", "match"),
    [
        (3, TypeError, "config must be Mapping"),
        ({"seeds": [0]}, ValueError, r"config is missing \['alphas', 'classifier'\]"),
        (dict(STUDY, seeds=5), TypeError, "seeds must be list or tuple"),
        (dict(STUDY, seeds=[]), ValueError, "seeds must not be empty"),
        (dict(STUDY, seeds=[0, -1]), ValueError, r"seeds\[1\] must be >= 0"),
        (dict(STUDY, alphas=0.3), TypeError, "alphas must be list or tuple"),
        (dict(STUDY, alphas=[-0.1]), ValueError, r"alphas\[0\] must be in \[0, inf\]"),
        (dict(STUDY, classifier=[1]), TypeError, "classifier must be Mapping"),
        (dict(STUDY, classifier={"epoch": 1}), ValueError, r"classifier has unknown settings \['epoch'\]"),
        (dict(STUDY, classifier={"epochs": 0}), ValueError, "epochs must be >= 1"),
        (dict(STUDY, classifier={"lr": -1.0}), ValueError, r"lr must be in \(0, inf\]"),
    ],
)
def test_mitigation_study_rejects_bad_config_before_loading_data(monkeypatch, config, error, match):
    def no_data(**kwargs):
        raise AssertionError("the config should have been rejected before Adult is loaded")

    monkeypatch.setattr(R, "adult_split", no_data)
    with pytest.raises(error, match=match):
        R.mitigation_study(config)
