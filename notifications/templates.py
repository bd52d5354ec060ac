"""The texts of notices: one template per outbox topic and language, rendered for the inbox,
push and SMS.

The texts live in `templates.yaml`, next to this module. Each topic declares the fields its
templates use: where each comes from in the payload and what it must be (an id, capped text,
a number of points, a date...). Everything is checked when the file is loaded — fields used
but not declared, attribute or index access (`{x.attr}`, `{x[0]}`), conversions and format
specs, texts that could outgrow their limit however long the payload values — so a rendering
can only fail on a payload that breaks its declaration, never on the template.

Payload values come from the database and are treated as untrusted text: control and format
characters (bidi overrides included) are stripped, lengths are capped with "…", and a value is
never parsed: templates are split into literal text and field names once, at load, and
rendering joins the literals with the values.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from core.clock import as_utc
from core.errors import DomainError
from notifications.topics import TOPICS

TEMPLATES_FILE = Path(__file__).with_name("templates.yaml")
LANGUAGES: tuple[str, ...] = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
DEFAULT_TIMEZONE = "Asia/Shanghai"

TITLE_MAX = 60
BODY_MAX = 300
# One SMS segment: 70 UCS-2 characters for Chinese, 160 GSM-7 characters for English.
SMS_MAX = {"zh": 70, "en": 160}
SMS_PREFIX = {"zh": "【智慧吴江】", "en": "[Smart Wujiang] "}
PARTS = ("title", "body", "sms")
ELLIPSIS = "…"
POINTS_MAX = 99_999_999
TEXT_MAX = BODY_MAX
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_ID_MAX = 64
# Trimmed off the end of values the template follows with its own punctuation.
_END_PUNCTUATION = "。．.，,；;：:、 "
_BREAKS = frozenset("\t\n\r\v\f\x85")
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FIELD_KEYS = {"type", "from", "max", "show", "labels", "optional", "default", "trim_end"}
_KINDS = {"id", "text", "localized", "points", "datetime", "date", "choice"}
_SHOWS = {"date", "last_day", "moment", "deadline"}
# The widest each date style renders: "2027年12月31日 21:05" / "31 Dec 2027, 21:05".
_DATE_WIDTH = {
    "date": {"zh": 11, "en": 11},
    "last_day": {"zh": 11, "en": 11},
    "moment": {"zh": 12, "en": 15},
    "deadline": {"zh": 17, "en": 18},
}


class TemplateError(DomainError):
    """A notice that cannot be rendered (unknown topic, a payload field missing or of the wrong
    type, an unknown time zone), or a template file that cannot be loaded. The worker
    dead-letters the message with this error's detail."""

    type = "notification-template-error"
    title = "The notification could not be rendered"
    status = 422


@dataclass(frozen=True)
class Rendered:
    """One notice in one language, ready for the inbox, push (FCM) and SMS."""

    title: str  # push and inbox title, at most TITLE_MAX characters
    body: str  # push and inbox body, at most BODY_MAX characters
    sms: str  # one SMS segment, starting with the SMS_PREFIX of its language
    data: dict[str, str]  # FCM data: `topic` and the ids the app opens the right screen with


@dataclass(frozen=True)
class _Field:
    name: str
    kind: str
    source: Mapping[str, str]  # language -> payload key
    max: Mapping[str, int] | None = None  # language -> longest text, for text kinds
    show: str = "date"
    labels: Mapping[str, Mapping[str, str]] | None = None  # choice value -> language -> label
    default: Mapping[str, str] | None = None  # language -> text, when optional and absent
    trim_end: bool = False


@dataclass(frozen=True)
class _Text:
    """A template split once into (literal, field name or None) pieces."""

    pieces: tuple[tuple[str, str | None], ...]

    def fields(self) -> set[str]:
        return {name for _, name in self.pieces if name is not None}

    def fill(self, values: Mapping[str, str]) -> str:
        return "".join(literal + (values[name] if name else "") for literal, name in self.pieces)

    def widest(self, widths: Mapping[str, int]) -> int:
        return sum(len(literal) + (widths[name] if name else 0) for literal, name in self.pieces)


@dataclass(frozen=True)
class _Template:
    topic: str
    fields: tuple[_Field, ...]
    data: tuple[str, ...]
    texts: Mapping[str, Mapping[str, _Text]]  # language -> part -> text


