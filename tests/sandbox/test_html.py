"""The HTML parse_mode parser against TDLib's own test vectors (td/test/message_entities.cpp)."""

from __future__ import annotations

import pytest

from sandbox.limits import ApiError, format_text, parse_html, utf16_len


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("🏟 🏟&lt;<abacaba", "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;<abac aba>", 'Unsupported start tag "abac" at byte offset 13'),
        ("🏟 🏟&lt;<abac>", 'Unsupported start tag "abac" at byte offset 13'),
        ("🏟 🏟&lt;<i   =aba>", 'Empty attribute name in the tag "i" at byte offset 13'),
        (
            "🏟 🏟&lt;<i    aba>",
            'Expected equal sign in declaration of an attribute of the tag "i" at byte offset 13',
        ),
        ("🏟 🏟&lt;<i    aba  =  ", 'Unclosed start tag "i" at byte offset 13'),
        ("🏟 🏟&lt;<i    aba  =  190azAz-.,", "Unexpected end of name token at byte offset 27"),
        ('🏟 🏟&lt;<i    aba  =  "&lt;&gt;&quot;>', "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;<i    aba  =  '&lt;&gt;&quot;>", "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;</", "Unexpected end tag at byte offset 13"),
        ("🏟 🏟&lt;<b></b></", "Unexpected end tag at byte offset 20"),
        ("🏟 🏟&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"),
        (
            "🏟 🏟&lt;<i>a</em   >",
            'Unmatched end tag at byte offset 17, expected "</i>", found "</em>"',
        ),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
def test_tdlib_error_vectors(html, error):
    with pytest.raises(ApiError) as info:
        parse_html(html)
    assert info.value.code == 400
    assert info.value.description == f"Bad Request: can't parse entities: {error}"


@pytest.mark.parametrize(
    ("html", "text", "entities"),
    [
        ("", "", []),
        ("&lt;&gt;&amp;&quot;&laquo;&raquo;&#12345678;", '<>&"&laquo;&raquo;&#12345678;', []),
        ("➡️ ➡️<i>➡️ ➡️</i>", "➡️ ➡️➡️ ➡️", [("italic", 5, 5)]),
        ("➡️ ➡️<strong>➡️ ➡️</strong>", "➡️ ➡️➡️ ➡️", [("bold", 5, 5)]),
        ("➡️ ➡️<ins>➡️ ➡️</ins>", "➡️ ➡️➡️ ➡️", [("underline", 5, 5)]),
        ("➡️ ➡️<del>➡️ ➡️</del>", "➡️ ➡️➡️ ➡️", [("strikethrough", 5, 5)]),
        ("🏟 🏟<i>🏟 &lt🏟</i>", "🏟 🏟🏟 <🏟", [("italic", 5, 6)]),
        (
            "🏟 🏟<i>🏟 &gt;<b aba   =   caba>&lt🏟</b></i>",
            "🏟 🏟🏟 ><🏟",
            [("italic", 5, 7), ("bold", 9, 3)],
        ),
        ("🏟 🏟&lt;<i    aba  =  190azAz-.   >a</i>", "🏟 🏟<a", [("italic", 6, 1)]),
        ("🏟 🏟&lt;<i>🏟 🏟&lt;</>", "🏟 🏟<🏟 🏟<", [("italic", 6, 6)]),
        ("🏟 🏟&lt;<b></b>", "🏟 🏟<", []),
        ("<tg-spoiler>s</tg-spoiler>", "s", [("spoiler", 0, 1)]),
        ('<span class="tg-spoiler">s</span>', "s", [("spoiler", 0, 1)]),
        ("<blockquote expandable>q</blockquote>", "q", [("expandable_blockquote", 0, 1)]),
    ],
)
def test_tdlib_success_vectors(html, text, entities):
    plain, found = parse_html(html)
    assert plain == text
    assert [(e["type"], e["offset"], e["length"]) for e in found] == entities


def test_links_keep_their_url_and_code_blocks_their_language():
    plain, found = parse_html(
        '<a href="https://shop.example/p?a=1&amp;b=2">buy</a> '
        '<pre><code class="language-python">x = 1</code></pre>'
    )
    assert plain == "buy x = 1"
    assert found[0] == {
        "type": "text_link",
        "offset": 0,
        "length": 3,
        "url": "https://shop.example/p?a=1&b=2",
    }
    assert found[1] == {"type": "pre", "offset": 4, "length": 5, "language": "python"}


def test_entity_offsets_are_utf16_units():
    plain, found = parse_html("😀<b>x</b>")
    assert utf16_len(plain) == 3
    assert found == [{"type": "bold", "offset": 2, "length": 1}]


def test_explicit_entities_are_used_as_given():
    text, entities = format_text("hello", None, [{"type": "bold", "offset": 0, "length": 5}])
    assert text == "hello"
    assert entities == [{"type": "bold", "offset": 0, "length": 5}]
