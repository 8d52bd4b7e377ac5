"""tern.amqtt's type stubs (python/tern/amqtt/**/*.pyi) against the code they
describe, both ways, so neither drifts from the other: every public name a stub
declares exists at runtime (functions and methods with the same parameters,
kinds, defaults and async-ness; properties, their setters, class and static
methods; attributes on the class or assigned to self; constants with their
values; aliases and re-exports naming the same object; base classes; __all__),
every public name a module or class defines is in its stub, and the names
the stubs' annotations use are defined. No type checker is needed."""
import ast
import builtins
import importlib
import importlib.util
import inspect
import pathlib

import pytest

import tern.amqtt

PACKAGE = pathlib.Path(tern.amqtt.__file__).parent
SOURCES = sorted(PACKAGE.rglob("*.py"))
STUBS = sorted(PACKAGE.rglob("*.pyi"))


def module_name(path):
    parts = path.relative_to(PACKAGE.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def public(name):
    return not name.startswith("_")


def decorator_names(node):
    return [ast.unparse(d) for d in node.decorator_list]


def top_level_names(tree):
    """The names a module (or class body) binds: defs, classes, assignments, imports as X."""
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname for a in node.names if a.asname == a.name)
    return names


def self_attributes(cls):
    """The attributes the tern.amqtt classes of cls's MRO assign to self."""
    names = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("tern.amqtt"):
            continue
        for node in ast.walk(ast.parse(inspect.getsource(klass))):
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
            names.update(t.attr for t in targets if isinstance(t, ast.Attribute)
                         and isinstance(t.value, ast.Name) and t.value.id == "self")
    return names


def stub_parameters(fn):
    """[(name, kind, default)] of a stub's def: default is absent, ... or the literal."""
    a = fn.args
    absent = inspect.Parameter.empty
    out = []
    positional = a.posonlyargs + a.args
    defaults = [absent] * (len(positional) - len(a.defaults)) + list(a.defaults)
    for i, (arg, d) in enumerate(zip(positional, defaults)):
        kind = inspect.Parameter.POSITIONAL_ONLY if i < len(a.posonlyargs) else \
            inspect.Parameter.POSITIONAL_OR_KEYWORD
        out.append((arg.arg, kind, d))
    if a.vararg:
        out.append((a.vararg.arg, inspect.Parameter.VAR_POSITIONAL, absent))
    out += [(arg.arg, inspect.Parameter.KEYWORD_ONLY, absent if d is None else d)
            for arg, d in zip(a.kwonlyargs, a.kw_defaults)]
    if a.kwarg:
        out.append((a.kwarg.arg, inspect.Parameter.VAR_KEYWORD, absent))
    return [(n, k, d if d is absent else ast.literal_eval(d)) for n, k, d in out]


def check_signature(where, fn, runtime):
    assert callable(runtime), "%s: not callable at runtime" % where
    assert isinstance(fn, ast.AsyncFunctionDef) == inspect.iscoroutinefunction(runtime), \
        "%s: async in the stub and not at runtime, or the other way round" % where
    stub = stub_parameters(fn)
    actual = list(inspect.signature(runtime).parameters.values())
    assert [(n, k) for n, k, _ in stub] == [(p.name, p.kind) for p in actual], \
        "%s: the stub's parameters %s, the code's %s" % (where, [n for n, _, _ in stub], [p.name for p in actual])
    for (name, _, default), p in zip(stub, actual):
        assert (default is inspect.Parameter.empty) == (p.default is inspect.Parameter.empty), \
            "%s(%s): a default in one and not the other" % (where, name)
        if default not in (inspect.Parameter.empty, Ellipsis):
            assert default == p.default, "%s(%s): default %r in the stub, %r in the code" % (
                where, name, default, p.default)


def check_value(where, node, holder):
    """An annotated or assigned name of a stub's module or class body."""
    if isinstance(node, ast.AnnAssign):
        name = node.target.id
        if not public(name):
            return
        if inspect.isclass(holder) and "ClassVar" not in ast.unparse(node.annotation):
            assert hasattr(holder, name) or name in self_attributes(holder), \
                "%s.%s: neither on the class nor assigned to self" % (where, name)
        else:
            assert hasattr(holder, name), "%s.%s: not in the code" % (where, name)
        if node.value is not None and not (isinstance(node.value, ast.Constant) and node.value.value is Ellipsis):
            assert getattr(holder, name) == ast.literal_eval(node.value), "%s.%s: another value" % (where, name)
    elif isinstance(node, ast.Assign):
        for target in node.targets:
            if target.id == "__all__":
                assert getattr(holder, "__all__") == ast.literal_eval(node.value), "%s.__all__ differs" % where
            elif public(target.id) and isinstance(node.value, ast.Name):  # an alias
                assert getattr(holder, target.id) is getattr(holder, node.value.id), \
                    "%s.%s is not %s" % (where, target.id, node.value.id)
            elif public(target.id):
                assert hasattr(holder, target.id), "%s.%s: not in the code" % (where, target.id)


