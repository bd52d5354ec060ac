"""GB 11643 resident ID numbers: known examples, each rule's refusal, and properties that hold for
every number (valid ones parse; any single substitution or adjacent transposition is refused;
hostile text is only ever refused; the number never leaks into reprs or error bodies)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import clock
from core.errors import DomainError
from identity import IdentityError, IdNumber, InvalidIdNumber, check_character, parse_id_number
from tests.identity.factories import WUJIANG, make_id_number

TODAY = date(2025, 6, 1)
PUBLISHED_EXAMPLE = "11010519491231002X"  # the example used in GB 11643 explanations
CHARACTERS = "0123456789X"

# Written out again rather than imported, so a mistake in the product's table shows up here.
MAINLAND_PROVINCES = [
    *("11", "12", "13", "14", "15", "21", "22", "23"),
    *("31", "32", "33", "34", "35", "36", "37"),
    *("41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54"),
    *("61", "62", "63", "64", "65"),
]
UNDIVIDED_REGIONS = ["710000", "810000", "820000", "830000"]


def with_check(first17: str) -> str:
    return first17 + check_character(first17)


def refusal(raw: Any, *, today: date | None = TODAY) -> InvalidIdNumber:
    with pytest.raises(InvalidIdNumber) as caught:
        parse_id_number(raw, today=today)
    return caught.value


def assert_no_echo(error: InvalidIdNumber, raw: str) -> None:
    """Neither the message nor the problem's extension members repeat the number."""
    core = raw.strip()
    if len(core) < 6:  # too short to be personal data, and may occur in any sentence
        return
    for text in (error.detail, str(error), repr(error.args), repr(error.extensions)):
        assert core not in text
        assert core.upper() not in text


# --- strategies ------------------------------------------------------------------------------

mainland_regions = st.builds(
    lambda province, prefecture, county: f"{province}{prefecture:02d}{county:02d}",
    st.sampled_from(MAINLAND_PROVINCES),
    st.integers(1, 99),
    st.integers(0, 99),
)
regions = st.one_of(mainland_regions, st.sampled_from(UNDIVIDED_REGIONS))
birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
sequences = st.integers(0, 999)


@st.composite
def valid_numbers(draw: st.DrawFn) -> str:
    return make_id_number(draw(regions), draw(birth_dates), draw(sequences))


# --- valid numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region_code", "birth_date", "sex"),
    [
        (PUBLISHED_EXAMPLE, "110105", date(1949, 12, 31), "female"),
        ("320584199005170018", WUJIANG, date(1990, 5, 17), "male"),
        ("110101200001010010", "110101", date(2000, 1, 1), "male"),
        ("420103200002290056", "420103", date(2000, 2, 29), "male"),  # leap day
        ("830000198506150024", "830000", date(1985, 6, 15), "female"),  # Taiwan residence permit
        ("810000199001010019", "810000", date(1990, 1, 1), "male"),  # Hong Kong residence permit
    ],
)
def test_known_numbers_parse(raw: str, region_code: str, birth_date: date, sex: str) -> None:
    parsed = parse_id_number(raw, today=TODAY)

    assert parsed.value == raw
    assert parsed.region_code == region_code
    assert parsed.birth_date == birth_date
    assert parsed.sex == sex


def test_lower_case_x_is_accepted_and_canonicalised() -> None:
    assert parse_id_number(PUBLISHED_EXAMPLE.lower(), today=TODAY).value == PUBLISHED_EXAMPLE


@pytest.mark.parametrize("padding", [" ", "\t", "\n", " \r\n", "\u3000"])  # \u3000: ideographic
def test_surrounding_whitespace_is_trimmed(padding: str) -> None:
    parsed = parse_id_number(padding + PUBLISHED_EXAMPLE + padding, today=TODAY)

    assert parsed.value == PUBLISHED_EXAMPLE


def test_born_today_in_china_is_accepted_even_before_utc_reaches_that_date() -> None:
    born = date(2025, 6, 2)
    number = make_id_number(birth=born)

    # 16:00 UTC on 1 June is midnight of 2 June in China.
    with clock.frozen(datetime(2025, 6, 1, 15, 59, tzinfo=UTC)):
        assert refusal(number, today=None).reason == "birth-date"
    with clock.frozen(datetime(2025, 6, 1, 16, 0, tzinfo=UTC)):
        assert parse_id_number(number).birth_date == born


def test_future_birth_date_is_refused_relative_to_the_clock() -> None:
    with clock.frozen(datetime(2030, 1, 1, 4, 0, tzinfo=UTC)):
        parse_id_number(make_id_number(birth=date(2030, 1, 1)))
        error = refusal(make_id_number(birth=date(2030, 1, 2)), today=None)

    assert error.reason == "birth-date"
    assert "future" in error.detail


