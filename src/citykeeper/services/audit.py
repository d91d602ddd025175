"""Walk every case's event chain and name the cases whose history was altered."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from citykeeper.domain.chain import verify
from citykeeper.store.models import Case, CaseEvent


@dataclass(frozen=True)
class BrokenChain:
    case_number: str
    seq: int
    reason: str


def _links(case: Case, events: list[CaseEvent]) -> Iterator[tuple[int, dict, str, str]]:
    for event in events:
        event.case = case  # chain_content reads case.number; avoid a query per event
        yield event.seq, event.chain_content(), event.prev_hash, event.hash


def _head_problem(case: Case, last: CaseEvent) -> BrokenChain | None:
    """The chain is whole up to ``last``; does the case row agree that ``last`` is its head?

    Removing the newest events leaves an intact shorter chain; only the head stored on
    the case (written with every move) shows the loss.
    """
    if case.chain_seq > last.seq:
        missing = f"{last.seq + 1}" if case.chain_seq == last.seq + 1 else f"{last.seq + 1}–{case.chain_seq}"
        return BrokenChain(case.number, last.seq + 1, f"event {missing} is missing (the newest events were removed)")
    if case.chain_seq != last.seq or case.chain_head != last.hash:
        return BrokenChain(case.number, last.seq, "the case's chain head does not match its last event")
    return None


def verify_chains(*, batch: int = 500) -> tuple[int, list[BrokenChain]]:
    """Return (cases checked, broken chains). Reads in batches to bound memory."""
    checked = 0
    broken: list[BrokenChain] = []
    last_id = 0
    while True:
        cases = list(Case.objects.filter(pk__gt=last_id).order_by("pk")[:batch])
        if not cases:
            return checked, broken
        by_case: dict[int, list[CaseEvent]] = {c.pk: [] for c in cases}
        for event in CaseEvent.objects.filter(case_id__in=by_case).order_by("case_id", "seq"):
            by_case[event.case_id].append(event)
        for case in cases:
            events = by_case[case.pk]
            problem = verify(_links(case, events))
            if problem is not None:
                broken.append(BrokenChain(case.number, problem.seq, problem.reason))
            elif not events:
                broken.append(BrokenChain(case.number, 1, "the case has no events (its report was removed)"))
            elif (head := _head_problem(case, events[-1])) is not None:
                broken.append(head)
            checked += 1
        last_id = cases[-1].pk