class Templates:
    """A loaded, checked set of templates."""

    def __init__(self, templates: Mapping[str, _Template]) -> None:
        self._templates = dict(templates)

    def topics(self) -> tuple[str, ...]:
        return tuple(self._templates)

    def render(
        self,
        topic: str,
        payload: Mapping[str, Any],
        language: str,
        *,
        timezone: str = DEFAULT_TIMEZONE,
    ) -> Rendered:
        """The notice for `topic` in `language` (zh when unknown), or TemplateError."""
        template = self._templates.get(topic)
        if template is None:
            raise TemplateError(f"No template for the topic {topic!r}.", topic=topic)
        if not isinstance(payload, Mapping):
            raise TemplateError(f"{topic}: the payload is not an object.", topic=topic)
        language = _language(language)
        zone = _zone(timezone, topic)
        values = {f.name: _value(topic, f, payload, language, zone) for f in template.fields}
        texts = template.texts[language]
        rendered = Rendered(
            title=texts["title"].fill(values),
            body=texts["body"].fill(values),
            sms=SMS_PREFIX[language] + texts["sms"].fill(values),
            data={"topic": topic} | {name: values[name] for name in template.data},
        )
        _check_lengths(topic, language, rendered)
        return rendered


def languages() -> tuple[str, ...]:
    """The languages every notice is written in; the first is the default."""
    return LANGUAGES


def render(
    topic: str,
    payload: Mapping[str, Any],
    language: str,
    *,
    timezone: str = DEFAULT_TIMEZONE,
) -> Rendered:
    """Render an outbox message for a resident, with the packaged templates. Raises
    TemplateError for an unknown topic or a payload that does not fit the topic's fields."""
    return default_templates().render(topic, payload, language, timezone=timezone)


@cache
def default_templates() -> Templates:
    """The packaged templates, loaded and checked once."""
    return load(TEMPLATES_FILE)


def load(path: Path, *, topics: Iterable[str] | None = None) -> Templates:
    """Load and check a template file; it must hold exactly `topics` (default: every topic in
    `notifications.topics.TOPICS`). Every problem found is listed in one TemplateError."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise TemplateError(f"Cannot read the templates in {path.name}: {error}") from None
    return parse(raw, topics=topics)


def parse(raw: Any, *, topics: Iterable[str] | None = None) -> Templates:
    """Check a decoded template document (see `load`)."""
    expected = set(TOPICS if topics is None else topics)
    errors: list[str] = []
    documents = raw.get("topics") if isinstance(raw, dict) else None
    if not isinstance(documents, dict):
        raise TemplateError("The template file must hold a `topics` mapping.")
    for missing in sorted(expected - set(documents)):
        errors.append(f"{missing}: no template")
    templates: dict[str, _Template] = {}
    for topic, document in documents.items():
        if topic not in expected:
            errors.append(f"{topic}: not a known topic")
            continue
        template = _parse_template(str(topic), document, errors)
        if template is not None:
            templates[topic] = template
    if errors:
        raise TemplateError(
            f"{len(errors)} problem(s) in the templates: " + "; ".join(errors), errors=errors
        )
    return Templates(templates)


# --- loading -----------------------------------------------------------------------------------


def _parse_template(topic: str, document: Any, errors: list[str]) -> _Template | None:
    if not isinstance(document, dict):
        errors.append(f"{topic}: must be a mapping")
        return None
    before = len(errors)
    unknown = set(document) - {"fields", *LANGUAGES, "data"}
    errors.extend(f"{topic}: unknown key {key!r}" for key in sorted(map(str, unknown)))
    fields = _parse_fields(topic, document.get("fields") or {}, errors)
    texts = {
        lang: _parse_texts(f"{topic}.{lang}", document.get(lang), errors) for lang in LANGUAGES
    }
    data = document.get("data") or []
    if not isinstance(data, list) or not all(isinstance(name, str) for name in data):
        errors.append(f"{topic}.data: must be a list of field names")
        data = []
    if len(errors) > before:
        return None
    template = _Template(topic=topic, fields=tuple(fields.values()), data=tuple(data), texts=texts)
    _check_template(template, fields, errors)
    return template if len(errors) == before else None


def _parse_texts(where: str, document: Any, errors: list[str]) -> dict[str, _Text]:
    if not isinstance(document, dict):
        errors.append(f"{where}: missing (title, body and sms are needed)")
        return {}
    unknown = set(document) - set(PARTS)
    errors.extend(f"{where}: unknown key {key!r}" for key in sorted(map(str, unknown)))
    texts: dict[str, _Text] = {}
    for part in PARTS:
        text = document.get(part)
        if not isinstance(text, str) or not text.strip():
            errors.append(f"{where}.{part}: missing or empty")
            continue
        parsed = _parse_text(f"{where}.{part}", text, errors)
        if parsed is not None:
            texts[part] = parsed
    return texts


def _parse_text(where: str, text: str, errors: list[str]) -> _Text | None:
    """Split a template into literals and plain field names; anything the formatter would
    evaluate (attributes, indexes, positional fields, conversions, format specs) is refused."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:
        errors.append(f"{where}: {error}")
        return None
    pieces: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in parsed:
        if name is not None and not name.isidentifier():
            errors.append(f"{where}: {{{name}}} is not a plain field name")
            return None
        if conversion or spec:
            errors.append(f"{where}: {{{name}}} may not have a conversion or format spec")
            return None
        pieces.append((literal, name))
    return _Text(tuple(pieces))


