"""Part IV: pruning keeps exactly the requested sparsity through training, quantized models are smaller
and about as accurate, the distillation loss is the formula, deployment round trips are exact."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

from roadmap_lib import compression as C
from roadmap_lib.runtime import num_threads


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These models are tiny: a second thread only adds synchronisation (and CPU time on a shared machine)."""
    with num_threads(1):
        yield


@pytest.fixture(scope="module")
def data():
    return C.digits_tensors()


@pytest.fixture(scope="module")
def trained(data):
    """A teacher trained briefly (about a second): accurate enough that quantization error would show."""
    torch.manual_seed(0)
    model = C.DigitsCNN()
    C.fit(model, C.digits_loader(data.x_train, data.y_train), epochs=4)
    return model.eval()


@pytest.fixture(scope="module")
def calibration(data):
    return [xb for xb, _ in C.digits_loader(data.x_train, data.y_train, shuffle=False)][:4]


def small_cnn(seed=0):
    torch.manual_seed(seed)
    return C.DigitsCNN(channels=(4, 8), hidden=16)


def adam_step(model, x, y):
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    F.cross_entropy(model(x), y).backward()
    optimizer.step()


# ------------------------------------------------------------------------------------------------ pruning
def test_magnitude_mask_agrees_with_prune_l1_unstructured():
    torch.manual_seed(0)
    for amount in (0.0, 0.05, 0.3, 0.9):
        layer = nn.Linear(13, 7)
        expected = prune.l1_unstructured(copy.deepcopy(layer), "weight", amount).weight_mask
        assert torch.equal(C.magnitude_mask(layer.weight, amount), expected)


def test_small_layers_and_zero_rate_no_longer_crash():
    # the article's kthvalue version raises for k = int(numel * rate) = 0
    model = nn.Sequential(nn.Linear(2, 1), nn.Linear(1, 2))
    C.unstructured_pruning(model, 0.1)
    assert C.sparsity(model) == 0.0
    C.unstructured_pruning(nn.Linear(4, 4), 0.0)


@pytest.mark.parametrize("amount", [0.3, 0.7, 0.95])
def test_sparsity_is_exact_and_survives_optimiser_steps(data, amount):
    model = C.unstructured_pruning(small_cnn(), amount)
    for _, layer in C.prunable_layers(model):
        assert int((layer.weight == 0).sum()) == round(amount * layer.weight.numel())
    before = C.sparsity(model)
    for _ in range(3):
        adam_step(model, data.x_train[:32], data.y_train[:32])
    model(data.x_train[:1])  # the forward pre-hook re-applies the mask
    assert C.sparsity(model) == pytest.approx(before)
    assert before == pytest.approx(amount, abs=0.01)


def test_plain_zeros_do_not_survive_a_step():
    """Why the masks matter: zeros written into .data (the article's way) are gone after one step."""
    torch.manual_seed(0)
    layer = nn.Linear(10, 10)
    with torch.no_grad():
        layer.weight.mul_(C.magnitude_mask(layer.weight, 0.3))
    assert C.sparsity(layer) == pytest.approx(0.3)
    adam_step(layer, torch.randn(16, 10), torch.randint(0, 10, (16,)))
    assert C.sparsity(layer) == 0.0


def test_global_pruning_hits_the_global_amount_and_permanent_removal(data):
    model = C.global_magnitude_pruning(small_cnn(), 0.6)
    total = sum(layer.weight.numel() for _, layer in C.prunable_layers(model))
    assert C.sparsity(model) == pytest.approx(round(0.6 * total) / total)
    C.make_pruning_permanent(model)
    assert not any(prune.is_pruned(m) for m in model.modules())
    assert C.sparsity(model) == pytest.approx(round(0.6 * total) / total)


def test_sparsity_sweep_rows(trained, data):
    rows = C.sparsity_sweep(trained, data, [0.0, 0.9], finetune_epochs=1)
    assert [r["amount"] for r in rows] == [0.0, 0.9]
    assert rows[1]["sparsity"] == pytest.approx(0.9, abs=1e-3)
    assert rows[1]["accuracy_finetuned"] > 0.5  # far above chance (0.1) after masked fine-tuning


def test_shrink_gives_a_smaller_model_with_the_same_answers(trained, data):
    masked = C.structured_pruning(trained, 0.5)
    small = C.shrink(masked)
    assert (small.conv1.out_channels, small.conv2.out_channels, small.fc1.out_features) == (16, 32, 64)
    assert C.count_parameters(small) < C.count_parameters(trained) / 3
    torch.testing.assert_close(small(data.x_test), masked(data.x_test), atol=1e-4, rtol=1e-4)


