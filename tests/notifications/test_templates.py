"""Notice templates: every topic renders in both languages within its limits, from payloads built
the way their producers build them; payloads that break a topic's fields are refused with a
TemplateError naming the field; untrusted values are shown literally, cleaned and capped; dates
are local; and template files that could evaluate or overflow anything are refused at load."""

from __future__ import annotations

import textwrap
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import DomainError
from core.ids import new_id
from notifications.templates import (
    BODY_MAX,
    SMS_MAX,
    SMS_PREFIX,
    TITLE_MAX,
    Rendered,
    TemplateError,
    clean,
    default_templates,
    languages,
    load,
    render,
)
from notifications.topics import TOPICS

EXPIRES = datetime(2028, 12, 31, 16, 0, tzinfo=UTC)  # the default policy: 1 Jan 2029 local
VOUCHER_CODE = "WJ-7Q4K-9ZP2"

# Written out rather than read from the templates: what the app may receive for each topic.
DATA_KEYS = {
    "points.awarded": {"topic", "award_id"},
    "points.award_rejected": {"topic", "award_id"},
    "points.reversed": {"topic", "award_id"},
    "points.expiring": {"topic"},
    "points.expired": {"topic", "entry_id"},
    "rewards.redeemed": {"topic", "redemption_id"},
    "rewards.voucher_expiring": {"topic", "redemption_id"},
    "rewards.voucher_expired": {"topic", "redemption_id"},
    "community.news": {"topic", "news_id"},
    "security.signed_in": {"topic", "session_id"},
    "security.refresh_token_reused": {"topic", "session_id"},
    "tickets.status_changed": {"topic", "ticket_id"},
}


# --- payloads as their producers write them ----------------------------------------------------


def awarded(**over: Any) -> dict[str, Any]:  # points/service/awards.py `post`
    return {
        "award_id": str(new_id()),
        "points": 20,
        "behaviour": "garbage-sorting",
        "title_zh": "垃圾分类",
        "title_en": "Waste sorting",
        "category": "green",
        "expires_at": EXPIRES.isoformat(),
    } | over


def rejected(**over: Any) -> dict[str, Any]:  # points/service/approvals.py `reject`
    return {"award_id": str(new_id()), "behaviour": "river-patrol", "reason": "照片不清晰"} | over


def reversed_(**over: Any) -> dict[str, Any]:  # points/service/approvals.py `reverse`
    return {"award_id": str(new_id()), "points": 5, "reason": "重复登记"} | over


def expiring(**over: Any) -> dict[str, Any]:  # points/service/expiry.py `_expiring_notice`
    return {"points": 120, "last_day": "2027-12-31", "expires_at": EXPIRES.isoformat()} | over


def expired(**over: Any) -> dict[str, Any]:  # points/service/expiry.py `_expired_notice`
    return {
        "points": 80,
        "by_category": {"green": 50, "volunteer": 30},
        "expired_at": datetime(2027, 12, 31, 16, 0, tzinfo=UTC).isoformat(),
        "entry_id": str(new_id()),
    } | over


def reward_payload(**over: Any) -> dict[str, Any]:  # points/service/redemptions.py `_payload`
    return {
        "redemption_id": str(new_id()),
        "reward": "rice-5kg",
        "title": {"zh": "五常大米 5 公斤", "en": "Rice, 5 kg"},
        "merchant": "songling-store",
    } | over


def redeemed(**over: Any) -> dict[str, Any]:  # redemptions.py `_notify_issued`
    return reward_payload() | {"expires_at": "2027-12-31T13:05:00+00:00"} | over


def news(**over: Any) -> dict[str, Any]:
    return {
        "title": {"zh": "本周六社区义诊", "en": "Free health check this Saturday"},
        "body": {
            "zh": "本周六上午 9 点在社区服务中心开展义诊，欢迎居民参加。",
            "en": "Free health checks at the community centre, Saturday 9 am. All welcome.",
        },
        "community": "松陵街道联杨社区",
        "news_id": str(new_id()),
    } | over


