"""Tamper detection inside the student's kernel (GRADING_THREATS #21-23 and patched builtins).

A test cell passes when it raises nothing. A submission can therefore earn
points it did not deserve by changing what the tests rely on: replace a
checking function (``np.any = lambda *a, **k: False`` makes every
``assert_equal`` pass), patch a builtin, install an IPython input
transformer that turns every later cell into ``pass``, or silence tracebacks.

:func:`install` runs when the kernel starts, before any cell of the notebook
(nbgrader passes it as ``IPKernelApp.exec_lines``). It records what the tests
depend on: every callable of ``builtins`` and of the watched modules (and of
the modules their Python functions come from), with their code objects; the
names the notebook imports (``np``, ``assert_equal``...) and the objects they
must refer to; the IPython machinery that runs and reports a cell (input and
AST transformers, ``showtraceback``, display hooks, event callbacks, the
methods of the shell and the kernel). After every cell the grader calls
:func:`report` through the execute request's ``user_expressions`` -- evaluated
directly, never through input transformers -- and stops grading at the first
change it reports. The grader fails closed: an unreadable or missing report
counts as tampering.

Limits: the guard lives in the same process as the student's code, so a
student who studies this module could still defeat it. It catches the
known cheats; the sandbox makes sure that even a defeated guard reveals no
hidden test and writes no grade; a flagged notebook goes to a human.

Only the standard library is imported here (the watched modules are imported
by :func:`install`). The builtins the guard itself uses are bound at import,
before any student code runs.

Example (in a kernel):
    >>> install(modules=["math"], names={"isclose": "math:isclose"})  # doctest: +SKIP
    >>> report("n1")  # doctest: +SKIP
    "('n1', ())"
"""

from __future__ import annotations

import builtins
import importlib
import sys
import types

# Bound now, before any student code: a patched builtin cannot change the guard's own behaviour.
_all, _any, _callable, _dict, _getattr, _id, _isinstance, _len, _list, _repr, _str, _tuple, _type, _vars, _zip = (
    all, any, callable, dict, getattr, id, isinstance, len, list, repr, str, tuple, type, vars, zip)
_Exception, _TypeError = Exception, TypeError
_ModuleType, _FunctionType = types.ModuleType, types.FunctionType

WATCHED_MODULES = ("math", "cmath", "operator", "functools", "itertools", "numpy", "numpy.testing",
                   "course_utils.checks")
"""Modules whose functions the tests may rely on; the notebook's own imports are added to them."""

TORCH_MODULES = ("torch", "torch.testing", "torch.nn.functional")
"""Watched too, when installed. Importing PyTorch at kernel start (every course notebook imports it in its
setup cell anyway) also keeps its slow first import out of the first cell's time limit."""

VOLATILE_BUILTINS = frozenset({"_", "__", "___", "exit", "quit", "get_ipython", "input", "raw_input", "display",
                               "__IPYTHON__", "__IPYTHON__active", "dreload", "help", "__import__"})
"""Builtins IPython and ipykernel change themselves around every cell (``__import__`` is checked separately)."""

SHELL_TRAITS = ("display_formatter", "displayhook", "display_pub", "input_transformer_manager", "compile",
                "events", "builtin_trap", "display_trap", "data_pub", "payload_manager", "history_manager",
                "inspector", "user_ns_hidden")
"""IPython shell traits that take part in running a cell and reporting its result."""

LIBRARIES_THAT_WRAP = frozenset({"torch"})
"""Libraries that wrap their own functions at run time (PyTorch's dynamo wraps ``torch.manual_seed`` when the
optimizers are first used): a wrapper whose ``__wrapped__`` leads to the original, and that does not come
from the notebook, is not a change."""

CELL_FILES = ("<ipython-input", "/tmp/ipykernel_")
"""How the file name of code compiled from a notebook cell starts (IPython, ipykernel)."""

MAX_FINDINGS = 8

_state: dict | None = None
_pending: tuple | None = None


def _qualname(obj: object) -> str:
    module = _getattr(obj, "__module__", None) or "?"
    name = _getattr(obj, "__qualname__", None) or _getattr(obj, "__name__", None) or _type(obj).__name__
    return f"{module}.{name}"


def _is_from_student(obj: object) -> bool:
    """True for functions written in the notebook's cells (module ``__main__``, or code compiled from a cell)."""
    func = _getattr(obj, "__func__", obj)
    code = _getattr(func, "__code__", None)
    if code is not None and _str(_getattr(code, "co_filename", "")).startswith(CELL_FILES):
        return True
    return _getattr(func, "__module__", None) == "__main__"


def _wraps(value: object, original: object) -> bool:
    """True when ``value`` is a library's wrapper of ``original`` (its ``__wrapped__`` chain leads there)."""
    seen = 0
    current = value
    while seen < 8 and not _is_from_student(current):
        current = _getattr(current, "__wrapped__", None)
        if current is None:
            return False
        if current is original:
            return True
        seen += 1
    return False


def _function_state(value: object) -> tuple:
    """What identifies a callable: the object, and for Python functions their code and defaults."""
    if _isinstance(value, _FunctionType):
        return (value, value.__code__, value.__defaults__, value.__kwdefaults__)
    return (value,)


