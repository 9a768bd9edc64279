"""Look-alike usernames: Unicode TR39 (Security Mechanisms) through ICU's SpoofChecker.

Two rules, on top of Django's username rules and the case-insensitive unique constraint:
- one script per name (`validate_single_script`): "alice" spelt with a Cyrillic "a" (U+0430)
  mixes Cyrillic and Latin and is refused; digits and @ . + - _ belong to every script;
- no name whose confusable skeleton (`username_skeleton`, TR39 §4) equals an existing user's:
  "aIice" (capital i) and "a1ice" have alice's skeleton, "ace" all in Cyrillic has ace's. The
  skeleton is stored (User.username_skeleton) under a unique constraint, so of concurrent
  sign-ups of look-alike names exactly one commits.

Why PyICU: ICU is the reference implementation of TR39 (browsers use it for IDN spoofing), and
PyICU is its long-kept binding. confusable_homoglyphs, the usual pure-Python choice, can say
whether a string mixes scripts but computes no skeleton (its table has lost the direction of
each mapping), and a skeleton is what a unique constraint can enforce. The data is the ICU's
on the machine (ICU 72 = Unicode 15 on Debian 12): after an ICU upgrade, recompute the stored
skeletons (the backfill of accounts/migrations/0003 does it).
"""

from __future__ import annotations

import icu
from django.core.exceptions import ValidationError

MIXED_SCRIPT_MESSAGE = (
    "Use letters from one alphabet only: this name mixes {scripts}, so it could pass for "
    "someone else's."
)
LOOKALIKE_MESSAGE = "This username looks too much like an existing one. Please choose another."

# Configured once, then only read: ICU documents check() and getSkeleton() as safe to call from
# any number of threads on one configured checker.
_checker = icu.SpoofChecker()
_checker.setChecks(icu.USpoofChecks.RESTRICTION_LEVEL | icu.USpoofChecks.MIXED_NUMBERS)
# One script per name, where Japanese (Han + kana) and Korean (Han + Hangul) count as one, as
# TR39 resolves them; "Common" characters (digits, punctuation) go with any script.
_checker.setRestrictionLevel(icu.URestrictionLevel.SINGLE_SCRIPT_RESTRICTIVE)
_SKELETON_ANY_CASE = 0  # getSkeleton's type argument; TR39's skeleton has no other kinds


def username_skeleton(username: str) -> str:
    """TR39's skeleton of `username` (already NFKC-normalised by User.normalize_username):
    two names that look alike have one skeleton ("a1ice", "aIice" and "alice": "alice")."""
    return _checker.getSkeleton(_SKELETON_ANY_CASE, username)


def validate_single_script(username: str) -> None:
    """Raise ValidationError (code `username_mixed_script`) when `username` mixes scripts
    (Latin and Cyrillic letters, ASCII and Arabic-Indic digits)."""
    if not username or _checker.check(username) == 0:
        return
    scripts = sorted(
        {
            icu.Script.getScript(ch).getName()
            for ch in username
            if icu.Script.getScript(ch).getShortName() not in ("Zyyy", "Zinh")  # Common, Inherited
        }
    )
    if len(scripts) > 1:
        named = ", ".join(scripts[:-1]) + " and " + scripts[-1]
    else:  # one script, but digits of two systems (ASCII "1" and Arabic-Indic one, U+0661)
        named = "digits of different kinds"
    raise ValidationError(MIXED_SCRIPT_MESSAGE.format(scripts=named), code="username_mixed_script")