def signed_in(**over: Any) -> dict[str, Any]:  # identity/sessions.py
    return {
        "session_id": str(new_id()),
        "channel": "app",
        "device_name": "HUAWEI Mate 60",
        "at": "2027-12-31T13:05:00+00:00",
    } | over


def token_reused(**over: Any) -> dict[str, Any]:
    return {"session_id": str(new_id()), "at": "2027-12-31T13:05:00+00:00"} | over


def ticket_changed(**over: Any) -> dict[str, Any]:  # tickets/service.py `change_status`
    return {
        "ticket_id": str(new_id()),
        "number": "WJ20261125-000042",
        "status": "in_progress",
        "kind": "complaint",
    } | over


PAYLOADS: dict[str, Callable[..., dict[str, Any]]] = {
    "points.awarded": awarded,
    "points.award_rejected": rejected,
    "points.reversed": reversed_,
    "points.expiring": expiring,
    "points.expired": expired,
    "rewards.redeemed": redeemed,
    "rewards.voucher_expiring": redeemed,  # the producer adds expires_at the same way
    "rewards.voucher_expired": reward_payload,
    "community.news": news,
    "security.signed_in": signed_in,
    "security.refresh_token_reused": token_reused,
    "tickets.status_changed": ticket_changed,
}

# The payload keys each topic cannot do without.
REQUIRED = {
    "points.awarded": ["award_id", "points", "title_zh", "expires_at"],
    "points.award_rejected": ["award_id", "reason"],
    "points.reversed": ["award_id", "points", "reason"],
    "points.expiring": ["points", "last_day"],
    "points.expired": ["points", "expired_at", "entry_id"],
    "rewards.redeemed": ["redemption_id", "title", "expires_at"],
    "rewards.voucher_expiring": ["redemption_id", "title", "expires_at"],
    "rewards.voucher_expired": ["redemption_id", "title"],
    "community.news": ["title", "body", "community", "news_id"],
    "security.signed_in": ["session_id", "channel", "at"],
    "security.refresh_token_reused": ["session_id", "at"],
    "tickets.status_changed": ["ticket_id", "number", "status", "kind"],
}

ALL = [(topic, lang) for topic in TOPICS for lang in ("zh", "en")]


def check_limits(rendered: Rendered, lang: str) -> None:
    assert rendered.title.strip()
    assert rendered.body.strip()
    assert len(rendered.title) <= TITLE_MAX
    assert len(rendered.body) <= BODY_MAX
    assert len(rendered.sms) <= SMS_MAX[lang]
    assert rendered.sms.startswith(SMS_PREFIX[lang])
    assert rendered.sms.removeprefix(SMS_PREFIX[lang]).strip()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in rendered.data.items())


def texts(rendered: Rendered) -> str:
    return "\n".join([rendered.title, rendered.body, rendered.sms, *rendered.data.values()])


def error_of(topic: str, payload: Any, lang: str = "zh") -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        render(topic, payload, lang)
    return caught.value


# --- every topic, both languages ---------------------------------------------------------------


def test_every_topic_has_a_template_in_every_language() -> None:
    assert languages() == ("zh", "en")
    assert set(default_templates().topics()) == set(TOPICS)
    assert set(PAYLOADS) == set(TOPICS) == set(DATA_KEYS) == set(REQUIRED)


@pytest.mark.parametrize(("topic", "lang"), ALL)
def test_renders_a_realistic_payload_within_limits(topic: str, lang: str) -> None:
    payload = PAYLOADS[topic]()
    rendered = render(topic, payload, lang)
    check_limits(rendered, lang)
    for text in (rendered.title, rendered.body, rendered.sms):
        assert "{" not in text
        assert "}" not in text
        assert "None" not in text
    assert rendered.data["topic"] == topic
    assert set(rendered.data) == DATA_KEYS[topic]
    for key in DATA_KEYS[topic] - {"topic"}:
        assert rendered.data[key] == payload[key]