def check_class(where, cls_node, cls, stub_classes):
    assert inspect.isclass(cls), "%s: not a class" % where
    mro = [c.__name__ for c in cls.__mro__]
    for base in cls_node.bases:
        assert ast.unparse(base).split(".")[-1] in mro, "%s: %s is not a base" % (where, ast.unparse(base))
    declared = set()
    for node in cls_node.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name, decorators = node.name, decorator_names(node)
            declared.add(name)
            static = inspect.getattr_static(cls, name, None)
            assert static is not None, "%s.%s: not in the code" % (where, name)
            if "property" in decorators:
                assert isinstance(static, property), "%s.%s: not a property" % (where, name)
            elif any(d.endswith(".setter") for d in decorators):
                assert isinstance(static, property) and static.fset is not None, \
                    "%s.%s: no setter in the code" % (where, name)
            elif "classmethod" in decorators:
                assert isinstance(static, classmethod), "%s.%s: not a classmethod" % (where, name)
                check_signature("%s.%s" % (where, name), node, static.__func__)
            elif "staticmethod" in decorators:
                assert isinstance(static, staticmethod), "%s.%s: not a staticmethod" % (where, name)
                check_signature("%s.%s" % (where, name), node, static.__func__)
            else:
                assert not isinstance(static, (property, classmethod, staticmethod)), \
                    "%s.%s: a %s in the code" % (where, name, type(static).__name__)
                check_signature("%s.%s" % (where, name), node, static)
        elif isinstance(node, (ast.AnnAssign, ast.Assign)):
            if isinstance(node, ast.AnnAssign) and node.target.id == "__hash__":
                assert cls.__hash__ is None, "%s: hashable in the code" % where
                declared.add("__hash__")
                continue
            check_value(where, node, cls)
            declared |= top_level_names(ast.Module(body=[node], type_ignores=[]))
    # The other way: what the class defines is in its stub (or its stub bases').
    for base in cls_node.bases:
        if ast.unparse(base) in stub_classes:
            declared |= top_level_names(stub_classes[ast.unparse(base)])
    own = {n for n in vars(cls) if public(n) or n == "__init__"} | {n for n in self_attributes(cls) if public(n)}
    missing = sorted(own - declared)
    assert not missing, "%s: %s not in the stub" % (where, missing)
    setters = {n.name for n in cls_node.body if isinstance(n, ast.FunctionDef)
               and any(d.endswith(".setter") for d in decorator_names(n))}
    for name, value in vars(cls).items():
        if name in declared and isinstance(value, property):
            assert (value.fset is not None) == (name in setters), "%s.%s: a setter in one and not the other" % (
                where, name)


def check_annotation_names(path, tree):
    defined = top_level_names(tree) | set(dir(builtins))
    for node in tree.body:
        if isinstance(node, ast.Import):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            defined.update(a.asname or a.name for a in node.names)
    exprs = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            exprs.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            exprs.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            exprs.append(node.annotation)
        elif isinstance(node, ast.ClassDef):
            exprs += node.bases
    exprs += [n.value for n in tree.body if isinstance(n, ast.Assign)]  # aliases, TypeVars
    for expr in exprs:
        for name in ast.walk(expr):
            if isinstance(name, ast.Name):
                assert name.id in defined, "%s:%d: %s is not defined" % (path.name, name.lineno, name.id)


@pytest.mark.parametrize("path", STUBS, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_stub_matches_module(path):
    name = module_name(path)
    module = importlib.import_module(name)
    tree = ast.parse(path.read_text(), str(path))
    check_annotation_names(path, tree)
    stub_classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            source = importlib.import_module(node.module if not node.level else
                                             importlib.util.resolve_name("." * node.level + (node.module or ""),
                                                                         module.__package__))
            for alias in node.names:
                assert hasattr(source, alias.name), "%s: %s.%s does not exist" % (path.name, source.__name__,
                                                                                   alias.name)
                if alias.asname == alias.name:  # a re-export
                    assert getattr(module, alias.name) is getattr(source, alias.name), \
                        "%s.%s is not %s's" % (name, alias.name, source.__name__)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and public(node.name):
            assert hasattr(module, node.name), "%s.%s: not in the code" % (name, node.name)
            check_signature("%s.%s" % (name, node.name), node, getattr(module, node.name))
        elif isinstance(node, ast.ClassDef):
            assert hasattr(module, node.name), "%s.%s: not in the code" % (name, node.name)
            check_class("%s.%s" % (name, node.name), node, getattr(module, node.name), stub_classes)
        elif isinstance(node, (ast.AnnAssign, ast.Assign)):
            check_value(name, node, module)
    # The other way: what the module defines (or exports) is in its stub.
    source = ast.parse(pathlib.Path(module.__file__).read_text())
    defined = {n for n in top_level_names(source) if public(n)} | set(getattr(module, "__all__", ()))
    missing = sorted(defined - top_level_names(tree))
    assert not missing, "%s: %s not in the stub" % (path.name, missing)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_module_with_public_names_has_a_stub(path):
    defined = {n for n in top_level_names(ast.parse(path.read_text())) if public(n)}
    assert not defined or path.with_suffix(".pyi").exists(), "%s defines %s and has no stub" % (
        path.relative_to(PACKAGE), sorted(defined))

