"""The JID type's API, its cache, XEP-0106 escaping, and properties over both implementations."""

# ruff: noqa: RUF001 - the test data is full of look-alike characters on purpose

from __future__ import annotations

import copy
import pickle
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xmppwire
from xmppwire import InvalidJID, _impl, _jid_rules
from xmppwire.jid import escape_localpart, unescape_localpart


@pytest.fixture
def JID(impl):
    return impl.jid.JID


def _full_path(text: str) -> tuple | None:
    # every part through precis-i18n and idna, ASCII included
    try:
        return _jid_rules.enforce(text, shortcut=False)
    except InvalidJID:
        return None


# --- API ---------------------------------------------------------------------------


def test_parts_and_str(JID) -> None:
    jid = JID("Juliet@Example.COM/Balcony")
    assert jid.localpart == "juliet"
    assert jid.domainpart == "example.com"
    assert jid.resourcepart == "Balcony"
    assert str(jid) == "juliet@example.com/Balcony"
    assert repr(jid) == "JID('juliet@example.com/Balcony')"


def test_absent_parts_are_none(JID) -> None:
    jid = JID("example.com")
    assert (jid.localpart, jid.domainpart, jid.resourcepart) == (None, "example.com", None)
    assert jid.is_bare
    assert not JID("example.com/r").is_bare


def test_bare_and_with_resource(JID) -> None:
    full = JID("juliet@example.com/balcony")
    bare = full.bare
    assert bare == JID("juliet@example.com")
    assert bare.resourcepart is None
    assert bare.bare is bare
    assert bare.with_resource("orchard") == JID("juliet@example.com/orchard")
    assert full.with_resource(" foo\u00a0bar") == JID("juliet@example.com/ foo bar")
    assert full.with_resource(None) == bare
    with pytest.raises(InvalidJID) as caught:
        full.with_resource("a\x00")
    assert caught.value.part == "resourcepart"
    with pytest.raises(InvalidJID):
        full.with_resource("")
    with pytest.raises(TypeError):
        full.with_resource(b"r")


def test_from_parts(JID) -> None:
    assert JID.from_parts("Juliet", "EXAMPLE.com.", "x") == JID("juliet@example.com/x")
    assert JID.from_parts(None, "example.com") == JID("example.com")
    assert JID.from_parts("a", "xn--bcher-kva.example").domainpart == "bücher.example"
    # a part may hold what would be a separator in a string, where the rules allow it
    assert JID.from_parts("a", "example.com", "b/c@d").resourcepart == "b/c@d"
    for local in ("a@b", "a/b"):
        with pytest.raises(InvalidJID) as caught:
            JID.from_parts(local, "example.com")
        assert (caught.value.part, caught.value.rule) == ("localpart", "excluded-character")
    with pytest.raises(InvalidJID) as caught:
        JID.from_parts("a", "example.com/x")
    assert caught.value.part == "domainpart"
    with pytest.raises(InvalidJID):
        JID.from_parts("", "example.com")
    with pytest.raises(TypeError):
        JID.from_parts(b"a", "example.com")


def test_split_does_not_validate(JID) -> None:
    assert JID.split("A@B/C") == ("A", "B", "C")
    assert JID.split("a@b@c/d/e@f") == ("a", "b@c", "d/e@f")
    assert JID.split("@/") == ("", "", "")
    assert JID.split("x") == (None, "x", None)
    assert JID.split("x/@y") == (None, "x", "@y")
    assert JID.split("a b@\x00/\t") == ("a b", "\x00", "\t")
    assert xmppwire.jid.split("a@b") == ("a", "b", None)


def test_equality_and_hash(JID) -> None:
    a = JID("JULIET@example.com/x")
    b = JID("juliet@EXAMPLE.COM./x")
    assert a == b
    assert (a != b) is False
    assert hash(a) == hash(b)
    assert len({a, b, JID("juliet@example.com/X")}) == 2
    assert JID("a@xn--bcher-kva.example") == JID("a@BÜCHER.example")
    assert JID("a@b") != JID("a@b/c")
    assert JID("b") != JID("a@b")
    assert JID("a@b") != "a@b"
    assert JID("a@b") != None  # noqa: E711