@pytest.mark.parametrize(("topic", "lang"), ALL)
def test_each_language_reads_in_its_own_script(topic: str, lang: str) -> None:
    rendered = render(topic, PAYLOADS[topic](), lang)
    han = sum("CJK" in unicodedata.name(ch, "") for ch in rendered.title)
    assert (han > 0) == (lang == "zh")


@pytest.mark.parametrize(("topic", "lang"), ALL)
def test_a_voucher_code_never_reaches_a_notice(topic: str, lang: str) -> None:
    # Producers never put the code in a payload; even if one did, nothing would show it.
    rendered = render(topic, PAYLOADS[topic](code=VOUCHER_CODE, voucher_code=VOUCHER_CODE), lang)
    assert VOUCHER_CODE not in texts(rendered)
    assert set(rendered.data) == DATA_KEYS[topic]


def test_points_awarded_reads_as_the_app_writes_it() -> None:
    payload = awarded(expires_at="2027-12-31T15:59:59+00:00")
    zh = render("points.awarded", payload, "zh")
    assert zh.title == "积分到账"
    assert zh.body.startswith("您因「垃圾分类」获得 20 积分，有效期至 2027年12月31日。")
    assert zh.sms == "【智慧吴江】您因「垃圾分类」获得 20 积分，有效期至 2027年12月31日。"
    en = render("points.awarded", payload, "en")
    assert en.body.startswith("You earned 20 points for “Waste sorting”, valid until 31 Dec 2027.")
    assert en.sms.startswith("[Smart Wujiang] You earned 20 points")


def test_one_point_is_singular_and_large_amounts_are_grouped_in_english() -> None:
    assert "You earned 1 point for" in render("points.awarded", awarded(points=1), "en").body
    assert "1,200 points" in render("points.expiring", expiring(points=1200), "en").body
    zh = render("points.expiring", expiring(points=1200), "zh")
    assert "您有 1200 积分即将过期，最后使用日期为 2027年12月31日" in zh.body
    en = render("points.expiring", expiring(points=1), "en")
    assert en.body.startswith("1 point in your account can be used until 31 Dec 2027.")


def test_security_notices_say_what_to_do() -> None:
    zh = render("security.signed_in", signed_in(), "zh")
    assert "12月31日 21:05" in zh.body
    assert "智慧吴江App" in zh.body
    assert "HUAWEI Mate 60" in zh.body
    assert "如非本人操作，请立即在「我的-登录设备」中退出并修改密码" in zh.body
    en = render("security.signed_in", signed_in(channel="tv"), "en")
    assert "on 31 Dec at 21:05 through a TV box" in en.body
    assert "change your password" in en.body
    reused = render("security.refresh_token_reused", token_reused(), "zh")
    assert "如非本人操作，请立即修改密码" in reused.body


def test_sign_in_without_a_device_name_or_from_a_new_channel() -> None:
    zh = render("security.signed_in", signed_in(device_name=None, channel="watch"), "zh")
    assert "通过其他渠道登录（设备：未知）" in zh.body
    missing = signed_in()
    del missing["device_name"]
    assert "(device: unknown)" in render("security.signed_in", missing, "en").body
    blank = render("security.signed_in", signed_in(device_name=" \u200b\n "), "en")
    assert "(device: unknown)" in blank.body


def test_redeemed_voucher_shows_its_deadline_and_where_the_code_is() -> None:
    zh = render("rewards.redeemed", redeemed(), "zh")
    assert "「五常大米 5 公斤」" in zh.body
    assert "请于 2027年12月31日 21:05 前使用" in zh.body
    assert "songling-store" not in texts(zh)  # a merchant code, not a name
    en = render("rewards.redeemed", redeemed(), "en")
    assert "before 31 Dec 2027, 21:05" in en.body


def test_a_ticket_notice_names_the_number_and_the_new_status() -> None:
    zh = render("tickets.status_changed", ticket_changed(status="resolved"), "zh")
    assert "投诉工单（编号 WJ20261125-000042）状态已更新为「已办结」" in zh.body
    assert zh.sms.startswith("【智慧吴江】您的12345热线工单WJ20261125-000042状态已更新为「已办结」")
    en = render("tickets.status_changed", ticket_changed(kind="report"), "en")
    assert "city problem report ticket (WJ20261125-000042) is now in progress" in en.body


