"""Every reason the machine code hands a call to the original, and that it does so exactly."""
from __future__ import annotations

import pytest

import jitimport

from ._util import INT64_MAX, INT64_MIN, fell_back, outcome


class MyInt(int):
    """An int subclass whose arithmetic differs: only the original may handle it."""

    def __add__(self, other: object) -> str:
        return "MyInt.__add__"

    def __mul__(self, other: object) -> str:
        return "MyInt.__mul__"


class Indexable:
    def __index__(self) -> int:
        return 3


def add(a, b):
    return a + b


def mul(a, b):
    return a * b


def bitand(a, b):
    return a & b


def lshift(a, b):
    return a << b


def rshift(a, b):
    return a >> b


def floordiv(a, b):
    return a // b


def mod(a, b):
    return a % b


def sub(a, b):
    return a - b


def neg(a):
    return -a


def cube(a):
    return a ** 3


NATIVE = {f.__name__: jitimport.compile_native(f)
          for f in (add, mul, bitand, lshift, rshift, floordiv, mod, sub, neg, cube)}


def expect_fallback(name: str, *args, **kwargs) -> None:
    native = NATIVE[name]
    got, fallback = fell_back(native, *args, **kwargs)
    want = outcome(jitimport.original(native), *args, **kwargs)
    assert got == want and got[1] is want[1]
    assert fallback, f"{name}{args} should have run the original"


def test_bool_arguments_keep_bool_results() -> None:
    native = NATIVE["bitand"]
    assert native(True, True) is True
    assert native(True, False) is False
    assert native(True, 1) == 1 and type(native(True, 1)) is int
    expect_fallback("bitand", True, True)
    expect_fallback("add", True, True)
    expect_fallback("add", 1, False)


@pytest.mark.parametrize("args", [(1.5, 2), (2, 0.5), (float("inf"), 1), (1, complex(1, 2))])
def test_float_and_complex(args) -> None:
    expect_fallback("add", *args)
    expect_fallback("mul", *args)


def test_int_subclass_uses_its_own_methods() -> None:
    assert NATIVE["add"](MyInt(2), 3) == "MyInt.__add__"
    assert NATIVE["mul"](MyInt(2), 3) == "MyInt.__mul__"
    expect_fallback("add", 5, MyInt(2))  # int + MyInt: int.__add__, result int
    assert type(NATIVE["add"](5, MyInt(2))) is int


def test_index_objects_and_other_types() -> None:
    for name in ("add", "lshift", "bitand", "floordiv"):
        expect_fallback(name, 1, Indexable())
        expect_fallback(name, Indexable(), 1)
    expect_fallback("mul", "ab", 3)
    expect_fallback("mul", 3, [1])
    expect_fallback("add", None, 1)
    expect_fallback("add", "a", "b")


@pytest.mark.parametrize("big", [2**63, -(2**63) - 1, 2**64, -(2**64), 2**100, -(3**90)])
def test_ints_beyond_64_bits(big: int) -> None:
    for name in ("add", "sub", "mul", "bitand", "floordiv", "mod", "rshift"):
        expect_fallback(name, big, 3)
        expect_fallback(name, 3, big)
    expect_fallback("neg", big)


@pytest.mark.parametrize("name,args", [
    ("add", (INT64_MAX, 1)), ("add", (INT64_MIN, -1)), ("sub", (INT64_MIN, 1)),
    ("sub", (0, INT64_MIN)), ("mul", (2**32, 2**31)), ("mul", (-1, INT64_MIN)),
    ("mul", (INT64_MIN, -1)), ("lshift", (1, 63)), ("lshift", (-1, 64)), ("lshift", (3, 62)),
    ("lshift", (2**62, 1)), ("neg", (INT64_MIN,)), ("cube", (2**21,)), ("cube", (-(2**22),)),
])
def test_overflow(name: str, args) -> None:
    expect_fallback(name, *args)
    assert NATIVE[name](*args) == jitimport.original(NATIVE[name])(*args)


def test_no_overflow_at_the_edges_stays_native() -> None:
    for name, args in [("add", (INT64_MAX, 0)), ("sub", (INT64_MIN, 0)), ("mul", (-1, INT64_MAX)),
                       ("lshift", (-1, 63)), ("neg", (INT64_MAX,)), ("cube", (2097151,)),
                       ("floordiv", (INT64_MIN, 1)), ("mod", (INT64_MIN, -1))]:
        got, fallback = fell_back(NATIVE[name], *args)
        assert got == outcome(jitimport.original(NATIVE[name]), *args)
        assert not fallback, (name, args)


