"""The one settings model: defaults, validation that names the variable, and password masking."""

from __future__ import annotations

import pytest

from wind_pipeline.settings import (
    ConfigurationError,
    check_http_url,
    check_postgres_url,
    load_settings,
    mask_passwords,
    redact,
    url_secrets,
)

SECRET = "s3cretPW"


def test_nothing_set_anywhere_is_one_line_saying_how_to_set_it(clean_env, tmp_path):
    """No guessed default: a server on the default port may be another checkout's stack."""
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(
        "WIND_SOURCE_DB_URL and WIND_TARGET_DB_URL and WIND_API_URL not set: "
        f"start the local stack with `make up` in {tmp_path / 'checkout'}"
    )
    assert "\n" not in message
    with pytest.raises(ConfigurationError, match="^WIND_API_URL not set"):
        clean_env.setenv("WIND_TARGET_DB_URL", "postgresql://u@db:5432/t")
        load_settings("target_db_url", "api_url")


def test_the_checkouts_env_file_is_read_from_any_folder(clean_env, tmp_path):
    (tmp_path / "checkout" / ".env").write_text(
        "WIND_API_URL=${WIND_API_URL:-http://checkout:1}\nWIND_TARGET_DB_URL=postgresql://u@c/t\n"
    )
    settings = load_settings("target_db_url", "api_url")
    assert (settings.api_url, settings.target_db_url) == ("http://checkout:1", "postgresql://u@c/t")
    # The working folder's .env wins over the checkout's (as in Dagster's CLI); the environment
    # wins over both.
    (tmp_path / ".env").write_text("WIND_API_URL=http://here:2\n")
    assert load_settings("api_url").api_url == "http://here:2"
    clean_env.setenv("WIND_API_URL", "http://exported:3")
    assert load_settings("api_url").api_url == "http://exported:3"


def test_values_are_trimmed_and_the_api_url_loses_its_trailing_slash(clean_env):
    clean_env.setenv("WIND_API_URL", " http://api.example:9000/ ")
    clean_env.setenv("WIND_TARGET_DB_URL", " postgresql://u@db:5432/t ")
    settings = load_settings("api_url", "target_db_url")
    assert settings.api_url == "http://api.example:9000"
    assert settings.target_db_url == "postgresql://u@db:5432/t"


def test_a_dotenv_file_is_read_and_the_environment_wins(clean_env, tmp_path):
    (tmp_path / ".env").write_text(
        "WIND_API_URL=http://from-dotenv:1\nWIND_SOURCE_DB_URL=postgresql://u@dotenv/s\n"
    )
    clean_env.setenv("WIND_API_URL", "http://from-env:2")
    settings = load_settings("api_url", "source_db_url")
    assert settings.api_url == "http://from-env:2"
    assert settings.source_db_url == "postgresql://u@dotenv/s"


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("WIND_SOURCE_DB_URL", "", "empty value"),
        ("WIND_SOURCE_DB_URL", "   ", "empty value"),
        (
            "WIND_SOURCE_DB_URL",
            f"mysql://u:{SECRET}@h/d",
            "expected a postgresql:// URL, got mysql://",
        ),
        ("WIND_TARGET_DB_URL", "not a url", "not a database URL"),
        ("WIND_TARGET_DB_URL", f"not a url {SECRET}", "not a database URL"),
        ("WIND_TARGET_DB_URL", f"postgresql://u:{SECRET}@h:notaport/d", "not a database URL"),
        ("WIND_TARGET_DB_URL", f"postgresql://u:{SECRET}@h:99999/d", "port 99999 out of range"),
        ("WIND_API_URL", "", "empty value"),
        ("WIND_API_URL", "127.0.0.1:8765", "expected an http:// or https:// URL"),
        ("WIND_API_URL", f"ftp://u:{SECRET}@h", "expected an http:// or https:// URL"),
        ("WIND_API_URL", f"http://u:{SECRET}@h:badport", "not a valid URL"),
        ("WIND_API_URL", f"http://h:8765/?token={SECRET}", "without ?query or #fragment"),
        ("WIND_API_URL", "http://", "no host"),
    ],
)
def test_a_bad_value_names_the_variable_and_never_quotes_it(clean_env, name, value, reason):
    clean_env.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"invalid configuration: {name}: ")
    assert reason in message
    assert SECRET not in message
    assert "\n" not in message