# --- local dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "zh", "en"),
    [
        ("2027-12-31T15:59:59Z", "2027年12月31日", "31 Dec 2027"),
        ("2027-12-31T16:00:00Z", "2028年1月1日", "1 Jan 2028"),
        ("2027-12-31T16:00:00", "2028年1月1日", "1 Jan 2028"),  # naive: UTC
        ("2028-01-01T00:00:00+08:00", "2028年1月1日", "1 Jan 2028"),
        ("2027-06-05T23:30:00-05:00", "2027年6月6日", "6 Jun 2027"),
    ],
)
def test_dates_are_shown_in_local_time(at: str, zh: str, en: str) -> None:
    assert f"已于 {zh}过期" in render("points.expired", expired(expired_at=at), "zh").body
    assert f"expired on {en}." in render("points.expired", expired(expired_at=at), "en").body


@pytest.mark.parametrize(
    ("expires_at", "last_day"),
    [
        ("2027-12-31T15:59:59Z", "2027年12月31日"),
        # Lapsing as 1 January begins (the default policy): 31 December is the last good day,
        # as the expiry reminder (points.expiring `last_day`) also says.
        ("2027-12-31T16:00:00Z", "2027年12月31日"),
        ("2027-12-31T16:00:01Z", "2028年1月1日"),
    ],
)
def test_an_award_is_valid_until_its_last_local_day(expires_at: str, last_day: str) -> None:
    body = render("points.awarded", awarded(expires_at=expires_at), "zh").body
    assert f"有效期至 {last_day}。" in body


def test_the_time_zone_can_be_chosen_and_must_exist() -> None:
    payload = expired(expired_at="2027-12-31T16:00:00Z")
    assert "2027年12月31日" in render("points.expired", payload, "zh", timezone="UTC").body
    with pytest.raises(TemplateError, match="time zone"):
        render("points.expired", payload, "zh", timezone="Mars/Olympus")
    with pytest.raises(TemplateError, match="time zone"):
        render("points.expired", payload, "zh", timezone="../../etc/passwd")


def test_a_datetime_object_is_taken_as_well_as_its_iso_text() -> None:
    at = datetime(2027, 12, 31, 16, 0, tzinfo=UTC)
    assert "2028年1月1日" in render("points.expired", expired(expired_at=at), "zh").body


# --- languages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("zh", "积分到账"),
        ("en", "Points received"),
        ("en-GB", "Points received"),
        ("EN_us", "Points received"),
        ("zh-Hans-CN", "积分到账"),
        ("fr", "积分到账"),
        ("", "积分到账"),
    ],
)
def test_unknown_languages_fall_back_to_chinese(language: str, expected: str) -> None:
    assert render("points.awarded", awarded(), language).title == expected


def test_a_text_missing_in_english_is_shown_in_chinese() -> None:
    en = render("points.awarded", awarded(title_en=""), "en")
    assert "for “垃圾分类”" in en.body
    del_en = awarded()
    del del_en["title_en"]
    assert "for “垃圾分类”" in render("points.awarded", del_en, "en").body
    neither = awarded()
    del neither["title_en"], neither["title_zh"]
    assert error_of("points.awarded", neither, "en").extensions["field"] == "title_zh"
    reward = reward_payload(title={"zh": "公交卡充值 10 元"})
    assert "“公交卡充值 10 元”" in render("rewards.voucher_expired", reward, "en").body


# --- refusals ----------------------------------------------------------------------------------


def test_an_unknown_topic_is_refused() -> None:
    error = error_of("points.teleported", {"points": 1})
    assert "points.teleported" in error.detail
    assert isinstance(error, DomainError)
    assert error.extensions["topic"] == "points.teleported"


