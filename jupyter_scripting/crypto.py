"""The operator's key (``ScriptingApp.secret_key`` or ``secret_key_file``) and what it
encrypts at rest: the tenants' webhook signing secrets (README, "Webhooks").

Fernet (from ``cryptography``): AES-128-CBC with an HMAC-SHA256, so a value changed in the
store is refused rather than decrypted to something else. Every node sharing a store
needs the same key; the embedded default is a key file made on first start beside the
SQLite store (in the Jupyter data directory, which runs never see).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from .errors import ScriptingError, StoreMisconfigured


class SecretUnreadable(ScriptingError):
    """A value in the store that this node's key cannot decrypt (another key wrote it)."""

    reason = "secret-unreadable"


class Keyring:
    """Encrypts and decrypts the store's secrets with the operator's key."""

    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.strip().encode())
        except ValueError:
            raise StoreMisconfigured(
                "ScriptingApp.secret_key must be a Fernet key: 32 bytes in URL-safe base64 "
                '(python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())").'
            ) from None

    def encrypt(self, value: str) -> bytes:
        token: bytes = self._fernet.encrypt(value.encode("utf-8"))
        return token

    def decrypt(self, token: bytes) -> str:
        try:
            plain: bytes = self._fernet.decrypt(bytes(token))
            return plain.decode("utf-8")
        except InvalidToken:
            raise SecretUnreadable(
                "A secret in the store cannot be decrypted with this node's "
                "ScriptingApp.secret_key (every node sharing a store needs the same key)."
            ) from None


def load_key(path: str | os.PathLike[str]) -> str:
    """The key in the file ``path``, made there (readable by its owner only) if it does
    not exist yet."""
    file = Path(path)
    try:
        return file.read_text().strip()
    except FileNotFoundError:
        pass
    except OSError as e:
        raise StoreMisconfigured(f"ScriptingApp.secret_key_file cannot be read: {e}.") from None
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return file.read_text().strip()
    except OSError as e:
        raise StoreMisconfigured(f"ScriptingApp.secret_key_file cannot be made: {e}.") from None
    with os.fdopen(fd, "w") as out:
        out.write(Fernet.generate_key().decode() + "\n")
    return file.read_text().strip()
