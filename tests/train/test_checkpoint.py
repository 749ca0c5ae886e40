"""tg.train.Checkpoint: object graphs, exact round trips, deferred and refused restores."""

import os
import warnings

import numpy as np
import pytest
from ckpt_helpers import (
    MomentumSGD,
    TinyDense,
    TinyMLP,
    assert_bitwise_equal,
    make_batch,
    snapshot,
    train_steps,
)

import tapegrad as tg
from tapegrad import tracking
from tapegrad.train import (
    Checkpoint,
    CheckpointCorruptError,
    CheckpointMismatchError,
    CheckpointNotFoundError,
    format,
    latest_checkpoint,
)


class Bag(tracking.Trackable):
    """A Trackable holding whatever attributes the test gives it."""

    def __init__(self, **attrs):
        for name, value in attrs.items():
            setattr(self, name, value)


def _all_dtype_variables():
    rng = np.random.default_rng(7)
    nan_payload = np.array([0x7FC00001, 0xFFC12345], np.uint32).view(np.float32)
    return {
        "f32": tg.Variable(np.concatenate([rng.standard_normal(3).astype(np.float32),
                                           nan_payload, [-0.0, np.inf]]).astype(np.float32)),
        "f64": tg.Variable(rng.standard_normal((2, 3))),
        "f16": tg.Variable(rng.standard_normal(4).astype(np.float16)),
        "i32": tg.Variable(np.array([-(2**31), 2**31 - 1], np.int32)),
        "i64": tg.Variable(np.array(2**62 + 3, np.int64), trainable=False),
        "b": tg.Variable(np.array([True, False, True])),
        "empty": tg.Variable(np.zeros((0, 3), np.float32)),
    }


def test_guide_snippet(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x = tg.Variable(10.0)
    checkpoint = Checkpoint(x=x)
    x.assign(2.0)
    save_path = checkpoint.save("./ckpt/")
    assert save_path == "./ckpt/-1"
    x.assign(11.0)
    checkpoint.restore(save_path)
    assert x.numpy() == 2.0
    assert latest_checkpoint("./ckpt") == "./ckpt/-1"


def test_round_trip_is_bit_exact_for_every_dtype(tmp_path):
    variables = _all_dtype_variables()
    root = Bag(**variables)
    checkpoint = Checkpoint(root=root)
    saved = snapshot(variables.values())
    path = checkpoint.write(tmp_path / "rt")
    for var in variables.values():
        if var.dtype == np.bool_:
            var.assign(~var.numpy())
        elif var.dtype.kind == "f":
            var.assign(var.numpy() + np.ones_like(var.numpy()))
        else:
            var.assign(var.numpy() - np.ones_like(var.numpy()))
    checkpoint.restore(path).assert_consumed()
    assert_bitwise_equal(saved, list(variables.values()))


def test_save_numbers_and_index(tmp_path):
    v = tg.Variable(1.0)
    checkpoint = Checkpoint(v=v)
    prefix = os.path.join(tmp_path, "ckpt")
    assert checkpoint.save(prefix) == prefix + "-1"
    v.assign(5.0)
    assert checkpoint.save(prefix) == prefix + "-2"
    assert int(checkpoint.save_counter.numpy()) == 2
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "ckpt-1.tgckpt", "ckpt-2.tgckpt"]
    text = (tmp_path / "checkpoint").read_text()
    assert 'model_checkpoint_path: "ckpt-2"' in text
    assert text.count("all_model_checkpoint_paths:") == 2
    assert latest_checkpoint(tmp_path) == prefix + "-2"
    # write(): no number, no index change, save_counter untouched
    assert checkpoint.write(tmp_path / "manual") == str(tmp_path / "manual")
    assert latest_checkpoint(tmp_path) == prefix + "-2"
    assert int(checkpoint.save_counter.numpy()) == 2
    # the save counter itself is restored
    fresh = Checkpoint(v=tg.Variable(0.0))
    fresh.restore(prefix + "-1").assert_consumed()
    assert int(fresh.save_counter.numpy()) == 1
    assert fresh.save(prefix) == prefix + "-2"