def _snapshot_namespace(namespace: dict) -> dict:
    return {key: _function_state(value) for key, value in _list(namespace.items())
            if _callable(value) or _isinstance(value, _ModuleType)}


def _same(old: tuple, value: object) -> bool:
    new = _function_state(value)
    return _len(old) == _len(new) and _all(a is b for a, b in _zip(old, new))


def _watched_modules(extra: list[str], imported_only: bool = False) -> dict[str, _ModuleType]:
    """The watched modules: importing them (at install), or only those already imported (at the first report)."""
    names = _list(WATCHED_MODULES) + _list(TORCH_MODULES) + _list(extra)
    modules: dict[str, _ModuleType] = {}
    for name in names:
        if imported_only:
            if _isinstance(sys.modules.get(name), _ModuleType):
                modules[name] = sys.modules[name]
            continue
        try:
            modules[name] = importlib.import_module(name)
        except _Exception:  # not installed here: nothing to watch
            continue
    # The modules the watched Python functions come from (np.allclose lives in numpy._core.numeric, ...).
    for module in _list(modules.values()):
        for value in _list(_vars(module).values()):
            home = _getattr(value, "__module__", None) if _isinstance(value, _FunctionType) else None
            if home and home not in modules and home in sys.modules and _isinstance(sys.modules[home], _ModuleType):
                modules[home] = sys.modules[home]
    return modules


def _resolve(target: str) -> object:
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    return _getattr(module, attribute) if attribute else module


def install(modules: list[str] | None = None, names: dict[str, str] | None = None) -> None:
    """Prepare the guard (call once, at kernel start, before any student code).

    ``modules``: extra module names to watch. ``names``: notebook names and the
    object each must keep referring to, as ``"module"`` or ``"module:attribute"``
    (``{"np": "numpy", "assert_equal": "course_utils.checks:assert_equal"}``).
    The watched modules are imported now; the state is recorded by the first
    :func:`report`, which the grader requests before the notebook's first cell
    (in the same context as every later report, so that what IPython changes
    around each request is the same in both).
    """
    global _state, _pending
    watched = _watched_modules(_list(modules or []))
    expected_names = {}
    for name, target in (names or {}).items():
        try:
            expected_names[name] = (target, _resolve(target))
        except _Exception:
            continue
    _state = None
    _pending = (watched, expected_names)


def _record(watched: dict, expected_names: dict) -> dict:
    from IPython import get_ipython

    shell = get_ipython()
    # Watched modules that were imported only after install are watched from here on as well.
    watched = {**_watched_modules(_list(watched), imported_only=True), **watched}
    kernel = _getattr(shell, "kernel", None)
    return {
        "shell": shell,
        "builtins": {key: value for key, value in _vars(builtins).items() if key not in VOLATILE_BUILTINS},
        "import": builtins.__import__,
        "modules": {name: (module, _snapshot_namespace(_vars(module))) for name, module in watched.items()},
        "names": expected_names,
        "sys": {name: _getattr(sys, name) for name in ("breakpointhook", "modules", "meta_path", "path_hooks")},
        "trace": (sys.gettrace(), sys.getprofile()),
        "meta_path": _tuple(sys.meta_path),
        "transformers": _transformer_lists(shell),
        "shell_traits": {name: shell._trait_values.get(name) for name in SHELL_TRAITS},
        "objects": {label: (obj, _snapshot_namespace(_instance_dict(obj)), _class_snapshot(obj))
                    for label, obj in (("get_ipython()", shell), ("the kernel", kernel),
                                       ("the display formatter", shell.display_formatter),
                                       ("the input transformer manager", shell.input_transformer_manager))
                    if obj is not None},
        "formatters": {key: (_id(f), _tuple(_getattr(f, "type_printers", {}).items()),
                             _tuple(_getattr(f, "deferred_printers", {}).items()))
                       for key, f in shell.display_formatter.formatters.items()},
        "callbacks": {event: _tuple(callbacks) for event, callbacks in shell.events.callbacks.items()},
    }


def _instance_dict(obj: object) -> dict:
    try:
        return _vars(obj)
    except _TypeError:
        return {}


def _class_snapshot(obj: object) -> dict:
    return {cls: _snapshot_namespace(_dict(_vars(cls))) for cls in _type(obj).__mro__
            if cls.__module__.split(".")[0] in ("IPython", "ipykernel")}


def _transformer_lists(shell: object) -> dict[str, tuple]:
    manager = shell.input_transformer_manager
    return {
        "input_transformers_cleanup": _tuple(manager.cleanup_transforms),
        "input_transformers_post": _tuple(shell.input_transformers_post),
        "line transformers": _tuple(manager.line_transforms),
        "token transformers": _tuple(manager.token_transformers),
        "ast_transformers": _tuple(shell.ast_transformers),
    }