@pytest.mark.c_extension
def test_equal_across_implementations() -> None:
    found = _impl.implementations()
    if len(found) < 2:
        pytest.fail("the compiled implementation can't be imported")
    py, c = found["python"].jid.JID, found["cython"].jid.JID
    pairs = [("Juliet@example.com/x", "juliet@example.com/x"), ("a@[::1]", "a@[::1]")]
    pairs.append(("ΣΑΣ@example.com", "σας@example.com"))
    for left, right in pairs:
        assert py(left) == c(right)
        assert c(left) == py(right)
        assert hash(py(left)) == hash(c(right))
        assert (py(left) != c(right)) is False
    assert py("a@b") != c("a@c")
    assert len({py("a@b"), c("a@b")}) == 1
    # either type copies the other
    assert py(c("a@b/r")) == c("a@b/r")
    assert type(py(c("a@b/r"))) is py
    assert type(c(py("a@b/r"))) is c


def test_immutable(JID) -> None:
    jid = JID("a@b/c")
    for name in ("localpart", "domainpart", "resourcepart", "bare"):
        with pytest.raises(AttributeError):
            setattr(jid, name, "x")
    assert str(jid) == "a@b/c"


def test_pickle_and_copy(JID) -> None:
    jid = JID("Juliet@example.com/ＪＵＬＩＥＴ")
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        data = pickle.dumps(jid, protocol)
        # pickles don't name a twin: they unpickle with or without the compiled one
        assert b"_jid_c" not in data
        assert b"_jid_py" not in data
        again = pickle.loads(data)
        assert again == jid
        assert type(again) is xmppwire.JID
    assert copy.copy(jid) == jid
    assert copy.deepcopy(jid) == jid


def test_copy_constructor(JID) -> None:
    jid = JID("a@b/c")
    assert JID(jid) == jid


def test_not_a_string(JID) -> None:
    for value in (b"a@b", 1, None):
        with pytest.raises(TypeError):
            JID(value)


def test_invalid_jid_is_a_value_error(JID) -> None:
    with pytest.raises(ValueError, match="localpart"):
        JID("a b@example.com")


def test_public_jid_is_the_active_implementation() -> None:
    assert xmppwire.JID is _impl.active().jid.JID
    assert xmppwire.jid.JID is xmppwire.JID


# --- the ASCII fast path -----------------------------------------------------------


def test_fast_path_takes_ordinary_jids(impl) -> None:
    parse = impl.jid.parse_ascii
    assert parse("Juliet@Example.com/Balcony") == ("juliet", "example.com", "Balcony")
    assert parse("example.com.") == (None, "example.com", None)
    assert parse("a@b/c/d@e") == ("a", "b", "c/d@e")
    # what it leaves to the complete path
    for text in ("a@xn--bcher-kva.example", "a@[::1]", "ju\u0301liet@example.com", "a b@c", "@c"):
        assert parse(text) is None


_EDGE = [
    *"abzAZ09-.@/ \\_~x",
    *"\"&'/:<>@",
    *"\x00\t\x7f\x1f[]%!?",
]
_VALID_LABELS = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?", fullmatch=True)
_LABELS = st.sampled_from(
    ["example", "EXAMPLE", "a", "xn--bcher-kva", "xn--abc", "ab--cd", "-a", "a-", "Ab-9"]
)
_LABELS |= st.text(st.sampled_from("abcXYZ019-"), min_size=1, max_size=8)
_LABELS |= st.sampled_from(["a" * 63, "A" * 63, "a" * 64, "127", "0", "256", ""])
_LABELS = _VALID_LABELS | _VALID_LABELS | _VALID_LABELS | _LABELS
_DOMAINS = st.lists(_LABELS, min_size=1, max_size=4).map(".".join)
_DOMAINS |= st.sampled_from(["[::1]", "[2001:db8::1]", "127.0.0.1", "1.2.3.4.", "[::1", "::1", ""])
_DOMAINS = st.tuples(_DOMAINS, st.sampled_from(["", "", "", ".", ".."])).map("".join)
_FREE = st.text(st.sampled_from(_EDGE), max_size=12)
# mostly characters a part may hold, so that most JIDs are valid ones
_LOCALS = st.text(st.sampled_from("abzAZ09.-_!~#$%+=?{}|^`"), min_size=1, max_size=10)
_RESOURCES = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=12)
_NOISE = st.sampled_from(["", " ", "\t", "\x00", "@", "/", "."]) | st.just("") | st.just("")


