"""Who the local AWS emulators say you are: one account, one region, credentials that never leave
the machine (moto accepts any). The emulation serves them; the trace readers use them for X-Ray on moto."""

from __future__ import annotations

REGION = "us-east-1"
ACCOUNT = "123456789012"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


def boto_credentials() -> dict[str, str]:
    """FAKE_CREDENTIALS as boto3 client keyword arguments."""
    return {
        "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "aws_session_token": FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    }