@pytest.mark.parametrize(
    ("topic", "key", "lang"),
    [
        (topic, key, lang)
        for topic, keys in REQUIRED.items()
        for key in keys
        for lang in ("zh", "en")
        # English shows title_en; only with both titles gone is there nothing to show.
        if (topic, key, lang) != ("points.awarded", "title_zh", "en")
    ],
)
def test_a_missing_field_is_refused_naming_topic_and_field(topic: str, key: str, lang: str) -> None:
    payload = PAYLOADS[topic]()
    del payload[key]
    error = error_of(topic, payload, lang)
    assert topic in error.detail
    assert key in error.detail
    assert error.extensions == {"topic": topic, "field": key}


@pytest.mark.parametrize(
    ("topic", "payload", "field"),
    [
        ("points.awarded", awarded(points="abc"), "points"),
        ("points.awarded", awarded(points="20"), "points"),
        ("points.awarded", awarded(points=20.0), "points"),
        ("points.awarded", awarded(points=True), "points"),
        ("points.awarded", awarded(points=-5), "points"),
        ("points.awarded", awarded(points=10**12), "points"),
        ("points.awarded", awarded(expires_at="next Tuesday"), "expires_at"),
        ("points.awarded", awarded(expires_at=1_830_297_600), "expires_at"),
        ("points.awarded", awarded(award_id="../../admin"), "award_id"),
        ("points.awarded", awarded(award_id="x" * 65), "award_id"),
        ("points.awarded", awarded(award_id=42), "award_id"),
        ("points.expiring", expiring(last_day="2027/12/31"), "last_day"),
        ("points.expiring", expiring(last_day="2027-12-31T00:00:00"), "last_day"),
        ("points.award_rejected", rejected(reason=42), "reason"),
        ("points.award_rejected", rejected(reason="  \n\t "), "reason"),
        ("points.award_rejected", rejected(reason="\u202e\u200b\x00"), "reason"),
        ("rewards.redeemed", redeemed(title="五常大米"), "title"),
        ("rewards.redeemed", redeemed(title={"zh": "", "en": None}), "title"),
        ("community.news", news(body={"zh": 5, "en": 6}), "body"),
        ("security.signed_in", signed_in(channel=None), "channel"),
        ("security.signed_in", signed_in(channel=["app"]), "channel"),
        ("security.signed_in", signed_in(device_name=7), "device_name"),
    ],
)
def test_a_field_of_the_wrong_type_is_refused(topic: str, payload: Any, field: str) -> None:
    for lang in ("zh", "en"):
        error = error_of(topic, payload, lang)
        assert error.extensions["field"] == field
        assert topic in error.detail


def test_a_title_of_the_wrong_type_is_refused_in_the_language_that_shows_it() -> None:
    payload = awarded(title_zh=["垃圾分类"])
    assert error_of("points.awarded", payload, "zh").extensions["field"] == "title_zh"
    assert "Waste sorting" in render("points.awarded", payload, "en").body
    payload = awarded(title_en={"text": "Waste sorting"})
    assert error_of("points.awarded", payload, "en").extensions["field"] == "title_en"


def test_the_error_does_not_echo_the_value() -> None:
    error = error_of("points.awarded", awarded(points="secret-ish 13800138000"))
    assert "13800138000" not in error.detail


def test_a_payload_that_is_not_an_object_is_refused() -> None:
    for payload in (None, ["points", 1], "points=1"):
        assert "not an object" in error_of("points.expiring", payload).detail


# --- untrusted values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hostile",
    [
        "{points}",
        "{0.__class__}",
        "{reason.__init__.__globals__}",
        "{award_id[0]}",
        "{{}}",
        "{",
        "%(points)s",
        "${points}",
        "{!r}",
    ],
)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_template_syntax_in_a_value_is_shown_literally(hostile: str, lang: str) -> None:
    rendered = render("points.reversed", reversed_(reason=hostile), lang)
    assert hostile in rendered.body
    news_item = news(title={"zh": hostile, "en": hostile}, community=hostile)
    assert render("community.news", news_item, lang).title == hostile