@st.composite
def ascii_jids(draw: st.DrawFn) -> str:
    local = draw(st.none() | _LOCALS | _LOCALS | _FREE)
    domain = draw(_DOMAINS | _DOMAINS | _DOMAINS | _FREE)
    resource = draw(st.none() | _RESOURCES | _RESOURCES | _FREE)
    text = domain
    if local is not None:
        text = f"{local}@{text}"
    if resource is not None:
        text = f"{text}/{resource}"
    return draw(_NOISE) + text + draw(_NOISE)


def _long_ascii_jids() -> list[tuple[str, bool]]:
    domain_1023 = ".".join(["a" * 63] * 15) + "." + "b" * 63
    cases = []
    for size in (1023, 1024):
        over = size - 1023
        cases += [
            ("A" * size + "@example.com", not over),
            ("a@example.com/" + "R" * size, not over),
            ("a@" + domain_1023 + "x" * over, not over),
            ("a@" + domain_1023[:-2] + ".b" + "c" * over, not over),
            # a trailing dot doesn't count
            ("a@" + domain_1023.upper() + "." * over, True),
        ]
    return cases


LONG_ASCII_JIDS = _long_ascii_jids()


@pytest.mark.parametrize(
    ("text", "valid"),
    LONG_ASCII_JIDS,
    ids=[f"{i}-{len(t)}" for i, (t, _) in enumerate(LONG_ASCII_JIDS)],
)
def test_fast_path_agrees_at_length_limits(impl, text: str, valid: bool) -> None:
    full = _full_path(text)
    assert (full is not None) == valid
    assert impl.jid.parse_ascii(text) == full


@pytest.mark.hypothesis
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=ascii_jids())
def test_fast_path_agrees_with_full_path(impl, text: str) -> None:
    full = _full_path(text)
    fast = impl.jid.parse_ascii(text)
    if fast is not None:
        assert fast == full
    try:
        jid = impl.jid.JID(text)
    except InvalidJID:
        assert full is None
    else:
        assert (jid.localpart, jid.domainpart, jid.resourcepart) == full


_NR_LDH_LABELS = _VALID_LABELS.filter(lambda label: label[2:4] != "--")


@st.composite
def valid_ascii_jids(draw: st.DrawFn) -> str:
    local = draw(st.none() | _LOCALS)
    labels = draw(st.lists(_NR_LDH_LABELS, min_size=1, max_size=4))
    text = ".".join(labels) + draw(st.sampled_from(["", "."]))
    resource = draw(st.none() | _RESOURCES)
    if local is not None:
        text = f"{local}@{text}"
    if resource is not None:
        text = f"{text}/{resource}"
    return text


@pytest.mark.hypothesis
@settings(max_examples=300, deadline=None)
@given(text=valid_ascii_jids())
def test_fast_path_takes_every_valid_ascii_jid(impl, text: str) -> None:
    full = _full_path(text)
    assert full is not None
    assert impl.jid.parse_ascii(text) == full
    jid = impl.jid.JID(text)
    assert (jid.localpart, jid.domainpart, jid.resourcepart) == full


@pytest.mark.hypothesis
@settings(max_examples=500, deadline=None)
@given(text=st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=40))
def test_fast_path_agrees_on_any_ascii(impl, text: str) -> None:
    fast = impl.jid.parse_ascii(text)
    if fast is not None:
        assert fast == _full_path(text)


# --- round trips -------------------------------------------------------------------

_UNICODE_PART = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12
)
_LOCAL = _UNICODE_PART | st.text(
    st.sampled_from("aZß Σςσİé\u0301ＡＢ１・·l\u05d0\u200c"), min_size=1
)
_DOMAIN = _DOMAINS | st.sampled_from(["bücher.example", "ΣΑΣ.gr", "例え。テスト", "ｅｘａｍｐｌｅ"])
_RESOURCE = _UNICODE_PART | st.text(st.sampled_from("aZ /@\u00a0\u3000😀™e\u0301"), min_size=1)


