"""The one text normaliser: what people type or an engine hears -> plain lower-case words.

Both the matcher and the templates go through it, so "Can't", "can not" and "cannot" meet.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from num2words import num2words

MAX_CHARS = 2000
"""Longer input is cut here: nobody says more than this in one breath, and it bounds matching time."""

_CONTRACTIONS = {
    "can't": "can not",
    "cannot": "can not",
    "won't": "will not",
    "shan't": "shall not",
    "ain't": "is not",
    "n't": " not",
    "'re": " are",
    "'ve": " have",
    "'ll": " will",
    "'d": " would",
    "'m": " am",
    "let's": "let us",
    "it's": "it is",
    "that's": "that is",
    "what's": "what is",
    "where's": "where is",
    "there's": "there is",
    "here's": "here is",
    "who's": "who is",
    "how's": "how is",
    "he's": "he is",
    "she's": "she is",
    "gonna": "going to",
    "wanna": "want to",
    "gotta": "got to",
    "kinda": "kind of",
    "y'all": "you all",
}
_COMPOUNDS = {
    "anyway": "any way",
    "anytime": "any time",
    "everyday": "every day",
}
"""Words a recogniser writes as one word or two ("any way" for "anyway"), split so both meet."""
_COMPOUND_RE = re.compile(r"\b(" + "|".join(_COMPOUNDS) + r")\b")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})
_CONTRACTION_RE = re.compile("|".join(re.escape(k) for k in sorted(_CONTRACTIONS, key=len, reverse=True)))
_NUMBER_RE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(st|nd|rd|th|s)?(?![\w])")
_NON_WORD_RE = re.compile(r"[^\w' ]+")
_SPACE_RE = re.compile(r"\s+")
_POSSESSIVE_RE = re.compile(r"'s\b")


_DIGIT_BY_DIGIT = frozenset({"911", "999", "112", "000", "111"})
"""Numbers to call for help are said digit by digit (111: the UK's urgent medical help line, which the
pack's advice names)."""


def _number_words(match: re.Match[str]) -> str:
    number, suffix = match.group(1), match.group(2) or ""
    if number in _DIGIT_BY_DIGIT and not suffix:
        return " " + " ".join(num2words(int(digit)) for digit in number) + " "
    try:
        if suffix in ("st", "nd", "rd", "th"):
            words = num2words(int(number), to="ordinal")
        elif "." in number:
            words = num2words(float(number))
        else:
            words = num2words(int(number))
    except (ValueError, OverflowError, NotImplementedError):
        return number
    if suffix == "s":
        words += "s"
    return f" {words} "


def _expand_contraction(match: re.Match[str]) -> str:
    return _CONTRACTIONS[match.group(0)]


@lru_cache(maxsize=4096)
def normalize(text: str) -> str:
    """Lower-case words with numbers spelled out, contractions expanded and punctuation gone.

    Filler words are not removed here: they are the pack's ``skip_words`` and the
    matcher treats them as cheap to ignore.
    """
    text = unicodedata.normalize("NFKC", text[:MAX_CHARS]).lower().translate(_APOSTROPHES)
    text = text.replace("%", " percent ").replace("&", " and ").replace("+", " plus ")
    text = _NUMBER_RE.sub(_number_words, text)
    text = text.replace("-", " ")
    text = _CONTRACTION_RE.sub(_expand_contraction, text)
    text = _POSSESSIVE_RE.sub("", text).replace("'", "")
    text = _NON_WORD_RE.sub(" ", text)
    text = _COMPOUND_RE.sub(lambda match: _COMPOUNDS[match.group(1)], text)
    return _SPACE_RE.sub(" ", text).strip()


def words(text: str) -> list[str]:
    """The normalised text split into words."""
    return normalize(text).split()