def test_restore_accepts_file_name_and_pathlike(tmp_path):
    v = tg.Variable([1.0, 2.0])
    checkpoint = Checkpoint(v=v)
    path = checkpoint.save(tmp_path / "c")
    v.assign([0.0, 0.0])
    checkpoint.restore(path + ".tgckpt")
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])
    v.assign([0.0, 0.0])
    checkpoint.read(tmp_path / "c-1")
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])


def test_restore_none_is_a_noop_status():
    v = tg.Variable(3.0)
    status = Checkpoint(v=v).restore(None)
    assert v.numpy() == 3.0
    assert status.expect_partial() is status
    for check in (status.assert_consumed, status.assert_existing_objects_matched,
                  status.assert_nontrivial_match):
        with pytest.raises(AssertionError, match="No checkpoint specified"):
            check()
    with pytest.raises(TypeError):
        Checkpoint(v=v).read(None)


def test_missing_file_and_directory_raise(tmp_path):
    checkpoint = Checkpoint(v=tg.Variable(1.0))
    with pytest.raises(CheckpointNotFoundError, match="no checkpoint"):
        checkpoint.restore(tmp_path / "absent")
    with pytest.raises(CheckpointNotFoundError, match="is a directory"):
        checkpoint.restore(tmp_path)


def test_continued_training_matches_uninterrupted_run(tmp_path):
    step = tg.train.get_or_create_global_step()
    model, optimizer = TinyMLP(seed=3), MomentumSGD(0.05, 0.9)
    train_steps(model, optimizer, 4, first_step=0, global_step=step)
    checkpoint = Checkpoint(model=model, optimizer=optimizer, step=step)
    path = checkpoint.save(tmp_path / "ckpt")
    saved_model = snapshot(model.variables)
    saved_slots = snapshot([optimizer._velocity[id(v)] for v in model.variables])
    reference = train_steps(model, optimizer, 5, first_step=4, global_step=step)
    assert int(step.numpy()) == 9

    # Same objects, perturbed: every variable, slot and the step come back bit-exactly.
    for var in model.variables + [optimizer._velocity[id(v)] for v in model.variables]:
        var.assign(var.numpy() * 3 + 1)
    step.assign(12345)
    checkpoint.restore(path).assert_consumed()
    assert_bitwise_equal(saved_model, model.variables)
    assert_bitwise_equal(saved_slots, [optimizer._velocity[id(v)] for v in model.variables])
    assert int(step.numpy()) == 4
    assert train_steps(model, optimizer, 5, first_step=4, global_step=step) == reference

    # Fresh, unbuilt model and optimizer: values arrive as variables and slots appear.
    tg.train.global_step._reset_for_tests()
    step2 = tg.train.get_or_create_global_step()
    model2, optimizer2 = TinyMLP(seed=99), MomentumSGD(0.05, 0.9)
    status = Checkpoint(model=model2, optimizer=optimizer2, step=step2).restore(path)
    assert int(step2.numpy()) == 4
    assert len(status.pending()) == 8  # 4 weights + 4 slots not created yet
    with pytest.raises(CheckpointMismatchError):
        status.assert_consumed()
    status.assert_existing_objects_matched()  # nothing that exists lacks a value
    continued = train_steps(model2, optimizer2, 5, first_step=4, global_step=step2)
    assert continued == reference
    status.assert_consumed()
    assert status.pending() == []


def test_deferred_values_arrive_before_the_attribute_is_set(tmp_path, monkeypatch):
    layer = TinyDense(4, seed=1)
    layer(tg.ones((2, 3)))
    path = Checkpoint(layer=layer).write(tmp_path / "d")
    fresh = TinyDense(4, seed=2)
    Checkpoint(layer=fresh).restore(path)
    seen = {}
    original = tracking.variable_created

    def spy(owner, name, variable):
        original(owner, name, variable)
        seen[name] = np.array(variable.numpy())  # value right after the hook

    monkeypatch.setattr(tracking, "variable_created", spy)
    fresh(tg.ones((2, 3)))
    np.testing.assert_array_equal(seen["kernel"], layer.kernel.numpy())
    assert_bitwise_equal(snapshot([layer.kernel, layer.bias]), [fresh.kernel, fresh.bias])


