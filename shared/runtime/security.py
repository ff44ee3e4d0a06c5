"""TLS and SASL for the Kafka clients, TLS for PostgreSQL, from the settings (docs/operations.md).

Every Kafka client claimline makes goes through these: the services' brokers (`make_broker`), the
admin client that creates topics, and the CLI's brokers. Every engine `make_engine` builds gets
`database_connect_args()`, and so do the migrations.
"""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka.helpers import create_ssl_context
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from shared.runtime.settings import Settings, get_settings

SASL_CLASSES: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
    "PLAIN": SASLPlaintext,
    "SCRAM-SHA-256": SASLScram256,
    "SCRAM-SHA-512": SASLScram512,
}


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext:
    """Verifies the broker's certificate and host name (against the CA file, else the system's CAs)."""
    password = settings.kafka_ssl_key_password.get_secret_value() if settings.kafka_ssl_key_password else None
    context: ssl.SSLContext = create_ssl_context(
        cafile=settings.kafka_ssl_cafile,
        certfile=settings.kafka_ssl_certfile,
        keyfile=settings.kafka_ssl_keyfile,
        password=password,
    )
    return context


def kafka_security(settings: Settings) -> BaseSecurity | None:
    """FastStream's security object for `KafkaBroker(security=...)`; None for PLAINTEXT."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = kafka_ssl_context(settings) if protocol.endswith("SSL") else None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    if not settings.kafka_sasl_username or settings.kafka_sasl_password is None:
        raise ValueError(
            f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
        )
    sasl = SASL_CLASSES[settings.kafka_sasl_mechanism]
    return sasl(
        settings.kafka_sasl_username,
        settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,
        use_ssl=context is not None,
    )


def kafka_client_options(settings: Settings) -> dict[str, Any]:
    """The same security as keyword arguments of a plain aiokafka client (the admin client)."""
    return parse_security(kafka_security(settings))


def database_ssl(settings: Settings) -> ssl.SSLContext | str | bool | None:
    """asyncpg's `ssl` argument for DATABASE_SSLMODE, with libpq's meaning of each mode.

    `require` encrypts without checking the server (unless a root certificate is given, as in libpq),
    `verify-ca` checks the certificate against DATABASE_SSLROOTCERT (else the system's CAs), and
    `verify-full` also checks that the certificate names the host.
    """
    mode = settings.database_sslmode
    if mode is None:
        return None
    if mode == "disable":
        return False
    if mode in ("allow", "prefer"):
        return mode
    context = ssl.create_default_context(
        cafile=str(settings.database_sslrootcert) if settings.database_sslrootcert else None
    )
    if mode == "require" and settings.database_sslrootcert is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.check_hostname = mode == "verify-full"
        context.verify_mode = ssl.CERT_REQUIRED
    if settings.database_sslcert is not None:
        context.load_cert_chain(
            str(settings.database_sslcert),
            str(settings.database_sslkey) if settings.database_sslkey else None,
        )
    return context


def database_connect_args(settings: Settings | None = None) -> dict[str, Any]:
    """`connect_args` for `create_async_engine` (asyncpg): empty when DATABASE_SSLMODE is unset."""
    value = database_ssl(settings or get_settings())
    return {} if value is None else {"ssl": value}
