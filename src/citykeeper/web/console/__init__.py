"""The staff console (工作台), mounted by ``citykeeper.urls`` under ``console/``.

One module per screen, each with its own ``urlpatterns``:

- ``queues``: the work queues per role, with counts, filters, live refresh;
- ``case``: the case page (everything about one case, and the actions the user may take now);
- ``dispatch``: the dispatch screen and batch dispatch; ``approvals``: requests and urging;
- ``unit``: the unit handler's workspace and month; ``map``: open cases on a map;
- ``filters``: saved queue filters (常用筛选);
- ``evaluation``: 综合评价 (ranking, drill-down, runs, schemes); ``flags``: its anti-gaming flags.
"""

from __future__ import annotations

from citykeeper.web.console import approvals, case, dispatch, evaluation, filters, flags, map, queues, sampling, unit

urlpatterns = [
    *queues.urlpatterns,
    *case.urlpatterns,
    *dispatch.urlpatterns,
    *approvals.urlpatterns,
    *unit.urlpatterns,
    *map.urlpatterns,
    *filters.urlpatterns,
    *evaluation.urlpatterns,
    *flags.urlpatterns,
    *sampling.urlpatterns,
]