@pytest.mark.hypothesis
@settings(max_examples=400, deadline=None)
@given(local=st.none() | _LOCAL, domain=_DOMAIN, resource=st.none() | _RESOURCE)
def test_str_round_trip(impl, local, domain, resource) -> None:
    JID = impl.jid.JID
    try:
        jid = JID.from_parts(local, domain, resource)
    except InvalidJID:
        return
    again = JID(str(jid))
    assert again == jid
    assert str(again) == str(jid)
    assert hash(again) == hash(jid)
    # enforcement is idempotent
    assert JID.from_parts(jid.localpart, jid.domainpart, jid.resourcepart) == jid


@pytest.mark.hypothesis
@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=30))
def test_any_string_parses_or_raises_invalid_jid(impl, text: str) -> None:
    try:
        jid = impl.jid.JID(text)
    except InvalidJID as err:
        assert err.part in {"localpart", "domainpart", "resourcepart"}
        assert err.rule
    else:
        assert impl.jid.JID(str(jid)) == jid


# --- the cache ---------------------------------------------------------------------


@pytest.fixture
def small_cache(impl):
    module = impl.jid
    before = module.cache_size()
    module.set_cache_size(8)
    module.clear_cache()
    yield module
    module.set_cache_size(before)
    module.clear_cache()


# An A-label must become a U-label: such JIDs take the complete path in both
# twins, and are cached.


def test_cache_is_bounded(small_cache) -> None:
    for i in range(100):
        small_cache.JID(f"user{i}@xn--bcher-kva.example")
    assert 0 < len(small_cache.cached_jids()) <= 8
    # the newest are kept
    assert "user99@xn--bcher-kva.example" in small_cache.cached_jids()
    assert "user0@xn--bcher-kva.example" not in small_cache.cached_jids()


def test_cache_keeps_what_is_in_use(small_cache) -> None:
    for i in range(100):
        small_cache.JID("hot@xn--bcher-kva.example")
        small_cache.JID(f"user{i}@xn--bcher-kva.example")
    assert "hot@xn--bcher-kva.example" in small_cache.cached_jids()


def test_cache_only_keeps_the_complete_path(small_cache) -> None:
    # the ASCII fast path costs about what a lookup does
    small_cache.JID("Juliet@Example.com/Balcony")
    assert small_cache.cached_jids() == []
    small_cache.JID("a@xn--bcher-kva.example")
    assert small_cache.cached_jids() == ["a@xn--bcher-kva.example"]


@pytest.mark.c_extension
def test_compiled_cache_skips_what_the_tables_decide() -> None:
    # the compiled twin's non-ASCII walk costs a fraction of a microsecond
    module = _impl.implementations()["cython"].jid
    module.clear_cache()
    jid = module.JID("Jürgen@München.example/Bälcony")
    assert str(jid) == "jürgen@münchen.example/Bälcony"
    assert "Jürgen@München.example/Bälcony" not in module.cached_jids()


def test_cache_gives_equal_results(small_cache) -> None:
    first = small_cache.JID("Ju\u0301liet@example.com")
    second = small_cache.JID("Ju\u0301liet@example.com")
    assert first == second
    assert str(second) == "júliet@example.com"
    assert second.localpart == "júliet"


def test_cache_can_be_turned_off(small_cache) -> None:
    small_cache.set_cache_size(0)
    assert small_cache.cache_size() == 0
    assert small_cache.JID("é@example.com").localpart == "é"
    assert small_cache.cached_jids() == []
    with pytest.raises(ValueError):
        small_cache.set_cache_size(-1)


@pytest.mark.parametrize(
    ("size", "error", "message"),
    [
        (1.5, TypeError, "'float' object cannot be interpreted as an integer"),
        ("8", TypeError, "'str' object cannot be interpreted as an integer"),
        (2**70, OverflowError, "Python int too large to convert to C ssize_t"),
    ],
)
def test_cache_size_must_be_an_int_both_twins_take(small_cache, size, error, message) -> None:
    with pytest.raises(error) as info:
        small_cache.set_cache_size(size)
    assert str(info.value) == message
    assert small_cache.cache_size() == 8