def test_a_huge_value_is_capped_with_an_ellipsis() -> None:
    reason = "理由" * 5000  # 10 000 characters
    rendered = render("points.award_rejected", rejected(reason=reason), "zh")
    check_limits(rendered, "zh")
    shown = rendered.body.split("原因：")[1].split("。")[0]
    assert len(shown) == 100
    assert shown.endswith("…")
    assert shown[:-1] == reason[:99]
    sms_reason = rendered.sms.split("原因：")[1].split("。")[0]
    assert len(sms_reason) == 24
    assert sms_reason.endswith("…")


def test_a_value_at_its_cap_is_not_cut() -> None:
    reason = "一" * 100
    rendered = render("points.award_rejected", rejected(reason=reason), "zh")
    assert f"原因：{reason}。" in rendered.body


def test_control_and_direction_characters_are_stripped() -> None:
    reason = "照片\x00不\x1b[31m清晰\u202e\u2066\u200b\ufeff\r\n请重新\t\t提交\u2028。"
    rendered = render("points.award_rejected", rejected(reason=reason), "zh")
    assert "原因：照片不[31m清晰 请重新 提交。如有疑问" in rendered.body
    for text in (rendered.title, rendered.body, rendered.sms):
        assert not any(unicodedata.category(ch).startswith("C") for ch in text)
    device = render("security.signed_in", signed_in(device_name="iPhone\u202egnp.exe"), "en")
    assert "(device: iPhonegnp.exe)" in device.body


def test_trailing_punctuation_is_not_doubled() -> None:
    rendered = render("points.reversed", reversed_(reason="重复登记。"), "zh")
    assert "原因：重复登记。如有疑问" in rendered.body
    en = render("points.reversed", reversed_(reason="Recorded twice."), "en")
    assert "Reason: Recorded twice. If" in en.body


# Any text with something left to show once cleaned (nothing left is refused: tested above).
hostile_text = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=400
).filter(lambda text: clean(text, 300, trim_end=True) != "")


@settings(max_examples=150, deadline=None)
@given(
    reason=hostile_text, device=hostile_text, title=hostile_text, lang=st.sampled_from(["zh", "en"])
)
def test_any_text_renders_within_limits_and_without_control_characters(
    reason: str, device: str, title: str, lang: str
) -> None:
    cases = [
        ("points.award_rejected", rejected(reason=reason)),
        ("security.signed_in", signed_in(device_name=device, channel=title)),
        ("community.news", news(title={"zh": title, "en": title}, community=device)),
        ("rewards.redeemed", redeemed(title={"zh": title, "en": reason})),
        ("points.awarded", awarded(title_zh=title, title_en=reason)),
    ]
    for topic, payload in cases:
        rendered = render(topic, payload, lang)
        check_limits(rendered, lang)
        for text in (rendered.title, rendered.body, rendered.sms):
            assert not any(unicodedata.category(ch).startswith("C") for ch in text)


def test_clean_cuts_collapses_and_trims() -> None:
    assert clean("a\n\n  b\tc", 10) == "a b c"
    assert clean("abcdefghijk", 5) == "abcd…"
    assert clean("abcde", 5) == "abcde"
    assert clean("done.。", 10, trim_end=True) == "done"
    assert clean("done!", 10, trim_end=True) == "done!"
    assert clean("x" * 10_000 + "\x00", 8) == "xxxxxxx…"
    # Control characters past the first cut still count as a longer value: it is marked cut.
    assert clean("ab" + "\x00" * 10_000 + "cd", 5).endswith("…")


# --- loading template files ----------------------------------------------------------------------

