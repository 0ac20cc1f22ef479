"""Structural accessibility rules (WCAG 2.1 AA) checked on a rendered page without a browser.

`problems(html)` parses the page with the standard library and returns one sentence per broken rule,
so a failing test names what is wrong and where. The rules are the ones a page template can get
wrong: the document's language and title, one h1, landmarks and the skip link, a label for every
field, error messages tied to their field, radio groups in a fieldset with a legend, table headers
with a scope, flash messages in a live region, ids that exist and are unique, and the input purpose
(autocomplete) of the fields that ask the user about themselves.
"""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# Elements whose end tag may be left out; closed when a sibling of the same kind starts.
AUTO_CLOSE = {"p", "li", "dt", "dd", "tr", "td", "th", "option"}
NOT_LABELLED = {"hidden", "submit", "button", "reset", "image"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag = tag
        self.attrs = {k: (v if v is not None else "") for k, v in attrs}
        self.parent = parent
        self.children: list[Node] = []
        self.text_parts: list[str] = []

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def iter(self):
        yield self
        for child in self.children:
            yield from child.iter()

    def text(self) -> str:
        parts = list(self.text_parts)
        for child in self.children:
            parts.append(child.text())
        return " ".join(" ".join(parts).split())

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def describe(self) -> str:
        bits = [self.tag]
        for key in ("id", "name", "type", "class"):
            if self.attrs.get(key):
                bits.append(f'{key}="{self.attrs[key]}"')
        return "<" + " ".join(bits) + ">"


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", [], None)
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        if tag in AUTO_CLOSE:
            for node in [self.current, *self.current.ancestors()]:
                if node.tag == tag:
                    self.current = node.parent
                    break
                if node.tag in {"ul", "ol", "dl", "table", "tbody", "thead", "select", "div"}:
                    break
        node = Node(tag, attrs, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, attrs, self.current))

    def handle_endtag(self, tag):
        for node in [self.current, *self.current.ancestors()]:
            if node.tag == tag:
                self.current = node.parent
                return

    def handle_data(self, data):
        self.current.text_parts.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def _ids(value: str) -> list[str]:
    return value.split()