def test_jids_are_immutable(JID) -> None:
    jid = JID("juliet@example.com/balcony")
    for name in ("_localpart", "_domainpart", "_resourcepart", "_str", "localpart", "other"):
        with pytest.raises(AttributeError):
            setattr(jid, name, "x")
        with pytest.raises(AttributeError):
            delattr(jid, name)
    assert jid.localpart == "juliet"
    assert str(jid) == "juliet@example.com/balcony"
    assert jid == JID("juliet@example.com/balcony")


def test_cache_does_not_keep_invalid_input(small_cache) -> None:
    for text in ("a b@example.com", "é b@example.com"):
        with pytest.raises(InvalidJID):
            small_cache.JID(text)
    assert small_cache.cached_jids() == []


def test_cache_under_threads(small_cache) -> None:
    small_cache.set_cache_size(50)
    texts = [f"Usér{i}@Example.com/R{i % 7}" for i in range(400)]
    errors = []

    def work(offset: int) -> None:
        try:
            for n in range(1500):
                i = (n * 7 + offset) % len(texts)
                assert str(small_cache.JID(texts[i])) == f"usér{i}@example.com/R{i % 7}"
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(small_cache.cached_jids()) <= 50


def test_public_cache_settings() -> None:
    before = xmppwire.jid.cache_size()
    try:
        xmppwire.jid.set_cache_size(3)
        assert xmppwire.jid.cache_size() == 3
        xmppwire.jid.clear_cache()
    finally:
        xmppwire.jid.set_cache_size(before)


# --- XEP-0106 ----------------------------------------------------------------------

XEP_0106_EXAMPLES = [
    # XEP-0106 §5 table
    ("space cadet", "space\\20cadet"),
    ('call me "ishmael"', "call\\20me\\20\\22ishmael\\22"),
    ("at&t guy", "at\\26t\\20guy"),
    ("d'artagnan", "d\\27artagnan"),
    ("/.fanboy", "\\2f.fanboy"),
    ("::foo::", "\\3a\\3afoo\\3a\\3a"),
    ("<foo>", "\\3cfoo\\3e"),
    ("user@host", "user\\40host"),
    ("c:\\net", "c\\3a\\net"),
    ("c:\\\\net", "c\\3a\\\\net"),
    ("c:\\cool stuff", "c\\3a\\cool\\20stuff"),
    ("c:\\5commas", "c\\3a\\5c5commas"),
]


@pytest.mark.parametrize(("raw", "escaped"), XEP_0106_EXAMPLES)
def test_xep0106(JID, raw: str, escaped: str) -> None:
    assert escape_localpart(raw) == escaped
    assert unescape_localpart(escaped) == raw
    # the escaped form is a valid localpart, and parsing does not unescape it
    assert JID(f"{escaped}@example.com").localpart == escaped.lower()


def test_xep0106_edges() -> None:
    assert unescape_localpart("a\\zzb") == "a\\zzb"
    assert unescape_localpart("\\5c20") == "\\20"
    assert escape_localpart("a\\b") == "a\\b"
    for text in (" a", "a "):
        with pytest.raises(ValueError):
            escape_localpart(text)


@pytest.mark.hypothesis
@settings(max_examples=200, deadline=None)
@given(text=st.text(st.sampled_from(" \"&'/:<>@\\235acfe"), max_size=20))
def test_xep0106_round_trip(text: str) -> None:
    if text[:1] == " " or text[-1:] == " ":
        return
    assert unescape_localpart(escape_localpart(text)) == text


def test_not_subclassable(JID) -> None:
    with pytest.raises(TypeError):
        type("MyJID", (JID,), {})


def test_domain_memo_is_bounded(impl) -> None:
    for i in range(1100):
        assert impl.jid.JID(f"a@bü{i}.example").domainpart == f"bü{i}.example"
    assert _jid_rules._memo_domainpart.cache_info().currsize <= 1024
    impl.jid.clear_cache()
    assert _jid_rules._memo_domainpart.cache_info().currsize == 0
