"""Secrets are masked before text leaves us; ordinary troubleshooting language is not."""

from __future__ import annotations

import time

import pytest

from bot.redact import RedactionResult, redact

GH = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7V0t\nq1w2e3r4t5y6u7i8o9p0==\n"
    "-----END RSA PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    ("text", "secret", "kind"),
    [
        ("password=hunter2 then", "hunter2", "password"),
        ("pwd: S3cret!", "S3cret!", "password"),
        ('{"password": "Tr0ub4dor&3", "user": "bob"}', "Tr0ub4dor&3", "password"),
        ("{'db_password': 'abc\\'def'}", "abc\\'def", "password"),
        ("the pass is Summer2024!", "Summer2024!", "password"),
        ("login bob pass Secr3t!x", "Secr3t!x", "password"),
        ("reset the user's password to Welcome123", "Welcome123", "password"),
        ("password for bob is Hunter22", "Hunter22", "password"),
        ('New-ADUser -AccountPassword (ConvertTo-SecureString "P@ss1" -AsPlainText -Force)', '"P@ss1"', "password"),
        ("DB_PASSWORD=xyz123", "xyz123", "password"),
        ("https://admin:p4ssw0rd@portal.example.com/x", "p4ssw0rd", "url_credentials"),
        ("postgresql://app:s3cr3t@db:5432/prod", "s3cr3t", "url_credentials"),
        ("Server=tcp:db;User ID=sa;Password=My$ecret;Encrypt=true", "My$ecret", "password"),
        ("key AKIAIOSFODNN7EXAMPLE in env", "AKIAIOSFODNN7EXAMPLE", "aws_access_key"),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_key"),
        (f"token {GH}", GH, "github_token"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "github_token"),
        ("SLACK_BOT_TOKEN xoxb-1234567890-0987654321-AbCdEfGhIjKl", "xoxb-1234567890-0987654321-AbCdEfGhIjKl", "slack_token"),
        ("app token xapp-1-A01234-5678901234-abcdef0123", "xapp-1-A01234-5678901234-abcdef0123", "slack_token"),
        ("sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789", "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789", "anthropic_key"),
        ("OPENAI sk-proj-abcdefghijklmnopqrstuvwxyz012345", "sk-proj-abcdefghijklmnopqrstuvwxyz012345", "openai_key"),
        (f"cookie {JWT} end", JWT, "jwt"),
        (f"key:\n{PEM}\nafter", "MIIEowIBAAKCAQEA7V0t", "private_key"),
        ("AccountName=acme;AccountKey=" + "Zm9vYmFy" * 11 + "==;EndpointSuffix=x", "Zm9vYmFy" * 11, "azure_storage_key"),
        ("api_key=abcdef123456 next", "abcdef123456", "api_key"),
        ("token=zzzzzzzz9", "zzzzzzzz9", "token"),
        ("client_secret: 8Q~abcdefghijklmn", "8Q~abcdefghijklmn", "secret"),
        ("Authorization: Bearer abcdefghijklmnop.qrstu", "abcdefghijklmnop.qrstu", "authorization"),
        ("curl -H 'Authorization: Basic dXNlcjpwYXNzd29yZA=='", "dXNlcjpwYXNzd29yZA==", "authorization"),
        ("send Bearer abcdefghijklmnop12345 to api", "abcdefghijklmnop12345", "bearer_token"),
    ],
)
def test_each_secret_kind_is_masked(text: str, secret: str, kind: str) -> None:
    result = redact(text)
    assert secret not in result.text
    assert f"[REDACTED:{kind}]" in result.text
    assert kind in result.kinds
    assert result.count >= 1


def test_url_credentials_keep_the_user() -> None:
    assert redact("https://admin:pw123456@h.example/x").text == "https://admin:[REDACTED:url_credentials]@h.example/x"


def test_pem_block_is_masked_whole_even_without_end() -> None:
    out = redact("before\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nabc+/=\n").text
    assert out.startswith("before\n[REDACTED:private_key]")
    assert "MIIE" not in out


NORMAL = [
    "password expired",
    "reset the user's password",
    "the VPN token expired",
    "User's password is expired and must be reset.",
    "Password never expires: True",
    "password: expired",
    "the password was changed yesterday",
    "pass the ticket to tier 2",
    "Bearer token expired",
    "token: expired",
    "Password policy requires 12 characters",
    "Set-ADAccountPassword -Identity bob -Reset -NewPassword $secure",
    "Get-ADUser bob -Properties PasswordLastSet, PasswordExpired",
    "the key is in the drawer; the secret is patience",
    "https://host.example:8443/path@foo",
    "Test pass: 5/5",
    "DNS lookup for mail.example.com failed with SERVFAIL",
    "MFA prompt keeps coming back after the password change",
    "# Resolution note: password prompts\n\n**Domain:** Microsoft 365",
]


@pytest.mark.parametrize("text", NORMAL)
def test_normal_troubleshooting_text_is_untouched(text: str) -> None:
    result = redact(text)
    assert result == RedactionResult(text, 0, [])


def test_redaction_is_idempotent() -> None:
    once = redact('password=hunter2 {"password": "x1y2z3"} token=abcdefgh1')
    twice = redact(once.text)
    assert twice.text == once.text and twice.count == 0


def test_counts_and_kinds() -> None:
    result = redact(f"password=a1b2c3 and pwd=d4e5f6 and {GH}")
    assert result.count == 3
    assert result.kinds == ["github_token", "password"]


def test_extra_patterns_and_bad_ones_are_ignored() -> None:
    result = redact("ticket ACME-SECRET-42 here", [r"ACME-SECRET-\d+", "[unclosed", "(a+)+$", "", "x" * 600])
    assert result.text == "ticket [REDACTED:custom] here"
    assert result.kinds == ["custom"]
    assert redact("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", ["(a+)+$", "(a|aa)*c"]).count == 0


def test_one_megabyte_is_redacted() -> None:
    """Correctness on a large log; its speed target (1 MB in under 1 s) is measured by
    ``benchmarks/redaction.py``, not by a timed unit test."""
    line = (
        "2024-05-01 10:00:01 INFO user bob password expired; retry token=abc12345xyz "
        "url=https://svc:pw12345@api.example.com/v1 Bearer abcdefghijklmnopqrstu "
        "eyJhbGciOi.eyJzdWIi AKIA0000 ghp_short -----BEGIN PRIVATE KEY----- pass the pass\n"
    )
    big = (line * (1_000_000 // len(line) + 1))[:1_000_000]
    result = redact(big)
    assert "pw12345" not in result.text and "abc12345xyz" not in result.text


@pytest.mark.parametrize(
    "junk",
    ["a" * 1_000_000, "eyJ" * 333_333, "-----BEGIN PRIVATE KEY-----" * 37_000, "password " * 110_000,
     "x://" * 250_000, '"password":"' * 80_000, "sk-" * 333_333, "= " * 500_000],
)
def test_pathological_inputs_stay_linear(junk: str) -> None:
    """A hang guard only (a quadratic shape takes many minutes on 1 MB): the speed figures
    are ``benchmarks/redaction.py``'s, so a loaded machine can't fail this."""
    start = time.perf_counter()
    redact(junk)
    assert time.perf_counter() - start < 30.0


def test_empty() -> None:
    assert redact("") == RedactionResult("", 0, [])
