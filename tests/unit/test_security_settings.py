"""TLS and SASL settings become the client arguments Kafka and PostgreSQL need."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faststream.security import SASLPlaintext, SASLScram256, SASLScram512

from shared.runtime.broker import make_broker
from shared.runtime.security import (
    database_connect_args,
    kafka_client_options,
    kafka_security,
)
from shared.runtime.settings import Settings


def write_ca(folder: Path, name: str = "claimline test CA") -> tuple[Path, Path]:
    """A self-signed CA certificate (it doubles as a client certificate) and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "ca.pem", folder / "ca.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def ca_names(context: ssl.SSLContext) -> list[str]:
    names: list[str] = []
    for cert in context.get_ca_certs():
        subject: Any = cert["subject"]
        names += [value for rdn in subject for key, value in rdn if key == "commonName"]
    return names


def make(**env: object) -> Settings:
    return Settings(**env)  # type: ignore[arg-type]


# ---------------------------------------------------------------- Kafka


def test_plaintext_is_the_default_and_adds_no_client_arguments():
    settings = make()
    assert kafka_security(settings) is None
    assert kafka_client_options(settings) == {}


def test_ssl_verifies_the_broker_against_the_given_ca_and_presents_the_client_certificate(tmp_path):
    ca, key = write_ca(tmp_path)
    settings = make(
        KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_SSL_CAFILE=ca, KAFKA_SSL_CERTFILE=ca, KAFKA_SSL_KEYFILE=key
    )
    options = kafka_client_options(settings)
    assert options["security_protocol"] == "SSL"
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert ca_names(context) == ["claimline test CA"]
    assert "sasl_mechanism" not in options


@pytest.mark.parametrize(
    ("mechanism", "cls"),
    [("PLAIN", SASLPlaintext), ("SCRAM-SHA-256", SASLScram256), ("SCRAM-SHA-512", SASLScram512)],
)
def test_sasl_ssl_passes_mechanism_username_password_and_the_tls_context(tmp_path, mechanism, cls):
    ca, _ = write_ca(tmp_path)
    settings = make(
        KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        KAFKA_SASL_MECHANISM=mechanism,
        KAFKA_SASL_USERNAME="claimline-denials",
        KAFKA_SASL_PASSWORD="s3cret",
        KAFKA_SSL_CAFILE=ca,
    )
    assert isinstance(kafka_security(settings), cls)
    options = kafka_client_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == mechanism
    assert options["sasl_plain_username"] == "claimline-denials"
    assert options["sasl_plain_password"] == "s3cret"
    assert ca_names(options["ssl_context"]) == ["claimline test CA"]


def test_sasl_plaintext_has_no_tls_context():
    settings = make(
        KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        KAFKA_SASL_MECHANISM="PLAIN",
        KAFKA_SASL_USERNAME="u",
        KAFKA_SASL_PASSWORD="p",
    )
    options = kafka_client_options(settings)
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert options["ssl_context"] is None


def test_sasl_without_credentials_refuses_to_start():
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"):
        kafka_security(make(KAFKA_SECURITY_PROTOCOL="SASL_SSL"))


def test_the_password_never_shows_in_the_settings_repr():
    settings = make(KAFKA_SASL_PASSWORD="s3cret")
    assert "s3cret" not in repr(settings)


def test_service_brokers_connect_with_the_security_settings(tmp_path):
    ca, _ = write_ca(tmp_path)
    settings = make(
        KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
        KAFKA_SASL_USERNAME="claimline-queues",
        KAFKA_SASL_PASSWORD="s3cret",
        KAFKA_SSL_CAFILE=ca,
    )
    broker = make_broker(settings, "queues")
    producer = broker._connection_kwargs
    consumer = broker.config.builder.keywords  # the partial FastStream builds every consumer with
    for params in (producer, consumer):
        assert params["security_protocol"] == "SASL_SSL"
        assert params["sasl_mechanism"] == "SCRAM-SHA-512"
        assert params["sasl_plain_username"] == "claimline-queues"
        assert params["sasl_plain_password"] == "s3cret"
        assert ca_names(params["ssl_context"]) == ["claimline test CA"]


def test_a_stopping_broker_gives_in_flight_messages_the_configured_grace():
    broker = make_broker(make(CLAIMLINE_SHUTDOWN_GRACE_SECONDS=42), "queues")
    assert broker.config.broker_config.graceful_timeout == 42


# ---------------------------------------------------------------- PostgreSQL


def test_no_sslmode_leaves_asyncpg_its_default():
    assert database_connect_args(make()) == {}


def test_disable_turns_tls_off():
    assert database_connect_args(make(DATABASE_SSLMODE="disable")) == {"ssl": False}


def test_prefer_is_passed_to_asyncpg_as_is():
    assert database_connect_args(make(DATABASE_SSLMODE="prefer")) == {"ssl": "prefer"}


def test_require_encrypts_without_checking_the_server():
    context = database_connect_args(make(DATABASE_SSLMODE="require"))["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_NONE
    assert context.check_hostname is False


def test_verify_ca_checks_the_certificate_against_the_root_cert_but_not_the_host(tmp_path):
    ca, _ = write_ca(tmp_path)
    context = database_connect_args(make(DATABASE_SSLMODE="verify-ca", DATABASE_SSLROOTCERT=ca))["ssl"]
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is False
    assert ca_names(context) == ["claimline test CA"]


def test_verify_full_also_checks_the_host_name_and_presents_a_client_certificate(tmp_path):
    ca, key = write_ca(tmp_path)
    settings = make(
        DATABASE_SSLMODE="verify-full", DATABASE_SSLROOTCERT=ca, DATABASE_SSLCERT=ca, DATABASE_SSLKEY=key
    )
    context = database_connect_args(settings)["ssl"]
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert ca_names(context) == ["claimline test CA"]


def test_every_engine_gets_the_tls_settings(monkeypatch, tmp_path):
    from shared.runtime import db, security

    ca, _ = write_ca(tmp_path)
    monkeypatch.setattr(
        security, "get_settings", lambda: make(DATABASE_SSLMODE="verify-full", DATABASE_SSLROOTCERT=ca)
    )
    seen: dict[str, object] = {}
    monkeypatch.setattr(db, "create_async_engine", lambda url, **kwargs: seen.update(kwargs))
    db.make_engine("postgresql+asyncpg://u:p@db.example:5432/claimline")
    context = seen["connect_args"]["ssl"]  # type: ignore[index]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname is True
