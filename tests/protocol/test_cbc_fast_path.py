"""The running CBC cipher (a fast path) against a fresh pycryptodome cipher per message."""

from __future__ import annotations

import random
import threading

import pytest
from Crypto.Cipher import AES

from wxserver.protocol.cbc import RunningCbc


def _messages(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(16 * rng.randint(1, 40)) for _ in range(count)]


@pytest.mark.parametrize("seed", range(5))
def test_cbc_running_encryptor_is_a_fresh_cipher_per_message(seed: int) -> None:
    key = random.Random(seed).randbytes(32)
    iv = key[:16]
    running = RunningCbc(key, iv, decrypting=False)
    for data in _messages(seed, 200):
        assert running.run(data) == AES.new(key, AES.MODE_CBC, iv=iv).encrypt(data)


@pytest.mark.parametrize("seed", range(5))
def test_cbc_running_decryptor_is_a_fresh_cipher_per_message(seed: int) -> None:
    key = random.Random(seed).randbytes(32)
    iv = key[:16]
    running = RunningCbc(key, iv, decrypting=True)
    for data in _messages(seed, 200):
        assert running.run(data) == AES.new(key, AES.MODE_CBC, iv=iv).decrypt(data)


def test_cbc_running_cipher_keeps_each_message_whole_across_threads() -> None:
    key = bytes(range(32))
    iv = key[:16]
    running = RunningCbc(key, iv, decrypting=False)
    wrong: list[bytes] = []

    def work(seed: int) -> None:
        for data in _messages(seed, 300):
            if running.run(data) != AES.new(key, AES.MODE_CBC, iv=iv).encrypt(data):
                wrong.append(data)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


@pytest.mark.parametrize("size", [0, 15, 17])
def test_cbc_running_cipher_takes_whole_blocks_only(size: int) -> None:
    running = RunningCbc(bytes(32), bytes(16), decrypting=False)
    with pytest.raises(ValueError, match="whole 16-byte blocks"):
        running.run(bytes(size))