# --- each rule's refusal ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("110105491231002", "legacy-15-digit"),
        ("  110105491231002\n", "legacy-15-digit"),
        ("", "length"),
        ("   ", "length"),
        ("11010549123100X", "length"),  # 15 characters but not a legacy number
        (PUBLISHED_EXAMPLE[:-1], "length"),
        (PUBLISHED_EXAMPLE + "0", "length"),
        ("11010519491231002Y", "characters"),
        ("1101051949123100X2", "characters"),  # X only as the last character
        ("1101051949 231002X", "characters"),
        ("11010519491231002\x00", "characters"),
        ("１１０１０５１９４９１２３１００２Ｘ", "characters"),  # full-width digits
        ("١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", "characters"),  # Arabic-Indic digits, also str.isdigit()
        (with_check("00010519491231002"), "region"),
        (with_check("99010519491231002"), "region"),
        (with_check("16010519491231002"), "region"),
        (with_check("84000019491231002"), "region"),
        (with_check("32000019491231002"), "region"),  # a province, not a prefecture
        (with_check("81010019491231002"), "region"),  # Hong Kong codes have no subdivisions
        (with_check("11010519490231002"), "birth-date"),  # 31 February
        (with_check("11010520230229002"), "birth-date"),  # not a leap year
        (with_check("11010519491301002"), "birth-date"),
        (with_check("11010519490001002"), "birth-date"),
        (with_check("11010519491200002"), "birth-date"),
        (with_check("11010500000101002"), "birth-date"),
        (with_check("11010518991231002"), "birth-date"),  # before 1900
        ("440524188001010014", "birth-date"),  # a widely quoted example, born in 1880
        (with_check("11010520250602002"), "birth-date"),  # the day after TODAY
        ("110105194912310021", "check-character"),
        ("320584199005170011", "check-character"),
    ],
)
def test_each_rule_is_refused_with_its_reason(raw: str, reason: str) -> None:
    error = refusal(raw)

    assert error.reason == reason
    assert error.extensions == {"reason": reason}
    assert_no_echo(error, raw)


def test_legacy_numbers_are_told_to_use_the_18_digit_number() -> None:
    assert "18-digit" in refusal("110105491231002").detail


def test_the_error_is_an_identity_domain_error_rendered_as_422() -> None:
    error = refusal("nonsense")

    assert isinstance(error, IdentityError)
    assert isinstance(error, DomainError)
    assert error.type_uri() == "urn:wujiang:problem:invalid-id-number"
    assert error.status == 422


@pytest.mark.parametrize("raw", [None, 110105194912310020, b"11010519491231002X", ["1"]])
def test_non_text_input_is_refused_not_crashed_on(raw: object) -> None:
    assert refusal(cast(Any, raw)).reason == "characters"


@pytest.mark.parametrize("raw", ["1" * 1_000_000, PUBLISHED_EXAMPLE * 10_000, " " * 100_000 + "x"])
def test_very_long_input_is_refused_by_length(raw: str) -> None:
    assert refusal(raw).reason == "length"


# --- the number does not leak ----------------------------------------------------------------


def test_repr_and_str_are_masked() -> None:
    parsed = parse_id_number(PUBLISHED_EXAMPLE, today=TODAY)

    for shown in (repr(parsed), str(parsed), f"{parsed}", repr([parsed])):
        assert PUBLISHED_EXAMPLE not in shown
        assert "19491231" not in shown
        assert "110105" not in shown
    assert repr(parsed) == "IdNumber('1****************X')"


# --- check character -------------------------------------------------------------------------


def test_check_character_of_known_numbers() -> None:
    assert check_character(PUBLISHED_EXAMPLE[:17]) == "X"
    assert check_character("44052418800101001") == "4"


@pytest.mark.parametrize("first17", ["", "1" * 16, "1" * 18, "1101051949123100X", "１" * 17])
def test_check_character_needs_17_ascii_digits(first17: str) -> None:
    with pytest.raises(ValueError, match="17 ASCII digits"):
        check_character(first17)


# --- properties ------------------------------------------------------------------------------


@given(regions, birth_dates, sequences)
def test_generated_valid_numbers_parse_and_round_trip(
    region: str, birth: date, sequence: int
) -> None:
    number = make_id_number(region, birth, sequence)

    parsed = parse_id_number(number, today=TODAY)

    assert parsed == IdNumber(
        value=number,
        region_code=region,
        birth_date=birth,
        sex="male" if sequence % 2 else "female",
    )
    assert number not in repr(parsed)


@given(valid_numbers())
def test_any_single_character_substitution_is_refused(number: str) -> None:
    for position, original in enumerate(number):
        for replacement in CHARACTERS.replace(original, ""):
            changed = number[:position] + replacement + number[position + 1 :]
            if position < 17 and replacement != "X":
                # MOD 11-2 alone catches it: weights are non-zero mod 11 and digits differ by < 11.
                assert check_character(changed[:17]) != changed[17]
            error = refusal(changed)
            assert_no_echo(error, changed)


@given(valid_numbers())
def test_any_adjacent_transposition_is_refused(number: str) -> None:
    for position in range(17):
        left, right = number[position], number[position + 1]
        if left == right:
            continue
        swapped = number[:position] + right + left + number[position + 2 :]
        if "X" not in swapped[:17]:
            # Neighbouring weights differ by a non-zero amount mod 11 (w[i] = 2·w[i+1]), and the
            # check character's weight 1 against the 17th digit's 2, so the check always fails.
            assert check_character(swapped[:17]) != swapped[17]
        error = refusal(swapped)
        assert_no_echo(error, swapped)


hostile_text = st.one_of(
    st.text(),
    st.text(alphabet=CHARACTERS + "x \t\n\x00\u3000１２３Ｘ٣", max_size=40),
    st.builds(lambda text, times: text * times, st.text(min_size=1), st.integers(1, 5_000)),
    st.builds(
        lambda number, position, junk: number[:position] + junk + number[position:],
        valid_numbers(),
        st.integers(0, 18),
        st.sampled_from(["\x00", "\u200b", "\ufeff", "-", "１", "\U0001f600"]),
    ),
)


@given(hostile_text)
def test_hostile_text_is_only_ever_refused(raw: str) -> None:
    try:
        parsed = parse_id_number(raw, today=TODAY)
    except InvalidIdNumber:
        return
    assert len(parsed.value) == 18
    assert parsed.value.isascii()


@given(st.text(alphabet="0123456789Xx \t", min_size=6, max_size=40))
def test_refusals_never_echo_digit_strings(raw: str) -> None:
    try:
        parse_id_number(raw, today=TODAY)
    except InvalidIdNumber as error:
        assert_no_echo(error, raw)