def test_dense_zeros_take_the_same_bytes():
    model = C.unstructured_pruning(small_cnn(), 0.9)
    sizes = C.dense_and_sparse_bytes(model)
    unpruned = C.dense_and_sparse_bytes(small_cnn())
    assert sizes["dense"] == unpruned["dense"]
    assert sizes["csr"] < sizes["dense"] and sizes["zlib"] < sizes["dense"]


@pytest.mark.parametrize("amount", [-0.1, 1.0, 1.5, float("nan")])
def test_pruning_amount_outside_unit_interval_is_rejected(amount):
    with pytest.raises(ValueError, match="amount"):
        C.global_magnitude_pruning(small_cnn(), amount)
    with pytest.raises(ValueError, match="prune_rate"):
        C.unstructured_pruning(small_cnn(), amount)
    with pytest.raises(ValueError, match="amount"):
        C.magnitude_mask(torch.ones(3), amount)


def test_pruning_bad_types():
    with pytest.raises(TypeError, match="prune_rate"):
        C.unstructured_pruning(small_cnn(), "0.5")
    with pytest.raises(ValueError, match="layer_types"):
        C.unstructured_pruning(nn.LSTM(4, 4), 0.5, layer_types=(nn.LSTM,))
    with pytest.raises(ValueError, match="no layer"):
        C.unstructured_pruning(nn.Sequential(nn.ReLU()), 0.5)
    with pytest.raises(TypeError, match="model"):
        C.structured_pruning(nn.Linear(3, 3), 0.5)
    with pytest.raises(ValueError, match="every channel"):
        C.shrink(C.structured_pruning(small_cnn(), 0.99))


# ------------------------------------------------------------------------------------------- quantization
def test_static_quantization_is_smaller_and_as_accurate(trained, data, calibration):
    quantized = C.static_quantize(trained, calibration)
    assert C.state_dict_bytes(quantized) < C.state_dict_bytes(trained) / 3
    fp32 = C.accuracy(trained, data.x_test, data.y_test)
    int8 = C.accuracy(quantized, data.x_test, data.y_test)
    assert fp32 > 0.9
    assert abs(int8 - fp32) <= 0.02  # tolerance: two points (Chapter IV measures none lost, 0.980 both)


def test_static_quantization_refuses_the_articles_mistakes(trained, calibration):
    with pytest.raises(ValueError, match="calibration"):
        C.static_quantize(trained, [])
    with pytest.raises(ValueError, match="training mode"):
        C.static_quantize(copy.deepcopy(trained).train(), calibration)
    with pytest.raises(ValueError, match="backend"):
        C.static_quantize(trained, calibration, backend="tpu")
    with pytest.raises(TypeError, match="calibration"):
        C.static_quantize(trained, [calibration[0].numpy()])
    with pytest.raises(ValueError, match="never been trained"):
        C.static_quantize(C.DigitsCNN().eval(), calibration)


def test_steps_trained_counts_updates_and_travels_with_the_weights(data, tmp_path):
    model = C.DigitsCNN(channels=(4, 8), hidden=16)
    loader = C.digits_loader(data.x_train[:100], data.y_train[:100], batch_size=25)
    C.fit(model, loader, epochs=2)
    assert int(model.steps_trained) == 8  # 4 batches x 2 epochs
    torch.save(model.state_dict(), tmp_path / "m.pt")
    reloaded = C.DigitsCNN(channels=(4, 8), hidden=16)
    reloaded.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True))
    assert int(reloaded.steps_trained) == 8
    assert int(C.shrink(C.structured_pruning(model, 0.5)).steps_trained) == 8


def test_quantized_checkpoint_round_trip_is_exact(trained, data, calibration, tmp_path):
    quantized = C.static_quantize(trained, calibration)
    path = C.save_quantized(quantized, tmp_path / "int8.pt")
    loaded = C.load_quantized(path, C.DigitsCNN())
    assert torch.equal(loaded(data.x_test), quantized(data.x_test))
    with pytest.raises(RuntimeError, match="Unexpected key"):
        C.DigitsCNN().load_state_dict(torch.load(path, weights_only=True))


