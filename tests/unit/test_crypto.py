"""Token encryption: AES-GCM, key ids from the keys themselves, rotation, bound context."""

from __future__ import annotations

import pytest

from sync.crypto import DecryptionError, TokenCipher

OLD, NEW = "o" * 40, "n" * 40


def test_round_trip_and_fresh_nonce() -> None:
    cipher = TokenCipher([NEW])
    a, b = cipher.encrypt("grant-token"), cipher.encrypt("grant-token")
    assert a != b and "grant-token" not in a
    assert cipher.decrypt(a) == cipher.decrypt(b) == "grant-token"


def test_rotation_keeps_old_data_readable_and_writes_with_the_new_key() -> None:
    old_text = TokenCipher([OLD]).encrypt("kept")
    rotated = TokenCipher([NEW, OLD])
    assert rotated.decrypt(old_text) == "kept"
    fresh = rotated.encrypt("new")
    assert rotated.key_id_of(fresh) == rotated.current_key_id == TokenCipher([NEW]).current_key_id
    assert rotated.key_id_of(old_text) == TokenCipher([OLD]).current_key_id
    # the key id follows the key, not its position in the list
    assert TokenCipher([OLD, NEW]).key_id_of(TokenCipher([OLD, NEW]).encrypt("x")) == (
        TokenCipher([OLD]).current_key_id
    )
    with pytest.raises(DecryptionError):
        TokenCipher([NEW]).decrypt(old_text)  # old key retired


def test_context_binds_a_ciphertext_to_its_row() -> None:
    cipher = TokenCipher([NEW])
    text = cipher.encrypt("t", context=b"installation:1:economic_token")
    assert cipher.decrypt(text, context=b"installation:1:economic_token") == "t"
    with pytest.raises(DecryptionError):
        cipher.decrypt(text, context=b"installation:2:economic_token")


def test_garbage_is_refused_clearly() -> None:
    with pytest.raises(DecryptionError):
        TokenCipher([NEW]).decrypt("nonsense")
