"""A local certificate authority for the services the launcher runs.

Trino checks passwords only over TLS, so the managed stack needs a server certificate. A public
CA cannot issue one for 127.0.0.1; a CA of our own, created once per installation in the state
dir, can. Clients verify against its certificate (``<home>/tls/ca.pem``), never with
verification turned off. The CA's private key stays readable by its owner only.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from core.private_files import write_private

CA_VALIDITY = dt.timedelta(days=3650)
SERVER_VALIDITY = dt.timedelta(days=397)  # the longest browsers accept for a leaf certificate
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class ServerCertificate:
    """Where a service finds its TLS material."""

    ca_certificate: Path  # what clients trust
    key_and_certificate: Path  # PEM: private key, then certificate chain (Trino's PEM keystore)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def ensure_ca(tls_dir: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """The installation's CA, created on first use (``ca.pem`` public, ``ca-key.pem`` 0600)."""
    cert_path, key_path = tls_dir / "ca.pem", tls_dir / "ca-key.pem"
    if cert_path.exists() and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return x509.load_pem_x509_certificate(cert_path.read_bytes()), key
    key = _new_key()
    # Unique per installation (a CN is at most 64 characters), so two stacks' CAs never look alike.
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, f"CDR lakehouse local CA {secrets.token_hex(6)}")]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    write_private(key_path, _pem_key(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _subject_alternative_names(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _still_good(path: Path, ca: x509.Certificate, hosts: list[str]) -> bool:
    """Whether the PEM at ``path`` holds a certificate from ``ca`` for ``hosts``, not expiring soon."""
    if not path.exists():
        return False
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    try:
        cert.verify_directly_issued_by(ca)
    except Exception:  # noqa: BLE001 - any failure (other CA, bad signature): issue a new one
        return False
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    fresh = cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > RENEW_BEFORE
    return fresh and set(sans) == set(_subject_alternative_names(hosts))


def ensure_server_certificate(tls_dir: Path, service: str, hosts: list[str]) -> ServerCertificate:
    """A certificate for ``service`` on ``hosts`` (IP addresses or names) from the local CA,
    issued again when missing, from another CA, for other hosts, or near its end."""
    ca, ca_key = ensure_ca(tls_dir)
    pem = tls_dir / f"{service}.pem"
    result = ServerCertificate(tls_dir / "ca.pem", pem)
    if _still_good(pem, ca, hosts):
        return result
    key = _new_key()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, service)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + SERVER_VALIDITY)
        .add_extension(x509.SubjectAlternativeName(_subject_alternative_names(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    write_private(pem, _pem_key(key) + cert.public_bytes(serialization.Encoding.PEM))
    return result
