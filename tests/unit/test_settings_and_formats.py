import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from config.settings import SettingsError, load_settings
from web.i18n import format_datetime, format_duration, format_money


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    config = tmp_path / "callcenter.env"
    config.write_text(
        "# comment\nCALLCENTER_HTTP_PORT=9000\nCALLCENTER_AMI_HOST=pbx.local\n"
        "CALLCENTER_TRUNK_ENDPOINTS=pstn, trunk2\n",
        encoding="utf-8",
    )

    settings = load_settings({"CALLCENTER_HTTP_PORT": "9100"}, config_file=config)

    assert settings.http_port == 9100
    assert settings.ami_host == "pbx.local"
    assert settings.trunk_endpoints == ("pstn", "trunk2")
    assert not settings.uses_simulator


def test_defaults_mean_embedded_database_and_simulator(tmp_path: Path) -> None:
    settings = load_settings({}, config_file=tmp_path / "absent.env")

    assert settings.database_url is None
    assert settings.uses_simulator
    assert settings.timezone == "Europe/Moscow"
    assert settings.language == "ru"


def test_secrets_are_masked_for_logs(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "CALLCENTER_AMI_SECRET": "s3cret",
            "CALLCENTER_DATABASE_URL": "postgresql://u:pw@db/cc",
        },
        config_file=tmp_path / "absent.env",
    )

    shown = str(settings.redacted())

    assert "s3cret" not in shown and "pw@db" not in shown
    assert settings.redacted()["ami_secret"] == "***"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CALLCENTER_HTTP_PORT": "eighty"}, "CALLCENTER_HTTP_PORT"),
        ({"CALLCENTER_LANGUAGE": "de"}, "CALLCENTER_LANGUAGE"),
        ({"CALLCENTER_MANAGER_CHANNEL_TEMPLATE": "PJSIP/101"}, "{extension}"),
    ],
)
def test_bad_settings_name_the_variable(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message.replace("{", r"\{")):
        load_settings(environ, config_file=tmp_path / "absent.env")


def test_russian_formats() -> None:
    moment = dt.datetime(2026, 12, 4, 14, 5, 9, tzinfo=dt.UTC)

    assert format_datetime(moment, ZoneInfo("Europe/Moscow")) == "04.12.2026 17:05:09"
    assert format_duration(75) == "1:15"
    assert format_duration(3725) == "1:02:05"
    assert format_money(Decimal("1234.56")) == "1\u202f234,56\u00a0₽"
    assert format_money(-1000000) == "-1\u202f000\u202f000,00\u00a0₽"
