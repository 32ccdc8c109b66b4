"""The trust boundary between the student's kernel and the test kernel, piece by piece, without kernels.

What crosses is data (codec), in frames with limits (rpc), as calls that bring back argument changes and
errors (exchange), between the test kernel's harness and the student kernel's subject. Here both ends run
in this process (the subject in a thread), so each promise of docs/GRADING_THREATS.md about the exchange
(#29-#35, #42-#48) is attacked directly: forged replies, lying objects, malformed frames.
"""

from __future__ import annotations

import collections
import copy
import json
import os
import random
import socket
import struct
import tempfile
import threading
import time
import warnings

import nbformat
import numpy as np
import pytest
import torch
from torch import nn

from course_utils.checks_torch import ForwardRecorder
from dlcourse.grading.codec import Decoder, Encoder, decode_value, encode_value
from dlcourse.grading.codec_common import CodecError
from dlcourse.grading.codec_updates import apply_update
from dlcourse.grading.exchange import describe_error, raised_error
from dlcourse.grading.harness import Harness, library_name
from dlcourse.grading.harness_proxies import StudentCodeError, StudentFunction, StudentObject
from dlcourse.grading.lint import lint_split
from dlcourse.grading.plan import plan_notebook
from dlcourse.grading.rpc import Channel, PeerTimeout, ProtocolError
from dlcourse.grading.subject import Subject
from tests.conftest import ROOT


def roundtrip(value):
    node, blobs = encode_value(value)
    node = json.loads(json.dumps(node))  # what the wire carries
    return decode_value(node, blobs)


# ---------------------------------------------------------------- codec: what is data
@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 2**70, -(2**100), 1.5, float("inf"), float("-inf"), 1 + 2j, "", "текст", b"\x00\xff",
    bytearray(b"ab"), (1, (2.0, "x")), [1, [2, [3]]], {"a": 1, 2: "b", (1, 2): [3]}, {1, 2}, frozenset({3}),
    range(1, 10, 3), slice(1, None, 2), Ellipsis, collections.OrderedDict(a=1, b=2),
])
def test_python_values_keep_value_and_type(value):
    back = roundtrip(value)
    assert back == value and type(back) is type(value)


@pytest.mark.parametrize("array", [
    np.arange(6.0).reshape(2, 3), np.array(3.5), np.zeros((0, 4)), np.arange(10)[::3], np.array([True, False]),
    np.array([1, 2], dtype=np.uint8), np.array([1 + 2j], dtype=np.complex64), np.array(["ab", "c"]),
    np.asfortranarray(np.arange(6.0).reshape(2, 3)), np.array([1.0, None, "x"], dtype=object),
])
def test_arrays_keep_values_shape_and_dtype(array):
    back = roundtrip(array)
    assert type(back) is np.ndarray and back.dtype == array.dtype and back.shape == array.shape
    assert back.tolist() == array.tolist()


def test_numpy_scalars_are_numpy_scalars():
    for value in (np.float64(2.5), np.int32(-3), np.True_, np.float32(1.25)):
        back = roundtrip(value)
        assert type(back) is type(value) and back == value
    assert roundtrip(np.True_) is np.True_  # `converged is np.True_` keeps working


def test_a_subclass_of_ndarray_arrives_as_a_plain_array():  # 33: a look-alike type
    class Liar(np.ndarray):
        def __eq__(self, other):
            return np.ones(self.shape, dtype=bool)

    back = roundtrip(np.zeros(3).view(Liar))
    assert type(back) is np.ndarray and not (back == 1).any()


def test_tensors_parameters_and_gradients():
    weight = nn.Parameter(torch.arange(4.0).reshape(2, 2))
    weight.grad = torch.ones(2, 2)
    back = roundtrip({"w": weight, "b": torch.tensor([1, 2], dtype=torch.bfloat16), "e": torch.empty(0, 3),
                      "r": torch.tensor([1.0], requires_grad=True)})
    assert isinstance(back["w"], nn.Parameter) and torch.equal(back["w"].grad, torch.ones(2, 2))
    assert back["b"].dtype == torch.bfloat16 and back["e"].shape == (0, 3) and back["r"].requires_grad


