"""A message's HTML body from a customer, made safe to show an agent or flattened to plain text.

Any channel may hand over an HTML body (``meta.html``); it is written by strangers and may
carry scripts, forms that post elsewhere, tracking pixels and CSS that fetches from the
sender's server. ``sanitize_html`` keeps the formatting people use in mail and rich messages
(tables, fonts, colours) through nh3's allow-list and nothing that runs, submits or phones home
unless the agent asks for remote images.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser

import nh3

_TAGS = frozenset(nh3.ALLOWED_TAGS - {"map", "area"}) | {"font", "tfoot", "big", "address", "section", "main"}
# Removed with everything inside: their content is code or metadata, never text for a person.
_DROPPED_WITH_CONTENT = frozenset(("script", "style", "title", "template", "xml", "head"))
_CELL = frozenset(("width", "height", "bgcolor", "background", "colspan", "rowspan", "nowrap", "headers"))
_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"title", "lang", "dir", "align", "valign", "style"},
    "a": {"href", "hreflang"},
    "img": {"src", "alt", "width", "height", "border", "hspace", "vspace"},
    "font": {"color", "face", "size"},
    "table": {"border", "cellpadding", "cellspacing", "width", "height", "bgcolor", "background", "summary"},
    "td": set(_CELL),
    "th": _CELL | {"scope"},
    "tr": {"bgcolor", "height", "background"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "ol": {"start", "type"},
    "ul": {"type"},
    "li": {"value", "type"},
    "hr": {"width", "size", "noshade"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
    "time": {"datetime"},
    "data": {"value"},
    "bdo": {"dir"},
}
# No property here can load anything, position over the agent's page, or hide text.
_STYLE_PROPERTIES = frozenset((
    "color", "background-color", "font", "font-family", "font-size", "font-style", "font-weight",
    "font-variant", "text-align", "text-decoration", "text-indent", "text-transform", "line-height",
    "letter-spacing", "word-spacing", "white-space", "vertical-align", "direction", "width", "height",
    "max-width", "min-width", "margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
    "padding", "padding-top", "padding-right", "padding-bottom", "padding-left", "border", "border-top",
    "border-right", "border-bottom", "border-left", "border-color", "border-style", "border-width",
    "border-collapse", "border-spacing", "border-radius", "list-style-type", "table-layout", "float", "clear",
))
_ADDED = {"target", "rel"}  # set on every link by nh3 itself (set_tag_attribute_values, link_rel)
_LINK_SCHEMES = ("http:", "https:", "mailto:", "tel:")
_DATA_IMAGE = re.compile(r"^data:image/(?:png|gif|jpe?g|webp|bmp);base64,[A-Za-z0-9+/=\s]*$", re.IGNORECASE)
# CSS loads things through functions (url(), image-set(), expression()) and hides them in
# escapes; a value may hold words, numbers, quotes and colour functions, nothing else.
_STYLE_VALUE = re.compile(r"(?:[\w\s#%.,!'\"+-]|(?:rgba?|hsla?)\([\d\s.,%/]*\))*")
_REMOTE = re.compile(r"^(?:https?:)?//", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SafeHtml:
    """Sanitised HTML and how many remote images were held back."""

    html: str
    blocked_images: int


def sanitize_html(html: str, *, cid_urls: Mapping[str, str], remote_images: bool = False) -> SafeHtml:
    """Customer ``html`` as a fragment safe to put in the agent's page.

    ``cid_urls`` maps a Content-ID (without <>) to the URL the hub serves that part at;
    ``src="cid:..."`` is rewritten to it, or removed when the part is unknown. Remote images
    (and ``background=`` images) are removed and counted unless ``remote_images`` is true.
    """
    urls = _Urls(cid_urls, remote_images)
    cleaned = nh3.clean(
        html,
        tags=set(_TAGS),
        clean_content_tags=set(_DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in _ATTRIBUTES.items()},
        attribute_filter=urls.filter,
        url_schemes={"http", "https", "mailto", "tel", "data", "cid"},
        url_relative=urls.relative,
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        filter_style_properties=set(_STYLE_PROPERTIES),
        strip_comments=True,
    )
    return SafeHtml(html=cleaned, blocked_images=urls.blocked)


class _Urls:
    """Decides every URL-bearing attribute; counts the remote images it holds back."""

    def __init__(self, cid_urls: Mapping[str, str], remote_images: bool) -> None:
        self._cid_urls = {key.strip("<>"): value for key, value in cid_urls.items()}
        self._ours = frozenset(self._cid_urls.values())
        self._remote_images = remote_images
        self.blocked = 0

    def filter(self, tag: str, attribute: str, value: str) -> str | None:
        # nh3 asks about attributes of tags it is about to drop too; those are neither kept nor counted.
        if tag not in _TAGS or attribute not in _ATTRIBUTES.get(tag, set()) | _ATTRIBUTES["*"] | _ADDED:
            return None
        if attribute == "style":
            return _safe_style(value)
        if attribute == "href":
            return self._link(value.strip())
        if attribute in ("src", "background"):
            return self._image(value.strip())
        return value

    def relative(self, url: str) -> str | None:
        # Relative URLs would resolve against the hub itself; only the part URLs we made may.
        return url if url in self._ours else None

    def _link(self, url: str) -> str | None:
        if url.lower().startswith("cid:"):
            return self._cid_urls.get(url[4:].strip("<>"))
        return url if url.lower().startswith(_LINK_SCHEMES) else None

    def _image(self, url: str) -> str | None:
        lowered = url.lower()
        if lowered.startswith("cid:"):
            return self._cid_urls.get(url[4:].strip("<>"))
        if _REMOTE.match(url):
            if self._remote_images:
                return url if not url.startswith("//") else "https:" + url
            self.blocked += 1
            return None
        return url if _DATA_IMAGE.match(url) else None


def _safe_style(value: str) -> str | None:
    kept = []
    for declaration in value.split(";"):
        name, _, setting = declaration.partition(":")
        name, setting = name.strip().lower(), setting.strip()
        if name in _STYLE_PROPERTIES and _STYLE_VALUE.fullmatch(setting):
            kept.append(f"{name}:{setting}")
    return ";".join(kept) or None


_BLOCKS = frozenset((
    "p", "div", "table", "tr", "ul", "ol", "dl", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6",
    "section", "article", "header", "footer", "address", "center", "hr", "dt", "dd", "form",
))
_MARKED_SECTION = re.compile(r"<!\[[^>]*>?")
_SKIPPED = frozenset(("script", "style", "head", "title", "template", "xml"))


class _TextWriter(HTMLParser):
    """Collects the text of an HTML document, with line breaks where blocks and <br> were."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skipping = 0
        self._pre = 0
        self._links: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in _SKIPPED:
            self._skipping += 1
        elif tag == "br":
            self.chunks.append("\n")
        elif tag == "li":
            self.chunks.append("\n- ")
        elif tag in ("td", "th"):
            self.chunks.append(" ")
        elif tag == "img" and values.get("alt"):
            self.chunks.append(f" {values['alt']} ")
        elif tag == "a":
            self._links.append(values.get("href"))
        if tag in _BLOCKS:
            self.chunks.append("\n")
        if tag == "pre":
            self._pre += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag == "a" and self._links:
            self._close_link(self._links.pop())
        if tag in _BLOCKS:
            self.chunks.append("\n")
        if tag == "pre":
            self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        self.chunks.append(data if self._pre else re.sub(r"\s+", " ", data))

    def _close_link(self, href: str | None) -> None:
        if not href or not href.lower().startswith(("http:", "https:", "mailto:")):
            return
        shown = href[7:] if href.lower().startswith("mailto:") else href
        recent = "".join(self.chunks[-3:])
        if shown not in recent:
            self.chunks.append(f" ({shown})")


def html_to_text(html: str) -> str:
    """Readable text of ``html``: tags dropped, line breaks kept, each link's URL after its text."""
    try:
        chunks = _text_chunks(html)
    except AssertionError:
        # html.parser asserts on marked sections it does not know (``<![foo``); without them
        # the rest still reads.
        chunks = _text_chunks(_MARKED_SECTION.sub(" ", html))
    lines = (line.strip() for line in "".join(chunks).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _text_chunks(html: str) -> list[str]:
    writer = _TextWriter()
    writer.feed(html)
    writer.close()
    return writer.chunks