def _parse_fields(topic: str, document: Any, errors: list[str]) -> dict[str, _Field]:
    if not isinstance(document, dict):
        errors.append(f"{topic}.fields: must be a mapping")
        return {}
    fields: dict[str, _Field] = {}
    for name, spec in document.items():
        where = f"{topic}.fields.{name}"
        if not isinstance(name, str) or not name.isidentifier():
            errors.append(f"{where}: not a plain field name")
        elif not isinstance(spec, dict):
            errors.append(f"{where}: must be a mapping")
        else:
            field = _parse_field(where, name, spec, errors)
            if field is not None:
                fields[name] = field
    return fields


def _parse_field(where: str, name: str, spec: dict[Any, Any], errors: list[str]) -> _Field | None:
    before = len(errors)
    kind = spec.get("type")
    errors.extend(f"{where}: unknown key {k!r}" for k in sorted(map(str, set(spec) - _FIELD_KEYS)))
    if kind not in _KINDS:
        errors.append(f"{where}: type must be one of {sorted(_KINDS)}")
    source = _languages_map(where, "from", spec.get("from", name), errors, same_for_all=True)
    limit = _parse_max(where, kind, spec.get("max"), errors)
    show = spec.get("show", "date")
    if show not in _SHOWS:
        errors.append(f"{where}: show must be one of {sorted(_SHOWS)}")
    labels = _parse_labels(where, kind, spec.get("labels"), errors)
    default = None
    if spec.get("optional"):
        default = _languages_map(where, "default", spec.get("default"), errors)
    if len(errors) > before:
        return None
    return _Field(
        name=name,
        kind=str(kind),
        source=source,
        max=limit,
        show=str(show),
        labels=labels,
        default=default,
        trim_end=bool(spec.get("trim_end")),
    )


def _languages_map(
    where: str, key: str, value: Any, errors: list[str], *, same_for_all: bool = False
) -> dict[str, str]:
    """A text per language: a mapping with every language, or (if allowed) one text for all."""
    if same_for_all and isinstance(value, str) and value:
        return dict.fromkeys(LANGUAGES, value)
    if (
        isinstance(value, dict)
        and set(value) == set(LANGUAGES)
        and all(isinstance(v, str) and v for v in value.values())
    ):
        return {lang: value[lang] for lang in LANGUAGES}
    errors.append(f"{where}: {key} must give a non-empty text for each of {list(LANGUAGES)}")
    return {}


def _parse_max(where: str, kind: Any, value: Any, errors: list[str]) -> dict[str, int] | None:
    """The cap of a text field: one number, or one per language."""
    if kind not in {"text", "localized"}:
        if value is not None:
            errors.append(f"{where}: only text has a max")
        return None
    caps = value if isinstance(value, dict) else dict.fromkeys(LANGUAGES, value)
    if set(caps) == set(LANGUAGES) and all(
        isinstance(cap, int) and not isinstance(cap, bool) and 2 <= cap <= TEXT_MAX
        for cap in caps.values()
    ):
        return {lang: caps[lang] for lang in LANGUAGES}
    errors.append(f"{where}: max must be a whole number from 2 to {TEXT_MAX}, or one per language")
    return None


def _parse_labels(
    where: str, kind: Any, labels: Any, errors: list[str]
) -> dict[str, dict[str, str]] | None:
    if kind != "choice":
        if labels is not None:
            errors.append(f"{where}: only a choice has labels")
        return None
    if not isinstance(labels, dict) or "other" not in labels:
        errors.append(f"{where}: a choice needs labels, including `other`")
        return None
    return {
        str(value): _languages_map(f"{where}.labels.{value}", "label", label, errors)
        for value, label in labels.items()
    }


