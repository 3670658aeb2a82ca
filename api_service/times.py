"""The span of times the Conektor can serve."""

from __future__ import annotations

from datetime import UTC, datetime

# The span of timestamps Python (and so an ISO-8601 query) can address. PostgreSQL also
# stores BC dates, years from 10000 on and +/-infinity: those rows are outside it.
FIRST_TIME = datetime.min.replace(tzinfo=UTC)
LAST_TIME = datetime.max.replace(tzinfo=UTC)
