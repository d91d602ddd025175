"""Hash chain of case events: any later edit of a stored event is detectable.

Each event's hash covers its own canonical content and the previous event's hash,
so changing, deleting or reordering one row breaks every hash after it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

GENESIS = "0" * 64


def canonical(content: Mapping[str, object]) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def link_hash(prev_hash: str, content: Mapping[str, object]) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical(content)}".encode()).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


def verify(links: Iterable[tuple[int, Mapping[str, object], str, str]]) -> ChainBreak | None:
    """Walk ``(seq, content, prev_hash, hash)`` in order; return the first break or None."""
    expected_prev = GENESIS
    expected_seq = 1
    for seq, content, prev_hash, stored_hash in links:
        if seq != expected_seq:
            return ChainBreak(seq, f"event {expected_seq} is missing (found {seq})")
        if prev_hash != expected_prev:
            return ChainBreak(seq, "previous-hash link does not match the preceding event")
        if link_hash(prev_hash, content) != stored_hash:
            return ChainBreak(seq, "content does not match its hash (the row was altered)")
        expected_prev = stored_hash
        expected_seq += 1
    return None