def test_deferred_through_plain_attribute_and_list_append(tmp_path):
    holder = Bag(items=[Bag(v=tg.Variable([1.0, 2.0]))], late=tg.Variable(5, dtype=tg.int32))
    path = Checkpoint(h=holder).write(tmp_path / "p")

    fresh = Bag(items=[])
    checkpoint = Checkpoint(h=fresh)
    status = checkpoint.restore(path)
    # a plain attribute set on a matched Trackable (no hook call)
    fresh.late = tg.Variable(0, dtype=tg.int32)
    assert int(fresh.late.numpy()) == 5
    # an object appended to a list: found when its own attribute is set...
    item = Bag()
    fresh.items.append(item)
    item.v = tg.Variable([0.0, 0.0])
    # ...at the latest by the next assert_* call, which walks the graph again
    status.assert_consumed()
    np.testing.assert_array_equal(item.v.numpy(), [1.0, 2.0])


def test_shape_mismatch_raises_with_report_and_changes_nothing(tmp_path):
    model = TinyMLP(seed=0)
    model(tg.ones((2, 5)))
    for var in model.variables:  # no zeros: an assignment must show in the values
        var.assign(var.numpy() + np.float32(0.25))
    path = Checkpoint(model=model, extra=tg.Variable(1.0)).write(tmp_path / "m")

    other = TinyMLP(seed=1)
    other.layers[0] = TinyDense(7, seed=1)  # 5->7 instead of 5->8
    other(tg.ones((2, 5)))
    other.more = tg.Variable(2.0)
    before = snapshot(other.variables)
    with pytest.raises(CheckpointMismatchError) as info:
        Checkpoint(model=other).restore(path)
    assert_bitwise_equal(before, other.variables)
    report = info.value.report
    mismatched = {path for path, _, _ in report.mismatched}
    assert mismatched == {"model/layers/0/kernel", "model/layers/0/bias",
                          "model/layers/1/kernel"}
    assert "model/more" in report.missing
    assert "extra" in report.unexpected
    message = str(info.value)
    assert "model/layers/0/kernel: variable float32[5, 8] vs variable float32[5, 7]" in message
    assert isinstance(info.value, ValueError) and isinstance(info.value, AssertionError)


def test_dtype_and_kind_mismatch_raise(tmp_path):
    path = Checkpoint(a=tg.Variable([1.0, 2.0]), b=tg.Variable(1.0)).write(tmp_path / "k")
    a = tg.Variable(np.array([0.0, 0.0]))  # float64, saved float32
    with pytest.raises(CheckpointMismatchError, match="float32\\[2\\] vs variable float64"):
        Checkpoint(a=a).restore(path)
    np.testing.assert_array_equal(a.numpy(), [0.0, 0.0])
    b = Bag(x=tg.Variable(1.0))  # an object where a variable was saved
    with pytest.raises(CheckpointMismatchError, match="b: variable float32\\[\\] vs object Bag"):
        Checkpoint(b=b).restore(path)


def test_corrupt_file_changes_nothing(tmp_path):
    v = tg.Variable(np.arange(10, dtype=np.float32))
    checkpoint = Checkpoint(v=v)
    path = checkpoint.save(tmp_path / "c")
    data = bytearray(open(path + ".tgckpt", "rb").read())
    data[-40] ^= 0xFF
    open(path + ".tgckpt", "wb").write(bytes(data))
    v.assign(np.zeros(10, np.float32))
    with pytest.raises(CheckpointCorruptError):
        checkpoint.restore(path)
    np.testing.assert_array_equal(v.numpy(), np.zeros(10))