@pytest.mark.parametrize("a", [0, 1, -1, INT64_MIN, INT64_MAX])
def test_zero_divisors(a: int) -> None:
    expect_fallback("floordiv", a, 0)
    expect_fallback("mod", a, 0)
    assert outcome(NATIVE["floordiv"], a, 0)[:2] == ("raise", ZeroDivisionError)


def test_min_int_divided_by_minus_one() -> None:
    assert NATIVE["floordiv"](INT64_MIN, -1) == 2**63
    expect_fallback("floordiv", INT64_MIN, -1)
    assert NATIVE["mod"](INT64_MIN, -1) == 0
    assert type(NATIVE["mod"](INT64_MIN, -1)) is int


@pytest.mark.parametrize("count", [-1, -63, -64, INT64_MIN])
def test_negative_shift_counts(count: int) -> None:
    expect_fallback("lshift", 1, count)
    expect_fallback("rshift", 1, count)
    assert outcome(NATIVE["rshift"], 5, count) == ("raise", ValueError, "negative shift count")


@pytest.mark.parametrize("count", [64, 65, 1000, INT64_MAX])
def test_large_shift_counts(count: int) -> None:
    # >> saturates natively; << of a non-zero value cannot fit.
    for a in (0, 1, -1, INT64_MIN, INT64_MAX):
        got, fallback = fell_back(NATIVE["rshift"], a, count)
        assert got == ("ok", int, a >> count) and not fallback
    assert NATIVE["lshift"](0, count) == 0
    if count < 10_000:
        expect_fallback("lshift", 1, count)
        expect_fallback("lshift", -1, count)


@pytest.mark.parametrize("args", [(), (1,), (1, 2, 3), (1, 2, 3, 4, 5, 6, 7)])
def test_wrong_arity(args) -> None:
    got = outcome(NATIVE["add"], *args)
    assert got == outcome(add, *args)
    assert got[1] is TypeError and "add()" in got[2]


def test_keyword_arguments_go_through_the_original() -> None:
    assert NATIVE["add"](1, b=2) == 3
    assert NATIVE["add"](b=2, a=1) == 3
    expect_fallback("add", 1, b=2)
    expect_fallback("add", a=1, b=2)
    # Binding errors: raised by the original before it runs (so no frame to observe).
    for args, kwargs in [((1,), {"a": 2}), ((1,), {"c": 2}), ((), {"b": 1})]:
        got = outcome(NATIVE["add"], *args, **kwargs)
        assert got == outcome(add, *args, **kwargs) and got[1] is TypeError
    expect_fallback("add", **{"a": 2**70, "b": 1})


def test_defaults() -> None:
    def f(a, b=10, c=-3):
        return a * b + c

    native = jitimport.compile_native(f)
    for args in [(1,), (1, 2), (1, 2, 3), (INT64_MAX,), (2, 2**62)]:
        got, fallback = fell_back(native, *args)
        assert got == outcome(f, *args)
    assert not fell_back(native, 4)[1] and not fell_back(native, 4, 5)[1]
    assert native(4) == 37
    assert outcome(native) == outcome(f)
    assert outcome(native, 1, 2, 3, 4) == outcome(f, 1, 2, 3, 4)


@pytest.mark.parametrize("default", [1.5, 2**70, True, "s", None])
def test_default_the_machine_code_cannot_use(default) -> None:
    def f(a, b=default):
        return a * b

    f.__defaults__ = (default,)
    native = jitimport.compile_native(f)
    got, fallback = fell_back(native, 3)
    assert got == outcome(f, 3) and got[1] is outcome(f, 3)[1]
    assert fallback
    got, fallback = fell_back(native, 3, 4)
    assert got == ("ok", int, 12) and not fallback


def test_parameter_never_read_accepts_anything() -> None:
    def f(unused, k):
        return k * 3

    native = jitimport.compile_native(f)
    for obj in (object(), "s", None, 1.5, 2**200, [1]):
        got, fallback = fell_back(native, obj, 4)
        assert got == ("ok", int, 12) and not fallback
    assert jitimport.info(native).checked_params == ("k",)
    expect = outcome(f, object(), "x")
    assert outcome(native, object(), "x") == expect


def test_parameter_read_only_in_dead_code_is_still_checked() -> None:
    def f(a, b):
        c = a + b  # noqa: F841 - dead, but Python would raise for a str b
        return a

    native = jitimport.compile_native(f)
    assert outcome(native, 1, "x") == outcome(f, 1, "x")
    assert outcome(native, 1, "x")[1] is TypeError
    assert native(5, 2**70) == 5