def test_generators_keep_their_state():
    torch_gen, numpy_gen = torch.Generator().manual_seed(3), np.random.default_rng(4)
    legacy, python = np.random.RandomState(5), random.Random(6)
    back = roundtrip([torch_gen, numpy_gen, legacy, python])
    assert torch.equal(torch.rand(3, generator=back[0]), torch.rand(3, generator=torch_gen))
    assert back[1].random() == numpy_gen.random() and back[2].rand() == legacy.rand()
    assert back[3].random() == python.random()


def test_modules_and_optimizers_arrive_as_trusted_torch_objects():
    torch.manual_seed(0)
    net = ForwardRecorder(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Dropout(0.25), nn.Linear(3, 2)))
    net(torch.randn(4, 2))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    net(torch.randn(4, 2)).sum().backward()
    optimizer.step()
    loss = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0]), label_smoothing=0.1)
    back_net, back_optimizer, back_loss = roundtrip([net, optimizer, loss])
    assert type(back_net) is ForwardRecorder and type(back_net.inner[2]) is nn.Dropout and back_net.inner[2].p == 0.25
    assert len(back_net.calls) == 2 and back_net.calls[0]["training"] is True
    assert [p is q for p, q in zip(back_optimizer.param_groups[0]["params"], back_net.parameters())] == [True] * 4
    assert int(back_optimizer.state[back_net.inner[0].weight]["step"]) == 1
    x = torch.randn(5, 2)
    back_net.eval(), net.eval()
    assert torch.equal(back_net(x), net(x))
    assert back_loss.label_smoothing == 0.1 and torch.equal(back_loss.weight, loss.weight)


def test_shared_objects_and_cycles_stay_shared():
    array = np.zeros(2)
    items: list = [array, array]
    items.append(items)
    back = roundtrip(items)
    assert back[0] is back[1] and back[2] is back