def test_status_assertions(tmp_path):
    a, b = tg.Variable(1.0), tg.Variable(2.0)
    path = Checkpoint(a=a, b=b).write(tmp_path / "s")
    # fewer live objects than saved: partial
    status = Checkpoint(a=tg.Variable(0.0)).restore(path)
    status.assert_existing_objects_matched()
    status.assert_nontrivial_match()
    with pytest.raises(CheckpointMismatchError) as info:
        status.assert_consumed()
    assert info.value.report.unexpected == ["b"]
    assert info.value.report.missing == []
    # more live objects than saved
    status = Checkpoint(a=tg.Variable(0.0), b=tg.Variable(0.0), c=tg.Variable(0.0)).restore(path)
    with pytest.raises(CheckpointMismatchError) as info:
        status.assert_existing_objects_matched()
    assert info.value.report.missing == ["c"]
    # nothing in common but the save counter
    status = Checkpoint(z=tg.Variable(0.0)).restore(path)
    with pytest.raises(CheckpointMismatchError, match="nontrivial"):
        status.assert_nontrivial_match()
    assert status.expect_partial() is status


def test_unused_values_warn_when_replaced_unless_expected(tmp_path):
    path = Checkpoint(a=tg.Variable(1.0), b=tg.Variable(2.0)).write(tmp_path / "w")
    checkpoint = Checkpoint(a=tg.Variable(0.0))
    checkpoint.restore(path)
    with pytest.warns(UserWarning, match="never used: b"):
        checkpoint.restore(None)
    checkpoint.restore(path).expect_partial()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checkpoint.restore(None)


def test_graph_walk_shared_cycles_containers_and_private(tmp_path):
    shared = tg.Variable([3.0])
    parent = Bag(first=shared)
    child = Bag(parent=parent, again=shared)  # public back-reference: a cycle
    parent.child = child
    parent.table = {"a/b": tg.Variable(1.0), 7: [tg.Variable(2.0), (tg.Variable(3.0),)],
                    ("tuple", "key"): tg.Variable(9.0), object(): tg.Variable(8.0)}
    loop = []
    loop.append(loop)
    parent.loop = loop
    parent._hidden = tg.Variable(4.0)

    class Private(Bag):
        _tracked_private = ("_kept",)

    parent.priv = Private(_kept=tg.Variable(5.0), _dropped=tg.Variable(6.0))
    graph, variables = tg.train.graph.build_graph(Checkpoint(p=parent))
    paths = [path for path, _ in variables]
    # keys with a stable repr (a tuple of str) are spelled by it; others are not edges
    assert paths == ["save_counter", "p/first", "p/table/a%2Fb", "p/table/7/0",
                     "p/table/7/1/0", "p/table/('tuple', 'key')", "p/priv/_kept"]
    # the shared variable is one node with two incoming edges
    assert len(variables) == 7
    nodes = graph["nodes"]
    child_node = dict(nodes[dict(nodes[0]["children"])["p"]]["children"])["child"]
    assert dict(nodes[child_node]["children"])["again"] == dict(
        nodes[dict(nodes[0]["children"])["p"]]["children"])["first"]

    path = Checkpoint(p=parent).write(tmp_path / "g")
    shared.assign([0.0])
    parent.priv._kept.assign(0.0)
    Checkpoint(p=parent).restore(path).assert_consumed()
    assert shared.numpy()[0] == 3.0 and parent.priv._kept.numpy() == 5.0


def test_nested_checkpoints(tmp_path):
    inner = Checkpoint(v=tg.Variable(1.5))
    outer = Checkpoint(inner=inner, w=tg.Variable(2.5))
    path = outer.write(tmp_path / "n")
    inner.v.assign(0.0)
    outer.w.assign(0.0)
    outer.restore(path).assert_consumed()
    assert inner.v.numpy() == 1.5 and outer.w.numpy() == 2.5


def test_constructor_validation():
    with pytest.raises(ValueError, match="reserved"):
        Checkpoint(save=tg.Variable(1.0))
    with pytest.raises(ValueError, match="reserved"):
        Checkpoint(save_counter=tg.Variable(1.0))
    with pytest.raises(ValueError, match="reserved"):
        Checkpoint(_x=tg.Variable(1.0))
    with pytest.raises(TypeError, match="must be a tg.Variable"):
        Checkpoint(x=3.0)