def _check_template(template: _Template, fields: Mapping[str, _Field], errors: list[str]) -> None:
    topic, before = template.topic, len(errors)
    used: set[str] = set(template.data)
    for lang, texts in template.texts.items():
        for part, text in texts.items():
            used |= text.fields()
            undeclared = sorted(text.fields() - set(fields))
            errors.extend(f"{topic}.{lang}.{part}: unknown field {{{n}}}" for n in undeclared)
    errors.extend(
        f"{topic}.fields.{n}: declared but never used" for n in sorted(set(fields) - used)
    )
    for name in template.data:
        field = fields.get(name)
        if field is None or field.kind != "id" or field.default is not None or name == "topic":
            errors.append(f"{topic}.data: {name} must be a declared, required id field")
    if len(errors) == before:  # widths are only known once every field is
        _check_widths(template, fields, errors)


def _check_widths(template: _Template, fields: Mapping[str, _Field], errors: list[str]) -> None:
    """Refuse a text that the longest values its fields allow would push over its limit."""
    for lang, texts in template.texts.items():
        widths = {name: _widest(field, lang) for name, field in fields.items()}
        limits = {"title": TITLE_MAX, "body": BODY_MAX, "sms": SMS_MAX[lang]}
        for part, text in texts.items():
            extra = len(SMS_PREFIX[lang]) if part == "sms" else 0
            widest = text.widest(widths) + extra
            if widest > limits[part]:
                errors.append(
                    f"{template.topic}.{lang}.{part}: can reach {widest} characters, "
                    f"over the limit of {limits[part]}"
                )


def _widest(field: _Field, lang: str) -> int:
    default = len(field.default[lang]) if field.default else 0
    if field.kind in {"text", "localized"}:
        assert field.max is not None
        width = field.max[lang]
    elif field.kind == "id":
        width = _ID_MAX
    elif field.kind == "points":
        width = len(_points(POINTS_MAX, lang))
    elif field.kind == "choice":
        assert field.labels is not None
        width = max(len(label[lang]) for label in field.labels.values())
    else:
        width = _DATE_WIDTH["date" if field.kind == "date" else field.show][lang]
    return max(width, default)


# --- rendering ---------------------------------------------------------------------------------


def _language(language: str) -> str:
    """`en`, `en-GB`, `EN_us` → en; anything not offered → the default."""
    primary = (
        re.split(r"[-_]", language, maxsplit=1)[0].lower() if isinstance(language, str) else ""
    )
    return primary if primary in LANGUAGES else DEFAULT_LANGUAGE