def test_dynamic_quantization_of_a_bare_linear_really_quantizes():
    torch.manual_seed(0)
    layer = nn.Linear(256, 128).eval()
    quantized = C.quantize_dynamic_int8(layer)
    assert C.module_type_counts(quantized) == {"DynamicQuantizedLinear": 1}
    x = torch.randn(8, 256)
    torch.testing.assert_close(quantized(x), layer(x), atol=0.05, rtol=0.05)
    assert C.state_dict_bytes(quantized) < C.state_dict_bytes(layer) / 3


def test_dynamic_quantization_bad_inputs():
    with pytest.raises(ValueError, match="training mode"):
        C.quantize_dynamic_int8(nn.Linear(4, 4))
    with pytest.raises(ValueError, match="nothing|no nn.Linear"):
        C.quantize_dynamic_int8(nn.Sequential(nn.ReLU()).eval())
    with pytest.raises(TypeError, match="model"):
        C.quantize_dynamic_int8("a model")


def test_embedding_quantization_shrinks_the_table():
    model = nn.Sequential(nn.Embedding(1000, 32), nn.Linear(32, 4)).eval()
    linear_only = C.quantize_dynamic_int8(model)
    both = C.quantize_dynamic_int8(model, embeddings=True)
    assert C.state_dict_bytes(both) < C.state_dict_bytes(linear_only) / 2.5
    ids = torch.tensor([[1, 2, 3]])
    torch.testing.assert_close(both(ids), model(ids), atol=0.05, rtol=0.1)


def test_pt2e_static_quantization_keeps_accuracy(trained, data, calibration):
    converted = C.pt2e_static_quantize(trained, data.x_train[:8], calibration)
    fp32 = C.accuracy(trained, data.x_test, data.y_test)
    assert abs(C.accuracy(converted, data.x_test, data.y_test) - fp32) <= 0.02
    with pytest.raises(ValueError, match="calibration"):
        C.pt2e_static_quantize(trained, data.x_train[:8], [])


# -------------------------------------------------------------------------------------- mixed precision
def test_bf16_autocast_trains_and_saves_less_activation_memory(data):
    loader = C.digits_loader(data.x_train[:256], data.y_train[:256])
    torch.manual_seed(0)
    model = C.DigitsCNN(channels=(8, 16), hidden=32)
    losses = C.fit(model, loader, epochs=3, amp=True)
    assert losses[-1] < losses[0]
    assert not model.training
    fp32 = C.saved_activation_bytes(model, data.x_train[:64], data.y_train[:64], amp=False)
    bf16 = C.saved_activation_bytes(model, data.x_train[:64], data.y_train[:64], amp=True)
    assert bf16 < 0.75 * fp32
    with pytest.raises(ValueError, match="amp"):
        C.fit(model, loader, epochs=1, amp=True, device=torch.device("meta"))


# ------------------------------------------------------------------------------------------ distillation
def test_distillation_loss_equals_hand_computation():
    torch.manual_seed(0)
    student, teacher = torch.randn(5, 10), torch.randn(5, 10)
    targets = torch.randint(0, 10, (5,))
    T, alpha = 3.0, 0.3
    p_teacher = torch.softmax(teacher / T, 1)
    log_p_student = torch.log_softmax(student / T, 1)
    kl = (p_teacher * (torch.log(p_teacher) - log_p_student)).sum(1).mean()
    ce = -torch.log_softmax(student, 1)[torch.arange(5), targets].mean()
    expected = alpha * ce + (1 - alpha) * T * T * kl
    got = C.distillation_loss(student, teacher, targets, temperature=T, alpha=alpha)
    torch.testing.assert_close(got, expected)


def test_distillation_loss_is_zero_for_identical_logits():
    logits = torch.randn(4, 10)
    targets = torch.zeros(4, dtype=torch.long)
    loss = C.distillation_loss(logits, logits.clone(), targets, temperature=2.0, alpha=0.0)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    # ... and alpha = 1 is plain cross-entropy
    torch.testing.assert_close(C.distillation_loss(logits, logits, targets, alpha=1.0), F.cross_entropy(logits, targets))


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("inf")])
def test_distillation_rejects_bad_temperature(temperature):
    with pytest.raises(ValueError, match="temperature"):
        C.distillation_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, dtype=torch.long),
                            temperature=temperature)


