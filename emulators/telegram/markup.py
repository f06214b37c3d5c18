"""Telegram's text rules for the emulator: parse_mode markup, entities and length limits.

Deliberately small: HTML and MarkdownV2 are parsed far enough to produce the plain text and
entities Telegram returns, and to refuse the obvious mistakes (unescaped reserved characters,
unknown or unclosed tags) with Telegram's "can't parse entities" error.
"""

from __future__ import annotations

import html
import re
from typing import Any

from emulators.telegram.rules import ApiError, bad_request

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def prepare_text(
    raw: Any, parse_mode: Any, entities: Any, *, caption: bool
) -> tuple[str, list[dict[str, Any]]]:
    """Text (or caption) as Telegram stores it: markup parsed, trimmed, length-checked."""
    text = "" if raw is None else str(raw)
    if parse_mode:
        text, parsed = parse_markup(text, str(parse_mode))
    else:
        parsed = entities if isinstance(entities, list) else []
    stripped = text.strip()
    if stripped != text:
        shift = utf16_len(text[: len(text) - len(text.lstrip())])
        parsed = [{**e, "offset": max(0, int(e.get("offset", 0)) - shift)} for e in parsed]
    if caption:
        if utf16_len(stripped) > CAPTION_LIMIT:
            raise bad_request("message caption is too long")
    elif not stripped:
        raise bad_request("message text is empty")
    elif utf16_len(stripped) > TEXT_LIMIT:
        raise bad_request("message is too long")
    return stripped, parsed


def parse_markup(text: str, parse_mode: str) -> tuple[str, list[dict[str, Any]]]:
    mode = parse_mode.lower()
    if mode == "html":
        return _HtmlParser(text).run()
    if mode == "markdownv2":
        return _MarkdownV2Parser(text).run()
    if mode == "markdown":
        # Legacy Markdown is not modelled: it passes through unparsed.
        return text, []
    raise bad_request("unsupported parse_mode")


def _entities_error(text: str) -> ApiError:
    return bad_request(f"can't parse entities: {text}")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)([^>]*)>")
