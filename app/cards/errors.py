"""The card errors: the reader or PC/SC service failing (TransportError) and the card's own
answers (CardStatusError, one class per status word). `message` is Japanese, shown to the clerk
as is, and never contains card data: only status words, file ids and retry counts."""

from __future__ import annotations

from app.domain.errors import DomainError


class CardError(DomainError):
    """Base of every card error; `message` is shown to the clerk as is."""


class TransportError(CardError):
    """The reader or the PC/SC service failed (not the card's answer)."""


class NoReader(TransportError):
    def __init__(self, message: str = "カードリーダーが見つかりません。接続を確認してください。"):
        super().__init__(message)


class NoCard(TransportError):
    def __init__(self, message: str = "カードがリーダーに置かれていません。") -> None:
        super().__init__(message)


class CardRemoved(TransportError):
    def __init__(
        self,
        message: str = (
            "読み取り中にカードが取り外されました。カードを置き直して、もう一度読み取ってください。"
        ),
    ) -> None:
        super().__init__(message)


class CardStatusError(CardError):
    """The card answered with a status word other than 9000."""

    def __init__(self, sw: int, message: str) -> None:
        super().__init__(message)
        self.sw = sw


class WrongPin(CardStatusError):
    def __init__(self, sw: int, remaining: int, label: str = "暗証番号") -> None:
        super().__init__(sw, f"{label}が違います。残り{remaining}回間違えるとロックされます。")
        self.remaining = remaining


class PinBlocked(CardStatusError):
    """The PIN is blocked (63C0 right after the last try, or 6983/6984): never "wrong"."""

    def __init__(self, sw: int, label: str = "暗証番号") -> None:
        super().__init__(
            sw,
            f"{label}はロックされています。本人確認のうえ、窓口で暗証番号の初期化(再設定)を"
            "行ってください。",
        )


class SecurityStatusNotSatisfied(CardStatusError):
    def __init__(self, sw: int = 0x6982) -> None:
        super().__init__(sw, "暗証番号の照合が済んでいないため、カードの情報を読み取れません。")


class FileNotFound(CardStatusError):
    def __init__(self, sw: int = 0x6A82, what: str = "") -> None:
        suffix = f"({what})" if what else ""
        super().__init__(
            sw,
            f"カードに必要なアプリケーションまたはファイルがありません{suffix}。"
            "個人番号カードであることを確認してください。",
        )


class OffsetBeyondEnd(CardStatusError):
    def __init__(self, sw: int = 0x6B00) -> None:
        super().__init__(sw, "カードのファイルの終わりを超えて読み取ろうとしました。")


class IncorrectParameters(CardStatusError):
    def __init__(self, sw: int = 0x6A86) -> None:
        super().__init__(sw, "カードがコマンドの引数を受け付けませんでした(6A86)。")


class UnexpectedStatus(CardStatusError):
    def __init__(self, sw: int) -> None:
        super().__init__(sw, f"カードが予期しない応答を返しました(ステータス {sw:04X})。")


class MalformedResponse(CardError):
    """The card's data does not have the expected structure (BER-TLV, lengths, digits)."""

    def __init__(self, detail: str = "") -> None:
        suffix = f"({detail})" if detail else ""
        super().__init__(f"カードのデータの形式が正しくありません{suffix}。")
        self.detail = detail
