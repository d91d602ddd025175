"""综合评价 (comprehensive evaluation), the pure part: what is counted (``counters``), how a
case's history turns into counts (``contributions``), and how counts become indicators,
scores, grades and rankings (``indicators``, ``scoring``). No Django: the services feed it
rows and store what it returns. Definitions for people: ``docs/evaluation.md``."""