_HTML_ENTITY_RE = re.compile(r"&(lt|gt|amp|quot|#[0-9]+|#x[0-9A-Fa-f]+);")
_HREF_RE = re.compile(r"""href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")


class _HtmlParser:
    def __init__(self, source: str) -> None:
        self.src = source
        self.out: list[str] = []
        self.length = 0
        self.stack: list[tuple[str, int, dict[str, Any]]] = []
        self.entities: list[dict[str, Any]] = []

    def _emit(self, chunk: str) -> None:
        self.out.append(chunk)
        self.length += utf16_len(chunk)

    def run(self) -> tuple[str, list[dict[str, Any]]]:
        src, pos = self.src, 0
        while pos < len(src):
            char = src[pos]
            if char == "&":
                match = _HTML_ENTITY_RE.match(src, pos)
                self._emit(html.unescape(match.group(0)) if match else "&")
                pos = match.end() if match else pos + 1
            elif char == "<":
                pos = self._tag(pos)
            else:
                nxt = min(
                    (i for i in (src.find("<", pos), src.find("&", pos)) if i >= 0),
                    default=len(src),
                )
                self._emit(src[pos:nxt])
                pos = nxt
        if self.stack:
            raise _entities_error(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1][0]}"'
            )
        return "".join(self.out), sorted(self.entities, key=lambda e: e["offset"])

    def _tag(self, pos: int) -> int:
        src, offset = self.src, _byte_offset(self.src, pos)
        match = _TAG_RE.match(src, pos)
        if match is None:
            if ">" not in src[pos:]:
                raise _entities_error(f"Unclosed start tag at byte offset {offset}")
            raise _entities_error(f'Unsupported start tag "" at byte offset {offset}')
        closing, name, attrs = match.group(1) == "/", match.group(2).lower(), match.group(3)
        if name not in _HTML_TAGS:
            kind = "end" if closing else "start"
            raise _entities_error(f'Unsupported {kind} tag "{name}" at byte offset {offset}')
        if not closing:
            extra: dict[str, Any] = {}
            if name == "a":
                href = _HREF_RE.search(attrs)
                extra["url"] = (
                    html.unescape(next(g for g in href.groups() if g is not None)) if href else ""
                )
            self.stack.append((name, self.length, extra))
            return match.end()
        if not self.stack or self.stack[-1][0] != name:
            expected = f'"</{self.stack[-1][0]}>"' if self.stack else "nothing"
            raise _entities_error(
                f"Unmatched end tag at byte offset {offset}, expected {expected}, found "
                f'"</{name}>"'
            )
        _, start, extra = self.stack.pop()
        if self.length > start:
            entity = {"type": _HTML_TAGS[name], "offset": start, "length": self.length - start}
            self.entities.append({**entity, **extra})
        return match.end()


_MD_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MD_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
}


class _MarkdownV2Parser:
    MARKERS = (("```", "pre"), ("||", "spoiler"), ("__", "underline"), ("*", "bold"),
               ("_", "italic"), ("~", "strikethrough"), ("`", "code"))  # fmt: skip

    def __init__(self, source: str) -> None:
        self.src = source
        self.out: list[str] = []
        self.length = 0
        self.stack: list[tuple[str, int, int]] = []  # kind, utf16 start, source index
        self.entities: list[dict[str, Any]] = []

    def _emit(self, chunk: str) -> None:
        self.out.append(chunk)
        self.length += utf16_len(chunk)

    def run(self) -> tuple[str, list[dict[str, Any]]]:
        src, pos = self.src, 0
        while pos < len(src):
            char = src[pos]
            in_code = bool(self.stack) and self.stack[-1][0] in ("code", "pre")
            if char == "\\" and pos + 1 < len(src):
                self._emit(src[pos + 1])
                pos += 2
                continue
            marker = next(((m, k) for m, k in self.MARKERS if src.startswith(m, pos)), None)
            if in_code and (marker is None or marker[1] != self.stack[-1][0]):
                self._emit(char)
                pos += 1
            elif marker is not None:
                pos = self._toggle(marker[1], pos, len(marker[0]))
            elif char == "[":
                self.stack.append(("text_link", self.length, pos))
                pos += 1
            elif char == "]" and self.stack and self.stack[-1][0] == "text_link":
                pos = self._close_link(pos)
            elif char in _MD_RESERVED and not (char == ">" and (pos == 0 or src[pos - 1] == "\n")):
                raise _entities_error(
                    f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
                )
            else:
                self._emit(char)
                pos += 1
        if self.stack:
            kind, _, index = self.stack[-1]
            raise _entities_error(
                f"Can't find end of {_MD_NAMES[kind]} entity at byte offset "
                f"{_byte_offset(src, index)}"
            )
        return "".join(self.out), sorted(self.entities, key=lambda e: e["offset"])

    def _toggle(self, kind: str, pos: int, width: int) -> int:
        if self.stack and self.stack[-1][0] == kind:
            _, start, _ = self.stack.pop()
            if self.length > start:
                self.entities.append(
                    {"type": kind, "offset": start, "length": self.length - start}
                )
            return pos + width
        self.stack.append((kind, self.length, pos))
        pos += width
        if kind == "pre":
            # The first line of a code block may name its language and is not part of the text.
            newline = self.src.find("\n", pos)
            if newline >= 0 and re.fullmatch(r"[A-Za-z0-9_+-]*", self.src[pos:newline]):
                pos = newline + 1
        return pos

    def _close_link(self, pos: int) -> int:
        src = self.src
        _, start, index = self.stack.pop()
        end = src.find(")", pos)
        if not src.startswith("(", pos + 1) or end < 0:
            raise _entities_error(
                f"Can't find end of TextUrl entity at byte offset {_byte_offset(src, index)}"
            )
        url = src[pos + 2 : end].replace("\\)", ")").replace("\\\\", "\\")
        if self.length > start:
            length = self.length - start
            self.entities.append(
                {"type": "text_link", "offset": start, "length": length, "url": url}
            )
        return end + 1
