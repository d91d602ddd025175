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
            problem = verify(_links(case, by_case[case.pk]))
            if problem is None and not by_case[case.pk]:
                broken.append(BrokenChain(case.number, 1, "the case has no events (its report was removed)"))
            elif problem is not None:
                broken.append(BrokenChain(case.number, problem.seq, problem.reason))
            checked += 1
        last_id = cases[-1].pk