def test_bad_children_are_reported(tmp_path):
    class Weird(tracking.Trackable):
        def _checkpoint_children(self):
            return {"x": 3}

    with pytest.raises(TypeError, match="child 'x' of Weird is a int"):
        Checkpoint(w=Weird()).write(tmp_path / "x")


def test_failed_save_keeps_previous_checkpoint_and_index(tmp_path, monkeypatch):
    v = tg.Variable(1.0)
    checkpoint = Checkpoint(v=v)
    first = checkpoint.save(tmp_path / "ckpt")
    index_before = (tmp_path / "checkpoint").read_bytes()
    file_before = open(first + ".tgckpt", "rb").read()

    def crash(*args, **kwargs):
        yield b"half a checkpoint"
        raise KeyboardInterrupt  # e.g. the process being stopped mid-write

    monkeypatch.setattr(format, "encode_chunks", crash)
    v.assign(7.0)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(tmp_path / "ckpt")
    assert (tmp_path / "checkpoint").read_bytes() == index_before
    assert open(first + ".tgckpt", "rb").read() == file_before
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "ckpt-1.tgckpt"]
    assert int(checkpoint.save_counter.numpy()) == 1
    assert latest_checkpoint(tmp_path) == first
    checkpoint.restore(latest_checkpoint(tmp_path))
    assert v.numpy() == 1.0


def test_global_step():
    assert tg.train.get_global_step() is None
    step = tg.train.get_or_create_global_step()
    assert tg.train.get_or_create_global_step() is step
    assert tg.train.get_global_step() is step
    assert step.dtype == np.int64 and step.shape == () and not step.trainable
    assert int(step.numpy()) == 0
    tg.train.global_step._reset_for_tests()
    assert tg.train.get_global_step() is None
    assert tg.train.get_or_create_global_step() is not step


def test_large_checkpoint_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    big = [tg.Variable(rng.standard_normal((1000, 1000)).astype(np.float32)) for _ in range(3)]
    checkpoint = Checkpoint(weights=big)
    values = snapshot(big)
    path = checkpoint.write(tmp_path / "big")
    for var in big:
        var.assign(np.zeros((1000, 1000), np.float32))
    checkpoint.restore(path).assert_consumed()
    assert_bitwise_equal(values, big)


def test_batches_helper_is_deterministic():
    # Guards the continued-training comparison: same step, same data.
    a, b = make_batch(3), make_batch(3)
    np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())


def test_deferred_restore_survives_dropping_the_checkpoint(tmp_path):
    import gc

    layer = TinyDense(2, seed=4)
    layer(tg.ones((1, 3)))
    path = Checkpoint(layer=layer).write(tmp_path / "drop")
    fresh = TinyDense(2, seed=5)
    Checkpoint(layer=fresh).restore(path)  # Checkpoint and status dropped at once
    gc.collect()
    fresh(tg.ones((1, 3)))
    assert_bitwise_equal(snapshot([layer.kernel, layer.bias]), [fresh.kernel, fresh.bias])
    # once everything is restored, nothing is held any more
    assert "_tapegrad_pending_restores" not in fresh.__dict__
    assert not tracking._pending_restores


@pytest.mark.cuda
def test_gpu_variables_round_trip(tmp_path):
    if tg.num_gpus() == 0:
        pytest.skip("no GPU")
    rng = np.random.default_rng(3)
    value = rng.standard_normal((64, 32)).astype(np.float32)
    with tg.device("/gpu:0"):
        v = tg.Variable(value)
    checkpoint = Checkpoint(v=v)
    path = checkpoint.write(tmp_path / "gpu")
    with tg.device("/gpu:0"):
        v.assign(tg.zeros((64, 32)))
    checkpoint.restore(path).assert_consumed()
    assert v.device.startswith("/gpu")
    assert v.numpy().tobytes() == value.tobytes()
    cpu = tg.Variable(np.zeros((64, 32), np.float32))
    Checkpoint(v=cpu).restore(path).assert_consumed()  # saved on GPU, restored on CPU
    assert cpu.numpy().tobytes() == value.tobytes()


def test_global_step_lives_on_the_host():
    step = tg.train.get_or_create_global_step()
    assert step.device == "/cpu:0"