def problems(html: str) -> list[str]:
    root = parse(html)
    nodes = list(root.iter())
    found: list[str] = []
    by_id: dict[str, Node] = {}
    for node in nodes:
        node_id = node.attrs.get("id")
        if node_id:
            if node_id in by_id:
                found.append(f"duplicate id {node_id!r}")
            by_id[node_id] = node

    def first(tag):
        return next((n for n in nodes if n.tag == tag), None)

    # 3.1.1 Language of page; 2.4.2 Page titled
    html_el = first("html")
    if html_el is None or not html_el.attrs.get("lang"):
        found.append("<html> has no lang attribute")
    title = first("title")
    title_text = title.text() if title else ""
    if not title_text or title_text.startswith("·") or title_text.startswith("REMS ·"):
        found.append(f"the page title does not say which page this is: {title_text!r}")
    has_errors = any("error-message" in n.classes() or "error-summary" in n.classes() for n in nodes)
    if has_errors and not title_text.startswith("Error:"):
        found.append(f"a page showing form errors has a title without 'Error:' first: {title_text!r}")

    # 1.3.1 / 2.4.6 Headings: exactly one h1
    h1s = [n for n in nodes if n.tag == "h1"]
    if len(h1s) != 1:
        found.append(f"{len(h1s)} h1 elements (one expected): {[h.text() for h in h1s]}")

    # 1.3.1 Landmarks and 2.4.1 Bypass blocks
    mains = [n for n in nodes if n.tag == "main" or n.attrs.get("role") == "main"]
    if len(mains) != 1:
        found.append(f"{len(mains)} main landmarks (one expected)")
    main = mains[0] if mains else None
    if first("header") is None:
        found.append("no <header> (banner) landmark")
    if first("footer") is None:
        found.append("no <footer> (contentinfo) landmark")
    navs = [n for n in nodes if n.tag == "nav"]
    if len(navs) > 1 and any(not (n.attrs.get("aria-label") or n.attrs.get("aria-labelledby")) for n in navs):
        found.append("several <nav> landmarks and not every one has a name (aria-label)")
    body = first("body")
    focusables = [
        n for n in (body.iter() if body else [])
        if n.tag in {"a", "button", "input", "select", "textarea"}
        and not (n.tag == "input" and n.attrs.get("type") == "hidden")
        and not (n.tag == "a" and "href" not in n.attrs)
    ]
    if not focusables or focusables[0].tag != "a" or not focusables[0].attrs.get("href", "").startswith("#"):
        found.append("the first focusable element is not a skip link")
    else:
        target = by_id.get(focusables[0].attrs["href"][1:])
        if target is None or target is not main:
            found.append(f"the skip link {focusables[0].attrs['href']!r} does not lead to the main landmark")

    # 4.1.1 / 1.3.1: every aria reference points at an element that exists
    for node in nodes:
        for attr in ("aria-describedby", "aria-labelledby", "aria-controls"):
            for ref in _ids(node.attrs.get(attr, "")):
                if ref not in by_id:
                    found.append(f"{node.describe()} has {attr}={ref!r} and no element has that id")

    # 1.3.1 / 3.3.2 / 4.1.2 Labels: every field has a name a screen reader reads
    label_for = {n.attrs.get("for") for n in nodes if n.tag == "label" and n.attrs.get("for")}
    for node in nodes:
        if node.tag not in {"input", "select", "textarea"}:
            continue
        if node.tag == "input" and node.attrs.get("type", "text") in NOT_LABELLED:
            continue
        labelled = (
            node.attrs.get("aria-label", "").strip()
            or node.attrs.get("aria-labelledby")
            or (node.attrs.get("id") and node.attrs["id"] in label_for)
            or any(a.tag == "label" for a in node.ancestors())
        )
        if not labelled:
            found.append(f"{node.describe()} has no label")
        if node.attrs.get("id") and node.attrs["id"] in label_for:
            label = next(n for n in nodes if n.tag == "label" and n.attrs.get("for") == node.attrs["id"])
            if not label.text():
                found.append(f"the label of {node.describe()} is empty")

    # 1.3.1 radio groups: a fieldset with a legend (or a named radiogroup)
    for node in nodes:
        if node.tag == "input" and node.attrs.get("type") == "radio":
            group = next((a for a in node.ancestors()
                          if a.tag == "fieldset" or a.attrs.get("role") == "radiogroup"), None)
            if group is None:
                found.append(f"radio {node.describe()} is not inside a fieldset or radiogroup")
            elif group.tag == "fieldset" and not any(c.tag == "legend" and c.text() for c in group.children):
                found.append(f"the fieldset around radio {node.describe()} has no legend")

    # 3.3.1 Error identification: each error message is referenced by its field, and each invalid
    # field points at an error message
    described = {ref for n in nodes for ref in _ids(n.attrs.get("aria-describedby", ""))}
    for node in nodes:
        if "error-message" in node.classes():
            if not node.attrs.get("id") or node.attrs["id"] not in described:
                found.append(f"error message {node.text()!r} is not referenced by any aria-describedby")
        if node.attrs.get("aria-invalid") == "true":
            refs = [by_id.get(r) for r in _ids(node.attrs.get("aria-describedby", ""))]
            if not any(r is not None and "error-message" in r.classes() for r in refs):
                found.append(f"{node.describe()} is aria-invalid and describes no error message")
    for node in nodes:
        if "error-summary" in node.classes():
            if node.attrs.get("role") not in {"alert"} and node.attrs.get("aria-live") not in {"assertive", "polite"}:
                found.append("the error summary is not in an alert region")
            for link in (n for n in node.iter() if n.tag == "a"):
                href = link.attrs.get("href", "")
                if href.startswith("#") and href[1:] not in by_id:
                    found.append(f"the error summary links to {href!r}, which is not on the page")

    # 1.3.1 Tables: a header cell says what it heads
    for node in nodes:
        if node.tag == "th":
            in_thead = any(a.tag == "thead" for a in node.ancestors())
            if not in_thead and node.attrs.get("scope") not in {"row", "col", "rowgroup", "colgroup"}:
                found.append(f"<th> {node.text()!r} outside <thead> has no scope")
            if in_thead and node.attrs.get("scope") not in {"col", "colgroup"}:
                found.append(f"<th> {node.text()!r} in <thead> has no scope=\"col\"")

    # 4.1.3 Status messages: flash messages are live regions
    for node in nodes:
        if "flashes" in node.classes():
            for alert in (c for c in node.children if c.tag != "#text"):
                live = alert.attrs.get("role") in {"status", "alert"} or alert.attrs.get("aria-live")
                if not live and not (node.attrs.get("role") in {"status", "alert"} or node.attrs.get("aria-live")):
                    found.append(f"flash message {alert.text()!r} is not in a live region")

    # 2.4.4 / 4.1.2 links and buttons have a name
    for node in nodes:
        if node.tag in {"a", "button"} and (node.tag == "button" or "href" in node.attrs):
            if not (node.text() or node.attrs.get("aria-label") or node.attrs.get("aria-labelledby")):
                found.append(f"{node.describe()} has no text")
            # 2.5.3 Label in name: a voice user says what they see
            aria_label = node.attrs.get("aria-label", "")
            if aria_label and node.text() and node.text().lower() not in aria_label.lower():
                found.append(f"{node.describe()} shows {node.text()!r} but is named {aria_label!r}")
        if node.tag == "img" and "alt" not in node.attrs:
            found.append(f"{node.describe()} has no alt")

    # 1.3.5 Identify input purpose: the fields about the person filling the form
    purposes = {"email": {"email", "username"}, "password": {"current-password", "new-password"}}
    for node in nodes:
        if node.tag != "input":
            continue
        kind = node.attrs.get("type", "text")
        expected = purposes.get(kind)
        if expected and node.attrs.get("autocomplete") not in expected | {"off"}:
            found.append(f"{node.describe()} has no autocomplete purpose (one of {sorted(expected)})")
    return found
