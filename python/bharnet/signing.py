"""Ed25519 keys for signing model bundles.

    bharnet keygen --out publisher.key       # publisher.key (private, mode 600) + publisher.pub
    bharnet export final.pt --out m.bharnet --sign publisher.key
    Recognizer("m.bharnet", trusted_keys=["publisher.pub"])

Needs the `cryptography` package (`pip install 'bharnet[sign]'`) only to sign, or to verify when
trusted keys are given; a bundle opened without keys is checked by its checksum seal alone.
Keys are PEM files (PKCS#8 private, SubjectPublicKeyInfo public), as OpenSSL writes them too:
`openssl genpkey -algorithm ed25519 -out k.pem && openssl pkey -in k.pem -pubout -out k.pub`.
"""
from __future__ import annotations

import hashlib
import os
import pathlib

# what is signed: this domain tag + the 32-byte sha256 of the sealed file up to its trailer
MESSAGE_TAG = b"bharnet-bundle-ed25519-v1\0"


class SigningUnavailable(RuntimeError):
    """Signing or verifying was asked for but the `cryptography` package is missing."""


def _crypto():
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise SigningUnavailable("signing and trusted_keys need the 'cryptography' package: "
                                 "pip install 'bharnet[sign]'") from None
    return serialization, ed25519


def fingerprint(public_raw: bytes) -> str:
    """A short, stable name for a public key (first 16 hex digits of its sha256)."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def generate_key_files(out) -> tuple[pathlib.Path, pathlib.Path]:
    """Write a new private key to `out` (mode 600) and its public key beside it (.pub)."""
    serialization, ed25519 = _crypto()
    out = pathlib.Path(out)
    pub = out.with_suffix(".pub")
    for p in (out, pub):
        if p.exists():
            raise FileExistsError(f"{p} already exists; not overwriting a key")
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    return out, pub


def load_private_key(key):
    """An Ed25519 private key from a PEM file path, PEM bytes, or a key object."""
    serialization, ed25519 = _crypto()
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    data = key if isinstance(key, bytes) else _read_key_file(key)
    try:
        k = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{_name(key)}: not an unencrypted PEM private key ({e})") from None
    if not isinstance(k, ed25519.Ed25519PrivateKey):
        raise ValueError(f"{_name(key)}: not an Ed25519 key ({type(k).__name__})")
    return k


def public_raw(key) -> bytes:
    """The 32 raw bytes of a trusted public key given as: a PEM file path, PEM bytes, 32 raw
    bytes, 64 hex digits, or an Ed25519PublicKey object."""
    serialization, ed25519 = _crypto()
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if isinstance(key, bytes) and len(key) == 32:
        return key
    if isinstance(key, str) and len(key) == 64 and all(c in "0123456789abcdefABCDEF" for c in key):
        return bytes.fromhex(key)
    data = key if isinstance(key, bytes) else _read_key_file(key)
    if b"PRIVATE KEY" in data:
        raise ValueError(f"{_name(key)}: is a private key; trust the public key (.pub) instead")
    try:
        k = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{_name(key)}: not a PEM public key ({e})") from None
    if not isinstance(k, ed25519.Ed25519PublicKey):
        raise ValueError(f"{_name(key)}: not an Ed25519 public key ({type(k).__name__})")
    return k.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def sign_digest(private_key, digest: bytes) -> tuple[bytes, bytes]:
    """(public key raw, signature) over a sealed file's digest."""
    serialization, _ = _crypto()
    k = load_private_key(private_key)
    pub = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return pub, k.sign(MESSAGE_TAG + digest)


def verify_digest(public: bytes, signature: bytes, digest: bytes) -> bool:
    _, ed25519 = _crypto()
    from cryptography.exceptions import InvalidSignature

    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public).verify(signature, MESSAGE_TAG + digest)
    except (InvalidSignature, ValueError):
        return False
    return True


def _read_key_file(path) -> bytes:
    p = pathlib.Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"key file not found: {p}")
    if p.stat().st_size > 64 << 10:
        raise ValueError(f"{p}: too large to be a key file")
    return p.read_bytes()


def _name(key) -> str:
    return "key" if isinstance(key, bytes) else str(key)


__all__ = ["SigningUnavailable", "fingerprint", "generate_key_files", "load_private_key",
           "public_raw", "sign_digest", "verify_digest", "MESSAGE_TAG"]