def test_every_bad_variable_is_named_at_once(clean_env):
    clean_env.setenv("WIND_SOURCE_DB_URL", "sqlite:///x")
    clean_env.setenv("WIND_API_URL", "localhost:8765")
    message = str(pytest.raises(ConfigurationError, load_settings).value)
    assert "WIND_SOURCE_DB_URL: expected a postgresql:// URL, got sqlite://" in message
    assert "WIND_API_URL: expected an http:// or https:// URL" in message


def test_url_checks_accept_the_usual_forms():
    for url in (
        "postgresql://u@h/d",
        "postgresql+psycopg2://u:p@h:5432/d",
        "postgresql:///d?host=/var/run/postgresql",
    ):
        check_postgres_url(url)
    for url in ("http://127.0.0.1:8765", "https://api.example/conektor"):
        check_http_url(url)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql://wind:pw@db:5432/t", "postgresql://wind:***@db:5432/t"),
        ("postgresql+psycopg2://wind:p@ss:w0rd@db/t", "postgresql+psycopg2://wind:***@db/t"),
        ("http://user:tok@api:8765/data", "http://user:***@api:8765/data"),
        (
            "postgresql://db/t?user=u&password=pw&sslmode=require",
            "postgresql://db/t?user=u&password=***&sslmode=require",
        ),
        ("host=db dbname=t password=pw user=u", "host=db dbname=t password=*** user=u"),
        ("failed: 'PASSWORD=pw' rejected", "failed: 'PASSWORD=***' rejected"),
        ("postgresql://wind@db/t (no password)", "postgresql://wind@db/t (no password)"),
        (
            "two: http://a:x1@h and postgresql://b:y2@k/d",
            "two: http://a:***@h and postgresql://b:***@k/d",
        ),
    ],
)
def test_mask_passwords_masks_every_form(text, masked):
    assert mask_passwords(text) == masked


def test_mask_passwords_also_masks_given_secrets_longest_first():
    text = "connect failed for user wind with hunter22 (hunter2 is not it)"
    assert mask_passwords(text, ["hunter2", "hunter22", ""]) == (
        "connect failed for user wind with *** (*** is not it)"
    )


def test_url_secrets_finds_the_password_however_it_is_written():
    encoded = "p%40ss"
    assert url_secrets(f"postgresql://u:{encoded}@h/d") == ["p%40ss", "p@ss"]
    assert url_secrets("postgresql://h/d?password=longer") == ["longer"]
    assert url_secrets("postgresql://u:ab@h/d") == [], "too short to scrub as free text"
    assert url_secrets("postgresql://u@h/d") == []


def test_redact_is_safe_to_print():
    assert redact(f"postgresql://u:{SECRET}@h/d") == "postgresql://u:***@h/d"
    assert redact("postgresql+psycopg2://postgres@127.0.0.1:54329/t") == (
        "postgresql+psycopg2://postgres@127.0.0.1:54329/t"
    )


def test_mask_passwords_and_redact():
    text = "at http://u:pw1@h:1/a and postgresql+psycopg2://a:pw2@c/d, also pw3 alone"
    masked = mask_passwords(text, ["pw3"])
    assert "pw1" not in masked and "pw2" not in masked and "pw3" not in masked
    assert "http://u:***@h:1/a" in masked and "http://h:8765/x@y" in mask_passwords(
        "http://h:8765/x@y"
    )
    assert redact("postgresql+psycopg2://u:pw@h/d") == "postgresql+psycopg2://u:***@h/d"
    assert redact("http://u:pw@h:1") == "http://u:***@h:1"


@pytest.mark.parametrize(("text", "live"), [("", False), ("off", False), ("On", True), ("1", True)])
def test_wind_live_reads_like_the_code_locations_switch(clean_env, text, live):
    clean_env.setenv("WIND_LIVE", text)
    assert load_settings("live").live is live


def test_a_bad_wind_live_names_the_variable(clean_env):
    clean_env.setenv("WIND_LIVE", "maybe")
    with pytest.raises(ConfigurationError) as caught:
        load_settings("live")
    assert str(caught.value) == (
        "invalid configuration: WIND_LIVE: expected true or false (or 1/0, yes/no, on/off)"
    )