def test_distillation_rejects_teacher_gradients_and_shape_mismatch():
    targets = torch.zeros(2, dtype=torch.long)
    with pytest.raises(ValueError, match="teacher_logits require grad"):
        C.distillation_loss(torch.zeros(2, 3), torch.zeros(2, 3, requires_grad=True), targets)
    with pytest.raises(ValueError, match="one shape"):
        C.distillation_loss(torch.zeros(2, 3), torch.zeros(3, 3), targets)
    with pytest.raises(ValueError, match="alpha"):
        C.distillation_loss(torch.zeros(2, 3), torch.zeros(2, 3), targets, alpha=1.5)


@pytest.mark.parametrize("cached", [False, True])
def test_distill_trains_the_student_only(trained, data, cached):
    teacher = copy.deepcopy(trained).train()  # distill must put it in eval mode itself
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student = small_cnn()
    start = copy.deepcopy(student.state_dict())
    x, y = data.x_train[:128], data.y_train[:128]
    loader = C.teacher_loader(teacher, x, y) if cached else C.digits_loader(x, y)
    C.distill(student, teacher, loader, epochs=1, beta=10.0)
    assert not teacher.training
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    assert all(p.grad is None for p in teacher.parameters())
    assert any(not torch.equal(start[k], v) for k, v in student.state_dict().items())


def test_cached_and_online_teacher_give_the_same_student(trained, data):
    x, y = data.x_train[:128], data.y_train[:128]
    students = []
    for loader in (C.digits_loader(x, y, seed=3), C.teacher_loader(trained, x, y, seed=3)):
        torch.manual_seed(0)
        student = small_cnn()
        C.distill(student, trained, loader, epochs=2, temperature=4.0, alpha=0.3, beta=5.0)
        students.append(student(data.x_test))
    torch.testing.assert_close(students[0], students[1])


def test_distill_pairs_each_image_with_its_own_teacher_output(trained, data):
    """A student identical to the teacher has zero soft loss only if every batch is aligned."""
    x, y = data.x_train[:200], data.y_train[:200]
    for loader in (C.digits_loader(x, y), C.teacher_loader(trained, x, y)):
        losses = C.distill(copy.deepcopy(trained), trained, loader, epochs=1, alpha=0.0, temperature=2.0, lr=1e-12)
        assert losses[0] == pytest.approx(0.0, abs=1e-6)


def test_distill_rejects_bad_input(trained, data):
    loader = C.digits_loader(data.x_train[:8], data.y_train[:8])
    with pytest.raises(ValueError, match="temperature"):
        C.distill(small_cnn(), trained, loader, epochs=1, temperature=0.0)
    with pytest.raises(ValueError, match="equal length"):
        C.teacher_loader(trained, data.x_train[:8], data.y_train[:7])
    with pytest.raises(TypeError, match="teacher"):
        C.distill(small_cnn(), nn.Linear(64, 10), loader, epochs=1)


def test_attention_maps():
    features = torch.rand(3, 5, 8, 8)
    maps = C.attention_map(features)
    assert maps.shape == (3, 64)
    torch.testing.assert_close(maps.norm(dim=1), torch.ones(3))
    assert C.attention_transfer_loss(features, features * 2).item() == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="H\\*W"):
        C.attention_transfer_loss(features, torch.rand(3, 5, 4, 4))
    with pytest.raises(ValueError, match="features"):
        C.attention_map(torch.rand(3, 64))


# -------------------------------------------------------------------------------------------- deployment
def test_onnx_export_and_int8_runtime(trained, data, calibration, tmp_path):
    path = C.export_onnx(trained, data.x_test[:2], tmp_path / "cnn.onnx")
    session = C.onnx_session(path)
    torch.testing.assert_close(C.onnx_predict(session, data.x_test), trained(data.x_test).detach(),
                               atol=1e-4, rtol=1e-4)
    int8 = C.onnx_static_quantize(path, tmp_path / "cnn.int8.onnx", calibration)
    assert int8.stat().st_size < path.stat().st_size / 3
    accuracy = C.accuracy(lambda x: C.onnx_predict(C.onnx_session(int8), x), data.x_test, data.y_test)
    assert abs(accuracy - C.accuracy(trained, data.x_test, data.y_test)) <= 0.02