# ---------------------------------------------------------------- codec: what is refused
def test_objects_that_are_not_data_are_refused_by_name():
    class Secret:
        pass

    with pytest.raises(CodecError, match="Secret is not data"):
        encode_value(Secret())
    with pytest.raises(CodecError, match="subclass"):
        encode_value(torch.zeros(2).as_subclass(type("MyTensor", (torch.Tensor,), {})))

    class Custom(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(CodecError, match="Custom is not data"):  # a module of a class off the list
        encode_value(Custom())


def test_nesting_and_size_bombs_are_refused():
    deep: list = []
    for _ in range(200):
        deep = [deep]
    with pytest.raises(CodecError, match="nested more than"):
        encode_value(deep)
    node: dict = {"t": "list", "m": 0, "v": []}
    inner = node
    for index in range(1, 200):
        child = {"t": "list", "m": index, "v": []}
        inner["v"].append(child)
        inner = child
    with pytest.raises(CodecError, match="nested more than"):
        decode_value(node, [])


@pytest.mark.parametrize("node, blobs, words", [
    ({"t": "os.system"}, [], "unknown kind"),
    ({"t": "nd", "m": 0, "d": "<f8", "s": [3], "b": 0}, [b"x" * 16], "does not match its shape"),
    ({"t": "nd", "m": 0, "d": "|O", "s": [1], "b": 0}, [b"x" * 8], "may not be sent"),
    ({"t": "nd", "m": 0, "d": "|V8", "s": [1], "b": 0}, [b"x" * 8], "may not be sent"),
    ({"t": "nd", "m": 0, "d": "<f8", "s": [-1], "b": 0}, [b""], "malformed shape"),
    ({"t": "nd", "m": 5, "d": "<f8", "s": [0], "b": 0}, [b""], "out of order"),
    ({"t": "ref", "i": 3}, [], "does not have"),
    ({"t": "int", "v": "1" * 5000}, [], "malformed integer"),
    ({"t": "handle", "i": 1}, [], "handle where none may be"),
    ({"t": "cb", "i": 1}, [], "callback where none may be"),
    ({"t": "name", "n": "os"}, [], "name reference where none may be"),
    ({"t": "module", "m": 0, "c": "os.system", "tr": True, "a": {}, "p": {}, "bu": {}, "sub": {}}, [],
     "may not be sent"),
    ({"t": "module", "m": 0, "c": "torch.nn.Linear", "tr": True, "a": {"forward": 1}, "p": {}, "bu": {}, "sub": {}},
     [], "would replace a method"),
    ({"t": "module", "m": 0, "c": "torch.nn.Linear", "tr": True, "a": {"__class__": 1}, "p": {}, "bu": {},
      "sub": {}}, [], "module part with the name"),
    ({"t": "module", "m": 0, "c": "torch.nn.Linear", "tr": True, "a": {}, "p": {"weight": 3}, "bu": {}, "sub": {}},
     [], "is not a parameter"),
    ({"t": "optim", "m": 0, "c": "torch.optim.LBFGS", "defaults": {}, "groups": [], "state": []}, [],
     "may not be sent"),
    ({"t": "dict", "m": 0, "k": [{"t": "list", "m": 1, "v": []}], "v": [1]}, [], "unhashable"),
    ([1, 2], [], "malformed value"),
])
def test_malformed_values_are_refused_with_a_reason(node, blobs, words):  # 43
    with pytest.raises(CodecError, match=words):
        decode_value(node, blobs)


def test_random_garbage_never_does_more_than_refuse():  # 43: a fuzz of encoded trees
    torch.manual_seed(0)
    samples = [np.arange(6.0).reshape(2, 3), {"a": [1, (2, 3)], "b": torch.ones(2)},
               nn.Sequential(nn.Linear(2, 2), nn.ReLU()), torch.Generator().manual_seed(1)]
    rng = random.Random(0)
    junk = [None, -1, 10**9, "", "x" * 3, [], {}, {"t": "ref", "i": 0}, 1.5, True, "<f8", "torch.nn.Linear"]

    def collect(item, holders):
        if isinstance(item, dict):
            if item:
                holders.append(item)
            for value in item.values():
                collect(value, holders)
        elif isinstance(item, list):
            for value in item:
                collect(value, holders)
        return holders

    for trial in range(400):
        node, blobs = encode_value(samples[trial % len(samples)])
        tree = json.loads(json.dumps(node))
        holders = collect(tree, [])
        target = rng.choice(holders)
        key = rng.choice(list(target))
        target[key] = rng.choice(junk)
        try:
            decode_value(tree, blobs)
        except CodecError:
            pass


# ---------------------------------------------------------------- codec: changes made during a call
def test_changes_to_shared_objects_are_written_back_in_place():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 2))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
    mine = [np.zeros(3), {"a": 1}, net, optimizer, torch.Generator().manual_seed(2)]
    encoder = Encoder()
    node = encoder.encode(mine)
    decoder = Decoder(encoder.blobs)
    theirs = decoder.decode(json.loads(json.dumps(node)))
    theirs[0][:] = 7
    theirs[1]["b"] = 2
    theirs[2](torch.ones(1, 2)).sum().backward()
    theirs[3].step()
    torch.rand(2, generator=theirs[4])
    back = Encoder(memo=decoder.memo)
    updates = [(i, back.content(obj)) for i, obj in enumerate(decoder.memo.objects)
               if isinstance(obj, (list, dict, np.ndarray, torch.Tensor, nn.Module, torch.optim.Optimizer,
                                   torch.Generator))]
    reader = Decoder(back.blobs, memo=encoder.memo)
    weight = net[0].weight
    before = weight.detach().clone()
    for index, update in updates:
        apply_update(encoder.memo.objects[index], json.loads(json.dumps(update)), reader)
    assert mine[0].tolist() == [7.0] * 3 and mine[1] == {"a": 1, "b": 2}
    assert net[0].weight is weight and not torch.equal(weight, before) and weight.grad is not None
    expected = torch.Generator().manual_seed(2)
    torch.rand(2, generator=expected)
    assert torch.equal(mine[4].get_state(), expected.get_state())


