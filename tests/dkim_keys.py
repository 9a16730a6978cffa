"""DKIM test keys: a generated RSA key, its DNS record, and signing with dkimpy."""

from __future__ import annotations

import base64
import functools

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def keypair(name: str = "default") -> tuple[bytes, str]:
    """(PEM private key, the TXT value for <selector>._domainkey.<domain>); one per name per run."""
    return _keypair(name)


@functools.lru_cache(maxsize=4)
def _keypair(name: str) -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def sign(raw: bytes, domain: str, selector: str = "s1", key: str = "default") -> bytes:
    """``raw`` with a DKIM-Signature (dkimpy's default relaxed/simple) of ``domain`` prepended."""
    pem, _ = keypair(key)
    sig = dkim.sign(raw, selector.encode(), domain.encode(), pem,
                    include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    return sig + raw