def test_variant_row_and_latency():
    row = C.variant_row("int8", size_bytes=250, reference_bytes=1000, latency_ms=1.0, accuracy=0.9, float_bytes=1000)
    assert row["x smaller than fp32"] == 4.0 and row["share of 4x int8 limit"] == 1.0
    row = C.variant_row("student int8", size_bytes=50, reference_bytes=1000, latency_ms=1.0, accuracy=0.9,
                        float_bytes=100)
    assert row["x smaller than fp32"] == 20.0 and row["share of 4x int8 limit"] == 0.5
    row = C.variant_row("student", size_bytes=100, reference_bytes=1000, latency_ms=1.0, accuracy=0.9)
    assert math.isnan(row["share of 4x int8 limit"])
    with pytest.raises(ValueError, match="accuracy"):
        C.variant_row("x", size_bytes=1, reference_bytes=1, latency_ms=1.0, accuracy=1.5)
    with pytest.raises(ValueError, match="float_bytes"):
        C.variant_row("x", size_bytes=1, reference_bytes=1, latency_ms=1.0, accuracy=0.5, float_bytes=0)
    assert C.median_latency_ms(lambda: None, repeats=3) >= 0.0
    with pytest.raises(TypeError, match="fn"):
        C.median_latency_ms(3)


def test_digits_cnn_rejects_bad_shapes():
    with pytest.raises(ValueError, match="channels"):
        C.DigitsCNN(channels=(1, 2, 3))
    with pytest.raises(ValueError, match="hidden"):
        C.DigitsCNN(hidden=0)
    with pytest.raises(ValueError, match="equal length"):
        C.digits_loader(torch.zeros(3, 1, 8, 8), torch.zeros(2))


# ------------------------------------------------------------------------------------------- bad inputs
def tiny_digits(x_test=None):
    """Four blank images: enough for a check to look at, too few to train on (nothing here trains)."""
    x, y = torch.zeros(4, 1, 8, 8), torch.zeros(4, dtype=torch.long)
    return C.Digits(x, x if x_test is None else x_test, y, y)


X, Y = torch.zeros(2, 1, 8, 8), torch.zeros(2, dtype=torch.long)
UNWRITABLE = "no-such-dir/never-written"  # only a removed check would get as far as writing here