def test_an_update_must_target_a_shared_object_and_keep_its_shape():
    encoder = Encoder()
    encoder.encode([np.zeros(3)])
    reader = Decoder([b"\x00" * 16], memo=encoder.memo)
    with pytest.raises(CodecError, match="did not share"):
        apply_update(np.zeros(3), {"t": "nd", "m": 1, "d": "<f8", "s": [2], "b": 0}, reader)
    with pytest.raises(CodecError, match="shape or dtype"):
        apply_update(encoder.memo.objects[1], {"t": "nd", "m": 1, "d": "<f8", "s": [2], "b": 0}, reader)


# ---------------------------------------------------------------- rpc: frames and limits
@pytest.fixture
def pair():
    a, b = socket.socketpair()
    yield Channel(a, 1 << 20), Channel(b, 1 << 20)
    a.close()
    b.close()


def test_frames_carry_headers_and_buffers(pair):
    sender, receiver = pair
    sender.send({"op": "x", "v": [1, 2]}, [b"abc", memoryview(np.arange(3.0))])
    header, blobs = receiver.receive(deadline=time.monotonic() + 5)
    assert header["op"] == "x" and blobs[0] == b"abc" and np.frombuffer(blobs[1]).tolist() == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("raw, words", [
    (struct.pack(">Q", 2**40), "header of"),
    (struct.pack(">Q", 5) + b"{bad}", "malformed message header"),
    (struct.pack(">Q", 300_000) + b"[" * 150_000 + b"]" * 150_000, "malformed message header"),
    (struct.pack(">Q", 13) + b'{"blobs":"x"}', "no list of buffer sizes"),
    (struct.pack(">Q", 20) + b'{"blobs":[10000000]}', "over the"),
    (struct.pack(">Q", 13) + b'{"blobs":[3]}' + struct.pack(">Q", 4) + b"abcd", "does not match"),
])
def test_malformed_frames_end_the_exchange(pair, raw, words):  # 43
    sender, receiver = pair

    def send() -> None:
        try:
            sender.sock.sendall(raw)
            sender.sock.shutdown(socket.SHUT_WR)
        except OSError:  # the receiver gave up first
            pass

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    with pytest.raises(ProtocolError, match=words):
        receiver.receive(deadline=time.monotonic() + 5)
    receiver.sock.close()
    thread.join(timeout=5)


def test_a_silent_peer_times_out(pair):
    _, receiver = pair
    started = time.monotonic()
    with pytest.raises(PeerTimeout):
        receiver.receive(deadline=time.monotonic() + 0.3)
    assert time.monotonic() - started < 2


# ---------------------------------------------------------------- errors as data
def test_errors_cross_as_their_nearest_builtin_class():
    class Mine(KeyError):
        pass

    assert describe_error(Mine("k")) == {"type": "KeyError", "message": "'k'"}
    assert type(raised_error({"type": "FloatingPointError", "message": "overflow"})) is FloatingPointError
    assert type(raised_error({"type": "SystemExit", "message": ""})) is RuntimeError
    assert type(raised_error({"type": "__import__", "message": ""})) is RuntimeError
    assert len(str(raised_error({"type": "ValueError", "message": "x" * 10**6}))) < 3000


# ---------------------------------------------------------------- harness and subject, end to end
STUDENT = '''
import numpy as np, torch, warnings, random
def double(x):
    return 2 * x
def zero_first(w):
    w[0] = 0.0
    return w
def same_or_copy(w, same):
    return w if same else w.copy()
def apply(f, x):
    return f(x) + 1
def grads(W, activation):
    W = torch.tensor(W, requires_grad=True)
    activation(W).sum().backward()
    return W.grad.numpy()
def overflow(x):
    return np.exp(x)
def warn():
    warnings.warn("careful", UserWarning)
    return 1
def draw():
    return float(np.random.rand())
def reseed():
    np.random.seed(123)
    return 0
def no_grad_forever():
    torch.set_grad_enabled(False)
class Always:
    def __eq__(self, other): return True
    def __bool__(self): return True
    def __float__(self): return 3.0
    def __hash__(self): return 0
    def __array_interface__(self): return {}
    def __add__(self, other): return 40 + other
    def __radd__(self, other): return other + 40
    value = 5
def liar():
    return Always()
def huge():
    return np.zeros(40_000_000)
def sleepy():
    import time
    time.sleep(30)
'''


