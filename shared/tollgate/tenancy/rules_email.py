"""E-mail addresses, checked with ``email-validator`` (syntax only: no DNS lookups, deliverability off).

Imported lazily inside ``email_address``, so only a request that carries an e-mail (signup) pays for it;
the validation function never does.
"""

from __future__ import annotations


class NotAnEmail(ValueError):
    """The text is not an e-mail address; the message says why (email-validator's words)."""


def email_address(text: str) -> str:
    """The normalized address (domain lowercased, Unicode NFC), or ``NotAnEmail``. Refused: no or several
    ``@``, an empty or dotless domain, reserved names (``localhost``, ``.test``, ``.invalid``…), two dots in
    a row, quoted local parts, IP-address literals, control characters."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return str(validate_email(text, check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise NotAnEmail(f"is not an e-mail address: {exc}") from exc
