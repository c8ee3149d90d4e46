"""How long a file of an ended case stays readable (school.yml ``retention``).

A case that closed (graduation included) or a student who transferred out has a
``closed_on`` date; ``retention.years`` after it the file is past its retention
period. Past it, the file is a minor's sensitive personal information with no
purpose left here: ``check`` lists it, and the build leaves it out of the site,
the indexes, the ledger and the booklets. The files stay in git history; how a
school archives or purges them is in docs/school-year.md.
"""

from __future__ import annotations

import datetime as dt

from generator.archive.schema import Profile, School


def kept_until(profile: Profile, school: School | None) -> dt.date | None:
    """The last day the file is kept, or None while the case is open or no period is set."""
    if school is None or school.retention is None or profile.status == "active" or profile.closed_on is None:
        return None
    ended, years = profile.closed_on, school.retention.years
    try:
        return ended.replace(year=ended.year + years)
    except ValueError:  # 29 February, and the year it falls in is not a leap year
        return ended.replace(year=ended.year + years, day=28)


def expired(profile: Profile, school: School | None, as_of: dt.date) -> bool:
    until = kept_until(profile, school)
    return until is not None and as_of > until