class _Session:
    """A harness and a subject joined by a real socket, the subject serving in a thread."""

    def __init__(self, student_code: str = STUDENT, subject_cls=Subject, max_bytes: int = 64 * 2**20):
        namespace: dict = {}
        exec(student_code, namespace)
        self.subject = subject_cls(namespace)
        self.folder = tempfile.mkdtemp()
        self.path = os.path.join(self.folder, "socket")
        self.harness = Harness(self.path, max_message_bytes=max_bytes)
        self.names = sorted(k for k in namespace if not k.startswith("__") and k not in ("np", "torch", "warnings",
                                                                                           "random"))
        self.namespace: dict = {}
        self._start()

    def _start(self, seconds: float = 10) -> None:
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        self.harness.begin(self.namespace, self.names, seconds, "token")

    def _serve(self) -> None:
        try:
            self.subject.serve(self.path, "token")
        except Exception:
            pass

    def close(self) -> None:
        self.harness.close()
        self.thread.join(timeout=5)


@pytest.fixture
def session():
    made = _Session()
    yield made
    made.close()


def test_student_functions_are_called_with_data(session):
    ns = session.namespace
    assert isinstance(ns["double"], StudentFunction) and ns["double"](21) == 42
    assert ns["double"](np.arange(3)).tolist() == [0, 2, 4]


def test_plain_data_crosses_by_value_so_a_tests_values_cannot_be_changed(session):  # 48
    ns = session.namespace
    w = np.ones(3)
    result = ns["zero_first"](w)
    assert w.tolist() == [1.0, 1.0, 1.0] and result.tolist() == [0.0, 1.0, 1.0] and result is not w
    assert ns["same_or_copy"](w, True) is not w  # a result is never one of the test's own arrays