@lru_cache(maxsize=16)
def _zone_named(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _zone(name: str, topic: str) -> ZoneInfo:
    try:
        return _zone_named(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise TemplateError(f"{topic}: unknown time zone {name!r}.", topic=topic) from None


def _value(topic: str, field: _Field, payload: Mapping[str, Any], lang: str, zone: ZoneInfo) -> str:
    key = field.source[lang]
    raw = payload.get(key)
    if _absent(raw) and key != field.source[DEFAULT_LANGUAGE]:
        # A text missing in English (say) is shown in Chinese rather than not at all.
        key = field.source[DEFAULT_LANGUAGE]
        raw = payload.get(key)
    if _absent(raw):
        if field.default is not None:
            return field.default[lang]
        raise TemplateError(f"{topic}: the payload has no {key!r}.", topic=topic, field=key)
    value = _CONVERTERS[field.kind](_Context(topic, key, field, lang, zone), raw)
    if not value:
        if field.default is not None:
            return field.default[lang]
        raise TemplateError(f"{topic}: the payload's {key!r} is empty.", topic=topic, field=key)
    return value


def _absent(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


@dataclass(frozen=True)
class _Context:
    topic: str
    key: str
    field: _Field
    lang: str
    zone: ZoneInfo

    def wrong(self, expected: str, raw: Any) -> TemplateError:
        # The value itself is left out: it is untrusted and may be long.
        return TemplateError(
            f"{self.topic}: the payload's {self.key!r} must be {expected}, "
            f"not {type(raw).__name__}.",
            topic=self.topic,
            field=self.key,
        )


def _as_id(ctx: _Context, raw: Any) -> str:
    if isinstance(raw, str) and _ID.fullmatch(raw):
        return raw
    raise ctx.wrong("an id (letters, digits, `.:_-`, up to 64)", raw)


def _as_text(ctx: _Context, raw: Any) -> str:
    if not isinstance(raw, str):
        raise ctx.wrong("text", raw)
    assert ctx.field.max is not None
    return clean(raw, ctx.field.max[ctx.lang], trim_end=ctx.field.trim_end)


def _as_localized(ctx: _Context, raw: Any) -> str:
    if not isinstance(raw, Mapping):
        raise ctx.wrong("an object of texts by language", raw)
    text = raw.get(ctx.lang)
    if _absent(text):
        text = raw.get(DEFAULT_LANGUAGE)
    if _absent(text):
        return ""
    return _as_text(ctx, text)


def _as_points(ctx: _Context, raw: Any) -> str:
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise ctx.wrong("a whole number of points", raw)
    if not 0 <= raw <= POINTS_MAX:
        raise ctx.wrong(f"between 0 and {POINTS_MAX} points", raw)
    return _points(raw, ctx.lang)


def _as_datetime(ctx: _Context, raw: Any) -> str:
    at = _instant(raw)
    if at is None:
        raise ctx.wrong("an ISO 8601 date and time", raw)
    local = as_utc(at).astimezone(ctx.zone)
    if ctx.field.show == "last_day":
        # An end instant is exclusive: points lapsing at midnight are last good the day before.
        return _day((local - timedelta(microseconds=1)).date(), ctx.lang)
    if ctx.field.show == "date":
        return _day(local.date(), ctx.lang)
    return _moment(local, ctx.lang, year=ctx.field.show == "deadline")


def _instant(raw: Any) -> datetime | None:
    if isinstance(raw, datetime):
        return raw
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


def _as_date(ctx: _Context, raw: Any) -> str:
    try:
        day = date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise ctx.wrong("a date (YYYY-MM-DD)", raw)
    return _day(day, ctx.lang)


def _as_choice(ctx: _Context, raw: Any) -> str:
    if not isinstance(raw, str):
        raise ctx.wrong("text", raw)
    labels = ctx.field.labels
    assert labels is not None
    return (labels.get(raw) or labels["other"])[ctx.lang]


_CONVERTERS: dict[str, Callable[[_Context, Any], str]] = {
    "id": _as_id,
    "text": _as_text,
    "localized": _as_localized,
    "points": _as_points,
    "datetime": _as_datetime,
    "date": _as_date,
    "choice": _as_choice,
}


def clean(value: str, limit: int, *, trim_end: bool = False) -> str:
    """Untrusted text made safe to show: control and format characters (bidi overrides,
    zero-width characters) dropped, line breaks and runs of spaces made one space, cut to
    `limit` characters with a closing "…"."""
    # A value far longer than any limit is cut first, so a huge one costs little to clean.
    head = value[: limit * 4 + 64]
    kept = []
    for ch in head:
        category = unicodedata.category(ch)
        if ch in _BREAKS or category in {"Zl", "Zp"}:
            kept.append(" ")
        elif not category.startswith("C"):  # Cc control, Cf format, Cs, Co, Cn
            kept.append(ch)
    text = " ".join("".join(kept).split())
    if len(text) > limit or len(head) < len(value):
        text = text[: limit - 1].rstrip() + ELLIPSIS
    elif trim_end:
        text = text.rstrip(_END_PUNCTUATION)
    return text


def _points(points: int, lang: str) -> str:
    if lang == "zh":
        return f"{points} 积分"
    return f"{points:,} point" + ("" if points == 1 else "s")


def _day(day: date, lang: str) -> str:
    if lang == "zh":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"


def _moment(at: datetime, lang: str, *, year: bool) -> str:
    clock = f"{at.hour:02d}:{at.minute:02d}"
    if lang == "zh":
        prefix = f"{at.year}年" if year else ""
        return f"{prefix}{at.month}月{at.day}日 {clock}"
    if year:
        return f"{_day(at.date(), lang)}, {clock}"
    return f"{at.day} {_MONTHS_EN[at.month - 1]} at {clock}"


def _check_lengths(topic: str, lang: str, rendered: Rendered) -> None:
    # Guaranteed by the load-time width check; kept so no oversize text can ever go out.
    limits = {"title": TITLE_MAX, "body": BODY_MAX, "sms": SMS_MAX[lang]}
    for part, limit in limits.items():
        if len(getattr(rendered, part)) > limit:  # pragma: no cover - see _check_widths
            raise TemplateError(f"{topic}: the {lang} {part} is over {limit} characters.")
