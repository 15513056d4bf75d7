"""Check digits (個人番号, 住民票コード, 地方公共団体コード), 郵便番号, 在留カード番号, errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import ValidationError
from app.domain.identifiers import (
    is_valid_juminhyo_code,
    is_valid_local_government_code,
    is_valid_my_number,
    is_valid_postal_code,
    is_valid_residence_card_number,
    juminhyo_code_check_digit,
    local_government_code_check_digit,
    mask_my_number,
    my_number_check_digit,
    validate_juminhyo_code,
    validate_local_government_code,
    validate_my_number,
    validate_postal_code,
    validate_residence_card_number,
    with_check_digit,
)

WEIGHTS = (2, 3, 4, 5, 6, 7, 2, 3, 4, 5, 6)


def remainder(body: str) -> int:
    """Σ Pn·Qn mod 11, written independently of the module (Pn from the lowest digit)."""
    return sum(int(d) * WEIGHTS[i] for i, d in enumerate(reversed(body))) % 11


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("012084", True),  # 北見市
        ("131016", True),  # 千代田区
        ("011002", True),  # 札幌市
        ("012083", False),
        ("01208", False),
        ("０１２０８４", False),
        (12084, False),
    ],
)
def test_local_government_code_examples(code: object, valid: bool) -> None:
    assert is_valid_local_government_code(code) is valid


def test_my_number_published_example() -> None:
    # A number used in public write-ups of the ordinance's formula.
    assert is_valid_my_number("983205673214")
    assert not is_valid_my_number("983205673210")
    assert my_number_check_digit("98320567321") == 4


def test_juminhyo_code_rule_by_hand() -> None:
    # 1234567890: Σ = 0·2+9·3+8·4+7·5+6·6+5·7+4·2+3·3+2·4+1·5 = 195, 195 mod 11 = 8, 11−8 = 3
    assert juminhyo_code_check_digit("1234567890") == 3
    assert is_valid_juminhyo_code("12345678903")
    # remainder 0 or 1 → 0
    assert juminhyo_code_check_digit("0000000000") == 0
    assert is_valid_juminhyo_code("00000000000")


@settings(max_examples=200, deadline=None)
@given(digits(11))
def test_my_number_every_body_validates_with_its_digit(body: str) -> None:
    number = body + str(my_number_check_digit(body))
    assert is_valid_my_number(number)
    r = remainder(body)
    assert int(number[-1]) == (0 if r <= 1 else 11 - r)


@settings(max_examples=150, deadline=None)
@given(digits(11), st.integers(0, 11), st.integers(1, 9))
def test_my_number_single_digit_change(body: str, pos: int, delta: int) -> None:
    number = body + str(my_number_check_digit(body))
    changed = number[:pos] + str((int(number[pos]) + delta) % 10) + number[pos + 1 :]
    if pos == 11:
        assert not is_valid_my_number(changed)  # a wrong check digit is always caught
        return
    # Modulus 11 folds remainders 0 and 1 into the same digit 0: a change that moves the
    # remainder between exactly those two values is the one blind spot of the official rule.
    blind = {remainder(number[:11]), remainder(changed[:11])} == {0, 1}
    assert is_valid_my_number(changed) is blind


def test_the_blind_spot_is_real() -> None:
    # remainder 0 → 1 by a change of one digit: both get check digit 0.
    body = "00000000000"
    changed = "00000000006"  # 6·2 = 12 ≡ 1 (mod 11)
    assert remainder(body) == 0 and remainder(changed) == 1
    assert is_valid_my_number(body + "0") and is_valid_my_number(changed + "0")


@settings(max_examples=150, deadline=None)
@given(digits(10), st.integers(0, 10), st.integers(1, 9))
def test_juminhyo_code_check_digit_properties(body: str, pos: int, delta: int) -> None:
    code = body + str(juminhyo_code_check_digit(body))
    assert is_valid_juminhyo_code(code)
    changed = code[:pos] + str((int(code[pos]) + delta) % 10) + code[pos + 1 :]
    if pos == 10:
        assert not is_valid_juminhyo_code(changed)
    else:
        blind = {remainder(code[:10]), remainder(changed[:10])} == {0, 1}
        assert is_valid_juminhyo_code(changed) is blind


@settings(max_examples=150, deadline=None)
@given(digits(5), st.integers(0, 5), st.integers(1, 9))
def test_local_government_code_properties(body: str, pos: int, delta: int) -> None:
    code = body + str(local_government_code_check_digit(body))
    assert is_valid_local_government_code(code)
    changed = code[:pos] + str((int(code[pos]) + delta) % 10) + code[pos + 1 :]
    total = sum(int(d) * w for d, w in zip(changed[:5], (6, 5, 4, 3, 2), strict=True))
    assert is_valid_local_government_code(changed) is ((11 - total % 11) % 10 == int(changed[5]))
    if pos == 5:
        assert not is_valid_local_government_code(changed)


def test_with_check_digit() -> None:
    assert with_check_digit("01208", "local_government_code") == "012084"
    assert is_valid_my_number(with_check_digit("12345678901", "my_number"))
    assert is_valid_juminhyo_code(with_check_digit("1234567890", "juminhyo_code"))


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("090-0024", True),
        ("0900024", False),
        ("090-002", False),
        ("０９０-００２４", False),
        ("090–0024", False),
        (None, False),
    ],
)
def test_postal_code(value: object, valid: bool) -> None:
    assert is_valid_postal_code(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("AB12345678CD", True),
        ("ab12345678cd", False),
        ("AB1234567CD", False),
        ("A123456789CD", False),
        ("AB12345678C", False),
    ],
)
def test_residence_card_number(value: str, valid: bool) -> None:
    assert is_valid_residence_card_number(value) is valid


def test_error_texts_name_the_field_in_japanese() -> None:
    with pytest.raises(ValidationError) as e:
        validate_juminhyo_code("12345678900")
    assert e.value.field == "juminhyo_code"
    assert e.value.message == ("住民票コードが正しくありません(11桁の数字・末尾は検査数字)。")
    with pytest.raises(ValidationError) as e:
        validate_local_government_code("012083")
    assert e.value.message == (
        "地方公共団体コード「012083」が正しくありません(6桁の数字・末尾は検査数字)。"
    )
    with pytest.raises(ValidationError) as e:
        validate_postal_code("0900024", field="postal")
    assert e.value.field == "postal"
    assert e.value.message == "郵便番号「0900024」が正しくありません(例: 090-0024)。"
    with pytest.raises(ValidationError) as e:
        validate_residence_card_number("AB123")
    assert "在留カード等の番号「AB123」" in e.value.message
    assert isinstance(e.value, ValueError)


def test_my_number_error_never_echoes_the_number() -> None:
    with pytest.raises(ValidationError) as e:
        validate_my_number("983205673210")
    assert e.value.field == "my_number"
    assert "983205673210" not in str(e.value)
    assert e.value.message == "個人番号が正しくありません(12桁の数字・末尾は検査用数字)。"
    assert validate_my_number("983205673214") == "983205673214"


def test_mask() -> None:
    assert mask_my_number("983205673214") == "●●●●●●●●3214"
    assert mask_my_number("123") == "●" * 12


def test_fold_digits_as_a_clerk_types_them() -> None:
    from app.domain.identifiers import fold_digits, is_valid_juminhyo_code

    assert fold_digits("１２３４５６７８９０１") == "12345678901"
    assert fold_digits("1234 5678-901") == "12345678901"
    assert fold_digits("98000０0001A") == "9800000001A"  # letters stay, for the validator to see
    body = "9800000001"
    code = body + str(juminhyo_code_check_digit(body))
    wide = code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert not is_valid_juminhyo_code(wide) and is_valid_juminhyo_code(fold_digits(wide))
