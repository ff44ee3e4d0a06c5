"""Recognizing one patient across practices: member id, date of birth and normalized name."""

from __future__ import annotations

from datetime import date

import pytest

from services.auths.domain.patients import PatientKey, match, normalize_member_id, normalize_name
from shared.schemas import PersonRef

DOB = date(1956, 3, 14)


def key(member: str | None, last: str | None, first: str | None, dob: date | None = DOB) -> PatientKey:
    return PatientKey(member_id=member, birth_date=dob, last_name=last, first_name=first)


def test_same_member_id_and_date_of_birth_is_the_same_patient_even_after_a_name_change():
    before = key("1EG4-TE5-MK73", "Kowalski", "Anna")
    after = key("1eg4te5mk73", "Brennan", "Anna")

    result = match(before, after)

    assert result.same is True
    assert result.fields == ("member_id", "birth_date", "first_name")
    assert result.score == 90
    assert "name change" in result.explanation


def test_member_id_date_of_birth_and_name_all_agree_scores_highest():
    result = match(key("1EG4TE5MK73", "Okafor", "James"), key("1EG4-TE5-MK73", "OKAFOR", "JAMES"))

    assert result.same is True
    assert result.score == 100


def test_hyphen_apostrophe_and_suffix_variants_of_a_last_name_match_across_practices():
    east = key("W88120455", "O'Neil-Smith Jr", "Mary")
    valley = key("1EG4TE5MK73", "ONEIL SMITH", "MARY")

    result = match(east, valley)

    assert result.same is True
    assert result.fields == ("birth_date", "last_name", "first_name")
    assert result.score == 80
    assert "member ids differ" in result.explanation


def test_a_first_initial_is_a_weaker_match():
    full = match(key(None, "Garcia", "Luis"), key(None, "GARCIA", "LUIS A"))
    initial = match(key(None, "Garcia", "Luis"), key(None, "garcia", "L."))

    assert full.same is True
    assert initial.same is True
    assert initial.fields == ("birth_date", "last_name", "first_initial")
    assert initial.score < full.score
    assert "weaker" in initial.explanation


def test_two_different_first_names_with_the_same_initial_are_not_the_same_patient():
    # Twins: same date of birth and last name.
    result = match(key(None, "Patel", "Rohan"), key(None, "Patel", "Rahul"))

    assert result.same is False
    assert result.fields == ("birth_date", "last_name")


def test_different_dates_of_birth_are_never_the_same_patient():
    # A spouse on the same subscriber id, same last name and first initial.
    subscriber = key("XGH447120", "Nguyen", "Thanh", date(1958, 1, 30))
    spouse = key("XGH447120", "Nguyen", "Thanh", date(1960, 11, 2))

    result = match(subscriber, spouse)

    assert result.same is False
    assert result.score == 0
    assert result.fields == ("member_id",)
    assert "Never" in result.explanation


def test_a_missing_date_of_birth_is_not_enough():
    result = match(key("1EG4TE5MK73", "Okafor", "James", None), key("1EG4TE5MK73", "Okafor", "James"))

    assert result.same is False
    assert "date of birth is missing" in result.explanation


def test_only_the_date_of_birth_agreeing_is_not_the_same_patient():
    result = match(key("A1", "Okafor", "James"), key("B2", "Whitfield", "Dana"))

    assert result.same is False
    assert result.fields == ("birth_date",)


def test_matching_is_symmetric():
    a, b = key(None, "O'Neil-Smith Jr", "Mary"), key("X", "ONEIL SMITH", "M")

    assert match(a, b) == match(b, a)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("O'Neil-Smith Jr", "ONEIL SMITH"),
        ("o\u2019neil smith, JR.", "ONEIL SMITH"),
        ("José  de la Cruz", "JOSE DE LA CRUZ"),
        ("Smith III", "SMITH"),
        ("St. John-Pérez Sr", "ST JOHN PEREZ"),
        ("V", "V"),
        ("", ""),
        (None, ""),
    ],
)
def test_names_normalize(raw, normalized):
    assert normalize_name(raw) == normalized


def test_compound_last_names_match_with_or_without_the_space():
    assert match(key(None, "McDonald", "Ruth"), key(None, "Mc Donald", "Ruth")).same is True


def test_member_ids_normalize():
    assert normalize_member_id(" 1eg4-te5-mk73 ") == "1EG4TE5MK73"
    assert normalize_member_id(None) == ""


def test_a_key_from_a_claims_patient():
    person = PersonRef(last_name="ONEIL SMITH", first_name="MARY", member_id="1EG4TE5MK73")

    assert PatientKey.from_person(person, DOB) == PatientKey("1EG4TE5MK73", DOB, "ONEIL SMITH", "MARY")
