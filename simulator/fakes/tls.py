"""Certificates for the fakes that must speak TLS (the Google Ads client has no plaintext option).

:func:`generate` writes a throw-away self-signed CA and a ``localhost`` server certificate it signs
(SAN ``DNS:localhost`` and ``IP:127.0.0.1``), with the ``cryptography`` package. The client side
trusts the CA the only way gRPC's Google default credentials allow: the
``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH`` environment variable, read when the process creates its first
TLS channel, which *replaces* gRPC's root store. :func:`trust_for_grpc` therefore writes a bundle of
the fake CA *plus* the public roots (certifi's, when installed) and points the variable at it,
once per process; call it before any gRPC channel exists.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOTS_ENV = "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"


@dataclass(frozen=True)
class Certificates:
    ca_pem: bytes
    cert_pem: bytes  # the server's, for localhost / 127.0.0.1
    key_pem: bytes  # the server's private key (unencrypted PKCS#8)
    ca_file: Path  # the CA alone, on disk


def generate(folder: Path, names: tuple[str, ...] = ()) -> Certificates:
    """A fresh CA and a certificate for localhost, 127.0.0.1 and ``names`` signed by it, valid
    from an hour ago for 30 days."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Watershed fake CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in dict.fromkeys(("localhost", *names))]
                + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_pem = ca.public_bytes(pem)
    folder.mkdir(parents=True, exist_ok=True)
    ca_file = folder / "fake-ca.pem"
    ca_file.write_bytes(ca_pem)
    return Certificates(
        ca_pem=ca_pem,
        cert_pem=cert.public_bytes(pem),
        key_pem=key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        ca_file=ca_file,
    )


_TRUSTED: Certificates | None = None


def trust_for_grpc(folder: Path | None = None, names: tuple[str, ...] = ()) -> Certificates:
    """This process's fake certificates, generated on the first call (in ``folder``, a temporary
    one by default; for ``names`` besides localhost), with gRPC told to trust their CA
    (``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH`` -> fake CA + public roots). Idempotent: every fake
    server of the process serves the same certificate, since gRPC reads the roots once."""
    global _TRUSTED
    if _TRUSTED is None:
        folder = folder or Path(tempfile.mkdtemp(prefix="watershed-fake-tls-"))
        certs = generate(folder, names)
        bundle = certs.ca_pem
        try:
            import certifi

            bundle += b"\n" + Path(certifi.where()).read_bytes()
        except ImportError:  # pragma: no cover - only the fake CA is trusted then
            pass
        roots = folder / "roots.pem"
        roots.write_bytes(bundle)
        os.environ[ROOTS_ENV] = str(roots)
        _TRUSTED = certs
    return _TRUSTED