VALID = """
topics:
  points.reversed:
    fields:
      award_id: {type: id}
      points: {type: points}
      reason: {type: text, max: 40}
    data: [award_id]
    zh:
      title: 积分已撤回
      body: "撤回 {points}：{reason}（{{保留}}）"
      sms: "撤回 {points}"
    en:
      title: Points taken back
      body: "{points} taken back: {reason}"
      sms: "{points} taken back"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "templates.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def refused(tmp_path: Path, text: str, *, topics: tuple[str, ...] = ("points.reversed",)) -> str:
    with pytest.raises(TemplateError) as caught:
        load(write(tmp_path, text), topics=topics)
    return caught.value.detail


def test_a_valid_file_loads_and_renders(tmp_path: Path) -> None:
    templates = load(write(tmp_path, VALID), topics=("points.reversed",))
    rendered = templates.render("points.reversed", reversed_(reason="{points}"), "zh")
    assert rendered.body == "撤回 5 积分：{points}（{保留}）"
    assert rendered.sms == "【智慧吴江】撤回 5 积分"


@pytest.mark.parametrize(
    ("template", "complaint"),
    [
        ("{nonsense}", "unknown field {nonsense}"),
        ("{points.__class__}", "{points.__class__} is not a plain field name"),
        ("{points.real}", "is not a plain field name"),
        ("{reason[0]}", "{reason[0]} is not a plain field name"),
        ("{}", "is not a plain field name"),
        ("{0}", "{0} is not a plain field name"),
        ("{points!r}", "conversion or format spec"),
        ("{points:>200}", "conversion or format spec"),
        ("{reason:{points}}", "conversion or format spec"),
        ("{points", "expected '}'"),
        ("points}", "Single '}'"),
    ],
)
def test_a_template_that_could_evaluate_anything_is_refused(
    tmp_path: Path, template: str, complaint: str
) -> None:
    text = VALID.replace('body: "{points} taken back: {reason}"', f"body: {template!r}")
    assert text != VALID
    detail = refused(tmp_path, text)
    assert "points.reversed.en.body" in detail
    assert complaint in detail


def test_a_template_that_could_outgrow_its_limit_is_refused(tmp_path: Path) -> None:
    text = VALID.replace("reason: {type: text, max: 40}", "reason: {type: text, max: 300}")
    detail = refused(tmp_path, text)
    assert "points.reversed.zh.body: can reach" in detail
    assert "over the limit of 300" in detail
    sms = VALID.replace('sms: "撤回 {points}"', 'sms: "撤回 {points} {reason} {reason}"')
    assert "points.reversed.zh.sms: can reach" in refused(tmp_path, sms)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (("    en:\n", "    fr:\n"), "points.reversed.en: missing"),
        (('      sms: "{points} taken back"\n', ""), "points.reversed.en.sms: missing or empty"),
        (("data: [award_id]", "data: [points]"), "points must be a declared, required id field"),
        (("data: [award_id]", "data: [voucher_code]"), "voucher_code must be a declared"),
        (("{type: points}", "{type: money}"), "type must be one of"),
        (("{type: text, max: 40}", "{type: text}"), "max must be a whole number"),
        (("{type: id}", "{type: id, colour: red}"), "unknown key 'colour'"),
        (
            (
                "      points: {type: points}\n",
                "      points: {type: points}\n      spare: {type: id}\n",
            ),
            "spare: declared but never used",
        ),
        (("{type: text, max: 40}", "{type: text, max: 40, optional: true}"), "default must give"),
        (("points.reversed:", "points.teleported:"), "points.teleported: not a known topic"),
    ],
)
def test_a_malformed_file_is_refused_naming_the_problem(
    tmp_path: Path, change: tuple[str, str], complaint: str
) -> None:
    text = VALID.replace(*change)
    assert text != VALID
    assert complaint in refused(tmp_path, text)


def test_every_topic_is_needed_by_default(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as caught:
        load(write(tmp_path, VALID))
    assert "points.awarded: no template" in caught.value.detail
    assert len(caught.value.extensions["errors"]) == len(TOPICS) - 1


def test_unreadable_files_are_refused(tmp_path: Path) -> None:
    assert "Cannot read" in refused(tmp_path, "topics: [unclosed")
    assert "`topics` mapping" in refused(tmp_path, "- just a list")
    with pytest.raises(TemplateError, match="Cannot read"):
        load(tmp_path / "absent.yaml")


def test_the_packaged_file_is_found_relative_to_the_module() -> None:
    # What the worker loads: checked once and reused.
    assert default_templates() is default_templates()
    assert default_templates().render("points.expiring", expiring(), "en").title
