"""The local CA: certificates clients can verify, private keys only their owner can read."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

from cryptography import x509

from infra.tls import ensure_server_certificate


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_server_certificate_verifies_against_the_ca_for_its_hosts(tmp_path: Path) -> None:
    tls = ensure_server_certificate(tmp_path, "trino", ["127.0.0.1", "localhost"])
    assert _mode(tls.key_and_certificate) == 0o600
    assert _mode(tmp_path / "ca-key.pem") == 0o600
    # What a client does: trust only our CA, check the chain and the host.
    context = ssl.create_default_context(cafile=str(tls.ca_certificate))
    cert = x509.load_pem_x509_certificate(tls.key_and_certificate.read_bytes())
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(tls.ca_certificate.read_bytes()))
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} == {"127.0.0.1"}
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert context.verify_mode == ssl.CERT_REQUIRED
    # The PEM holds the key first (Trino's PEM keystore reads key and chain from one file).
    assert tls.key_and_certificate.read_text().startswith("-----BEGIN PRIVATE KEY-----")


def test_a_certificate_is_kept_while_good_and_reissued_for_other_hosts_or_another_ca(tmp_path: Path) -> None:
    first = ensure_server_certificate(tmp_path, "trino", ["127.0.0.1"]).key_and_certificate.read_bytes()
    assert (
        ensure_server_certificate(tmp_path, "trino", ["127.0.0.1"]).key_and_certificate.read_bytes() == first
    )
    moved = ensure_server_certificate(tmp_path, "trino", ["10.0.0.5"]).key_and_certificate.read_bytes()
    assert moved != first
    (tmp_path / "ca.pem").unlink()  # a new CA: certificates of the old one must not be served
    (tmp_path / "ca-key.pem").unlink()
    again = ensure_server_certificate(tmp_path, "trino", ["10.0.0.5"]).key_and_certificate.read_bytes()
    assert again != moved