@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda: C.digits_tensors(seed=-1), ValueError, "seed"),
        (lambda: C.digits_tensors(seed=0.5), TypeError, "seed"),
        (lambda: C.DigitsCNN(channels=[4, 8]), TypeError, "channels"),
        (lambda: C.DigitsCNN(channels=(0, 8)), ValueError, r"channels\[0\]"),
        (lambda: C.DigitsCNN(channels=(4, 2.5)), TypeError, r"channels\[1\]"),
        (lambda: C.DigitsCNN(hidden=1.5), TypeError, "hidden"),
        (lambda: C.count_parameters(None), TypeError, "model"),
        (lambda: C.fit(nn.ReLU(), C.digits_loader(X, Y), epochs=1), ValueError, r"model \(ReLU\) has no parameters"),
        (lambda: C.accuracy(lambda x: x, torch.zeros(3, 10), torch.zeros(1, dtype=torch.long)), ValueError, "x and y"),
        (lambda: C.train_teacher(tuple(tiny_digits())), TypeError, "data"),
        (lambda: C.train_teacher(tiny_digits(), epochs=0), ValueError, "epochs"),
        (lambda: C.train_teacher(tiny_digits(), seed=-1), ValueError, "seed"),
        (lambda: C.state_dict_bytes(None), TypeError, "model"),
        (lambda: C.prunable_layers(None), TypeError, "model"),
        (lambda: C.prunable_layers(small_cnn(), [nn.Linear]), TypeError, "layer_types"),
        (lambda: C.prunable_layers(small_cnn(), ()), ValueError, "layer_types"),
        (lambda: C.prunable_layers(small_cnn(), (nn.Linear, nn.LSTM)), ValueError, r"layer_types\[1\]"),
        (lambda: C.prunable_layers(nn.ReLU()), ValueError, r"model \(ReLU\) has no layer"),
        (lambda: C.sparsity(None), TypeError, "model"),
        (lambda: C.sparsity(small_cnn(), (nn.LSTM,)), ValueError, r"layer_types\[0\]"),
        pytest.param(lambda: C.sparsity(nn.Linear(4, 0)), ValueError, r"model \(Linear\) has only empty weights",
                     marks=pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")),
        (lambda: C.dense_and_sparse_bytes(None), TypeError, "model"),
        (lambda: C.dense_and_sparse_bytes(small_cnn(), [nn.Linear]), TypeError, "layer_types"),
        (lambda: C.dense_and_sparse_bytes(nn.Linear(4, 3).to(torch.bfloat16)), ValueError, "model must hold CPU"),
        (lambda: C.dense_and_sparse_bytes(nn.Linear(4, 3, device="meta")), ValueError, "model must hold CPU"),
        (lambda: C.make_pruning_permanent(None), TypeError, "model"),
        (lambda: C.sparsity_sweep(None, tiny_digits(), [0.5]), TypeError, "model"),
        (lambda: C.sparsity_sweep(small_cnn(), tuple(tiny_digits()), [0.5]), TypeError, "data"),
        (lambda: C.sparsity_sweep(small_cnn(), tiny_digits(), 0.5), TypeError, "amounts"),
        (lambda: C.sparsity_sweep(small_cnn(), tiny_digits(), []), ValueError, "amounts"),
        (lambda: C.sparsity_sweep(small_cnn(), tiny_digits(), [0.5, 1.0]), ValueError, r"amounts\[1\]"),
        (lambda: C.sparsity_sweep(small_cnn(), tiny_digits(), [0.5], finetune_epochs=0), ValueError, "finetune_epochs"),
        # x_test the model cannot read: the seed must be refused before the first amount is pruned and scored
        (lambda: C.sparsity_sweep(small_cnn(), tiny_digits(torch.zeros(4, 3)), [0.5], seed=-1), ValueError, "seed"),
        (lambda: C.module_type_counts(None), TypeError, "model"),
        (lambda: C.uncalibrated_observers(None), TypeError, "prepared"),
        (lambda: C.quantized_skeleton(nn.Linear(2, 2)), TypeError, "model"),
        (lambda: C.quantized_skeleton(small_cnn(), backend="tpu"), ValueError, "backend"),
        (lambda: C.save_quantized(None, UNWRITABLE), TypeError, "model"),
        (lambda: C.save_quantized(nn.Linear(1, 1), 3), TypeError, "path"),
        (lambda: C.load_quantized(3, small_cnn()), TypeError, "path"),
        (lambda: C.load_quantized(UNWRITABLE, nn.Linear(2, 2)), TypeError, "model"),
        (lambda: C.load_quantized(UNWRITABLE, small_cnn(), backend="tpu"), ValueError, "backend"),
        (lambda: C.saved_activation_bytes(None, X, Y, amp=False), TypeError, "model"),
        (lambda: C.saved_activation_bytes(small_cnn(), X.numpy(), Y, amp=False), TypeError, "x"),
        (lambda: C.saved_activation_bytes(small_cnn(), X, Y[:1], amp=False), ValueError, "x and y"),
        (lambda: C.saved_activation_bytes(small_cnn(), X, Y, amp="yes"), TypeError, "amp"),
        (lambda: C.saved_activation_bytes(small_cnn().to("meta"), X, Y, amp=True), ValueError, "amp"),
        (lambda: C.saved_activation_bytes(nn.ReLU(), X, Y, amp=False), ValueError, r"model \(ReLU\) has no parameters"),
        (lambda: C.export_onnx(None, X, UNWRITABLE), TypeError, "model"),
        (lambda: C.export_onnx(small_cnn(), X, UNWRITABLE), ValueError, "model is in training mode"),
        (lambda: C.export_onnx(small_cnn().eval(), X.numpy(), UNWRITABLE), TypeError, "example"),
        (lambda: C.export_onnx(small_cnn().eval(), X, 3), TypeError, "path must"),
        (lambda: C.onnx_static_quantize(3, UNWRITABLE, [X]), TypeError, "path must"),
        (lambda: C.onnx_static_quantize(UNWRITABLE, 3, [X]), TypeError, "out must"),
        (lambda: C.onnx_static_quantize(UNWRITABLE, UNWRITABLE, 5), TypeError, "calibration must"),
        (lambda: C.onnx_static_quantize(UNWRITABLE, UNWRITABLE, [X.numpy()]), TypeError, r"calibration\[0\]"),
        (lambda: C.onnx_static_quantize(UNWRITABLE, UNWRITABLE, []), ValueError, "calibration"),
    ],
)
def test_bad_inputs_name_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()


@pytest.mark.parametrize("name, value", [("epochs", 0), ("seed", -1)])
def test_refused_teacher_training_leaves_the_global_rng_alone(name, value):
    """train_teacher checks its arguments before it reseeds torch, so a refused call changes no later result."""
    torch.manual_seed(123)
    state = torch.get_rng_state()
    with pytest.raises(ValueError, match=name):
        C.train_teacher(tiny_digits(), **{name: value})
    assert torch.equal(torch.get_rng_state(), state)