def test_models_and_generators_are_shared_so_training_reaches_the_test():
    made = _Session(STUDENT + """
def train(model, optimizer, generator):
    optimizer.zero_grad()
    model(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    return model, torch.rand(1, generator=generator)
""")
    try:
        torch.manual_seed(0)
        model = nn.Linear(2, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
        generator = torch.Generator().manual_seed(4)
        weight = model.weight.detach().clone()
        returned, _ = made.namespace["train"](model, optimizer, generator)
        assert returned is model and not torch.equal(model.weight, weight) and model.weight.grad is not None
        expected = torch.Generator().manual_seed(4)
        torch.rand(1, generator=expected)
        assert torch.equal(generator.get_state(), expected.get_state())
    finally:
        made.close()


def test_callbacks_run_in_the_test_kernel_with_data(session):
    seen = []
    assert session.namespace["apply"](lambda x: seen.append(x) or x * 10, 4) == 41
    assert seen == [4]
    # a callback that calls the student's code again (nested)
    assert session.namespace["apply"](lambda x: session.namespace["double"](x), 5) == 11


def test_library_functions_are_passed_by_name_so_autograd_works(session):
    assert library_name(torch.sigmoid) == "torch.sigmoid" and library_name(lambda x: x) is None
    grads = session.namespace["grads"](np.zeros(2), torch.sigmoid)
    assert np.allclose(grads, 0.25)


def test_the_tests_error_handling_applies_to_the_students_code(session):
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        session.namespace["overflow"](np.array([1000.0]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        session.namespace["overflow"](np.array([1000.0]))
    assert any(issubclass(w.category, RuntimeWarning) for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="careful"):
            session.namespace["warn"]()


def test_the_tests_random_state_goes_to_the_student_and_nothing_comes_back(session):  # 47
    np.random.seed(5)
    first = session.namespace["draw"]()
    np.random.seed(5)
    assert np.random.rand() == first  # the test's seed reached the student's kernel
    replies = []
    original = session.harness._result
    session.harness._result = lambda reply, blobs, memo: replies.append(reply) or original(reply, blobs, memo)
    session.namespace["reseed"]()  # the student re-seeds: nothing of it comes back (both ends share this process
    assert set(replies[0]["context"]) == {"warnings"}  # here, so the reply itself is what is checked)
    session.namespace["no_grad_forever"]()
    assert torch.is_grad_enabled()  # the student's kernel's state never becomes the test kernel's


def test_objects_that_lie_cannot_decide_a_comparison(session):  # 33
    liar = session.namespace["liar"]()
    assert isinstance(liar, StudentObject)
    for attempt in (lambda: liar == 1, lambda: liar != 1, lambda: liar < 1, lambda: bool(liar), lambda: hash(liar),
                    lambda: 1 in liar, lambda: {liar: 1}):
        with pytest.raises(TypeError, match="compared a student's object"):
            attempt()
    assert float(liar) == 3.0 and type(float(liar)) is float  # data, which the test then compares itself
    assert liar + 2 == 42 and 2 + liar == 42 and liar.value == 5
    with pytest.raises(AttributeError):  # 46: never ask the student's object for a memory address
        liar.__array_interface__  # noqa: B018
    assert np.asarray(liar).dtype == object  # numpy cannot read it as numbers


def test_a_result_over_the_limit_is_refused_and_the_session_fails_cleanly():  # 42
    made = _Session(max_bytes=8 * 2**20)
    try:
        with pytest.raises(StudentCodeError, match="over the"):
            made.namespace["huge"]()
        with pytest.raises(StudentCodeError):
            made.namespace["double"](1)  # the exchange is broken for the rest of this test cell
    finally:
        made.close()


def test_a_call_that_never_returns_fails_at_the_deadline():  # 41
    made = _Session()
    made.harness.deadline = time.monotonic() + 0.5
    try:
        started = time.monotonic()
        with pytest.raises(StudentCodeError, match="did not answer before the time limit"):
            made.namespace["sleepy"]()
        assert time.monotonic() - started < 3
    finally:
        made.harness.close()


class _Forger(Subject):
    """A student's kernel that answers every call with a forged reply."""

    forged: dict = {}

    def answer(self, header, blobs):
        if header.get("op") == "names":
            return super().answer(header, blobs)
        return dict(self.forged), []


@pytest.mark.parametrize("forged, words", [
    ({"ok": True, "value": {"t": "cb", "i": 99}, "updates": []}, "malformed answer"),
    ({"ok": True, "value": {"t": "ref", "i": 50}, "updates": []}, "malformed answer"),
    ({"ok": True, "value": 1, "updates": [[5, {"t": "list", "m": 5, "v": []}]]}, "malformed answer"),
    ({"ok": True, "value": 1, "updates": [[0, {"t": "list", "m": 0, "v": []}]]}, "malformed answer"),  # a copy
    ({"ok": True, "value": {"t": "ref", "i": 0}, "updates": []}, "malformed answer"),  # the test's own list
    ({"ok": True, "value": {"t": "module", "m": 1, "c": "torch.nn.Linear", "tr": True, "a": {"forward": 0},
                            "p": {}, "bu": {}, "sub": {}}, "updates": []}, "malformed answer"),
    ({"ok": True, "value": {"t": "nd", "m": 1, "d": "|O", "s": [1], "b": 0}, "updates": []}, "malformed answer"),
    ({"ok": "yes"}, "malformed answer"),
])
def test_forged_replies_never_become_test_values(forged, words):  # 29, 32, 43
    class Forger(_Forger):
        pass

    Forger.forged = forged
    made = _Session(subject_cls=Forger)
    try:
        with pytest.raises(StudentCodeError, match=words):
            made.namespace["double"]([1, 2])
    finally:
        made.close()


def test_the_student_side_cannot_ask_the_test_kernel_for_anything_but_its_callbacks():  # 43, 45
    class Prober(Subject):
        def answer(self, header, blobs):
            if header.get("op") == "names":
                return super().answer(header, blobs)
            for request in ({"op": "getattr", "name": "__globals__"}, {"op": "call", "target": {"t": "cb", "i": 1}},
                            {"op": "call", "target": {"t": "name", "n": "__import__"}, "args": ["os"],
                             "kwargs": {}}):
                try:
                    self.peer.request(request, [], deadline=time.monotonic() + 5)
                except Exception:
                    pass
            return {"ok": True, "value": 0, "updates": []}, []

    made = _Session(subject_cls=Prober)
    try:
        with pytest.raises(StudentCodeError):
            made.namespace["double"](1)
    finally:
        made.close()


# ---------------------------------------------------------------- the plan and its lint
def test_the_plan_sends_test_cells_to_the_test_kernel_and_answers_to_the_student():
    source = nbformat.read(ROOT / "solutions" / "hw08_pytorch_mlp" / "hw08_pytorch_mlp.ipynb", as_version=4)
    plan = plan_notebook(source)
    roles = collections.Counter(cell.role for cell in plan.cells)
    assert roles["test"] == 10 and roles["answer"] == 5 and roles["student"] == 1  # the experiment cell
    assert plan.needs("test_train_for_task_visible") == ["train_for_task"]
    shared = plan.shared_before("test_fit_tabular_heldout")
    assert shared and all(source.cells[i].metadata.get("nbgrader", {}).get("solution") is not True for i in shared)


def test_every_assignment_passes_the_split_lint():
    for path in sorted((ROOT / "solutions").glob("hw*/hw*.ipynb")):
        assert lint_split(nbformat.read(path, as_version=4)) == [], path


def test_the_lint_rejects_tests_that_would_grade_differently_in_two_kernels():
    source = nbformat.read(ROOT / "solutions" / "hw03_logic_gates" / "hw03_logic_gates.ipynb", as_version=4)
    broken = copy.deepcopy(source)
    test = next(c for c in broken.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_neuron_hidden")
    test.source = "heaviside = lambda z: z\nx = np.random.rand(3)\n" + test.source
    problems = lint_split(broken)
    assert any("assigns heaviside" in p for p in problems)
    assert any("np.random.rand(...) on line 2" in p for p in problems)
    given = copy.deepcopy(source)
    given.cells.insert(10, nbformat.v4.new_code_cell("neuron = None  # given code that rebinds an answer"))
    assert any("assigns neuron, which an answer cell defines" in p for p in lint_split(given))
    seeded = copy.deepcopy(source)
    test = next(c for c in seeded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_neuron_hidden")
    test.source = "np.random.seed(0)\nx = np.random.rand(3)\n" + test.source
    assert lint_split(seeded) == []


def test_a_connection_without_the_cells_token_is_ignored():  # 43: a rogue or left-over connection
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "socket")
    harness = Harness(path)
    rogue = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    rogue.connect(path)
    Channel(rogue).send({"op": "hello", "token": "guessed"})
    namespace: dict = {"double": lambda x: 2 * x}
    subject = Subject(namespace)
    thread = threading.Thread(target=subject.serve, args=(path, "right"), daemon=True)
    thread.start()
    try:
        bound: dict = {}
        harness.begin(bound, ["double"], 10, "right")
        assert bound["double"](4) == 8
    finally:
        rogue.close()
        harness.close()
        thread.join(timeout=5)


def test_a_tests_callback_takes_data_only_and_the_exchange_goes_on():  # 52
    made = _Session(STUDENT + """
def probe(callback):
    class Tracer:
        def __getattr__(self, name):
            raise AssertionError("the test's function looked at " + name)
    try:
        callback(Tracer())
    except TypeError as error:
        return "refused: " + str(error)
    return "accepted"
""")
    try:
        seen = []
        answer = made.namespace["probe"](lambda x: seen.append(x) or x)
        assert answer.startswith("refused: a function of the tests takes data only") and seen == []
        assert made.namespace["double"](3) == 6  # the same test cell goes on
    finally:
        made.close()