def _check() -> list[str]:
    state = _state
    if state is None:
        return ["the grader's guard was never installed"]
    findings: list[str] = []
    add = findings.append
    # builtins
    current = _vars(builtins)
    for key, value in state["builtins"].items():
        if key not in current:
            add(f"builtins.{key} was deleted")
        elif current[key] is not value:
            add(f"builtins.{key} was replaced (now {_qualname(current[key])})")
    for key in current:
        if key not in state["builtins"] and key not in VOLATILE_BUILTINS:
            add(f"builtins.{key} was added")
    if builtins.__import__ is not state["import"]:
        add("builtins.__import__ was replaced")
    # watched modules and the functions in them
    for name, (module, namespace) in state["modules"].items():
        if sys.modules.get(name) is not module:
            add(f"sys.modules[{name!r}] was replaced")
        now = _vars(module)
        lenient = name.split(".")[0] in LIBRARIES_THAT_WRAP
        for key, old in namespace.items():
            if key not in now:
                add(f"{name}.{key} was deleted")
            elif not _same(old, now[key]) and not (lenient and _wraps(now[key], old[0])):
                add(f"{name}.{key} was replaced or its code changed")
    # watched modules first imported after the guard's record (PyTorch, by the setup cell): nothing in
    # them may come from the notebook (a replacement defined in a cell, or a function whose code was swapped)
    for name in _list(WATCHED_MODULES) + _list(TORCH_MODULES):
        module = sys.modules.get(name)
        if name in state["modules"] or not _isinstance(module, _ModuleType):
            continue
        for key, value in _list(_vars(module).items()):
            if _callable(value) and not _isinstance(value, _type) and _is_from_student(value):
                add(f"{name}.{key} was replaced by a function from the notebook")
    # the names the notebook imported
    user_ns = state["shell"].user_ns
    for name, (target, expected) in state["names"].items():
        if name in user_ns and user_ns[name] is not expected:
            add(f"the notebook's name {name!r} no longer refers to {target.replace(':', '.')}")
    # IPython and the kernel
    for name, value in state["sys"].items():
        if _getattr(sys, name) is not value:
            add(f"sys.{name} was replaced")
    if (sys.gettrace(), sys.getprofile()) != state["trace"]:
        add("a trace or profile function was installed (sys.settrace / sys.setprofile)")
    if _tuple(sys.meta_path) != state["meta_path"]:
        add("sys.meta_path (the import system) was changed")
    shell = state["shell"]
    for key, old in state["transformers"].items():
        new = _transformer_lists(shell)[key]
        if _len(new) != _len(old) or _any(a is not b for a, b in _zip(new, old)):
            add(f"IPython's {key} were changed (input transformers rewrite every later cell)")
    for name, value in state["shell_traits"].items():
        if shell._trait_values.get(name) is not value:
            add(f"get_ipython().{name} was replaced")
    for label, (obj, namespace, classes) in state["objects"].items():
        now = _instance_dict(obj)
        for key, value in now.items():
            if (_callable(value) or _isinstance(value, _ModuleType)) and (
                    key not in namespace or not _same(namespace[key], value)):
                add(f"{label}.{key} was replaced")
        for cls, cls_namespace in classes.items():
            cls_now = _vars(cls)
            for key, old in cls_namespace.items():
                if key not in cls_now or not _same(old, cls_now[key]):
                    add(f"{cls.__name__}.{key} (the class of {label}) was replaced")
            for key, value in cls_now.items():
                if key not in cls_namespace and _callable(value):
                    add(f"{cls.__name__}.{key} (the class of {label}) was added")
    for key, formatter in shell.display_formatter.formatters.items():
        old = state["formatters"].get(key)
        new = (_id(formatter), _tuple(_getattr(formatter, "type_printers", {}).items()),
               _tuple(_getattr(formatter, "deferred_printers", {}).items()))
        if old is None or old[0] != new[0]:
            add(f"the {key} display formatter was replaced")
        elif _any(_is_from_student(printer) for _, printer in new[1] + new[2] if (_, printer) not in old[1] + old[2]):
            add(f"a {key} printer from the notebook was registered")
    for event, callbacks in shell.events.callbacks.items():
        old = state["callbacks"].get(event, ())
        for callback in callbacks:
            if callback not in old and _is_from_student(callback):
                add(f"a {event!r} event callback from the notebook was registered ({_qualname(callback)})")
        for callback in old:
            if callback not in callbacks:
                add(f"the {event!r} event callback {_qualname(callback)} was removed")
    return findings


def report(nonce: str) -> str:
    """``repr((nonce, findings))``: what changed since :func:`install`, as sentences (empty when nothing did).

    The grader reads it back with ``ast.literal_eval`` and checks the nonce it
    sent, so that a report it cannot read counts as tampering.
    """
    global _state, _pending
    try:
        if _state is None and _pending is not None:
            _state, _pending = _record(*_pending), None
        findings = _check()
    except _Exception as error:  # a check that breaks is itself a sign of tampering
        findings = [f"the grader's checks failed: {_type(error).__name__}: {_str(error)[:200]}"]
    unique: list[str] = []
    for finding in findings:
        if finding not in unique:
            unique.append(finding)
    return _repr((_str(nonce), _tuple(unique[:MAX_FINDINGS])))
