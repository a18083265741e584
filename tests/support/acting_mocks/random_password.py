"""The random provider's RandomPassword, drawn from `secrets` with the declared character classes."""

from __future__ import annotations

import secrets
import string
from typing import Any

from .executor import Context, Executor, Recorded, Request
from .inputs import HONOURED, as_int
from .replacement import RANDOM_PASSWORD_ARGUMENTS


class RandomPasswordExecutor(Executor):
    type = "random:index/randomPassword:RandomPassword"
    fields = dict.fromkeys(RANDOM_PASSWORD_ARGUMENTS, HONOURED)

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        i = req.inputs
        length = as_int(i["length"])
        classes: list[tuple[str, int]] = []
        if i.get("upper", True):
            classes.append((string.ascii_uppercase, as_int(i.get("minUpper", 0))))
        if i.get("lower", True):
            classes.append((string.ascii_lowercase, as_int(i.get("minLower", 0))))
        if i.get("numeric", i.get("number", True)):
            classes.append((string.digits, as_int(i.get("minNumeric", 0))))
        if i.get("special", True):
            classes.append(
                (i.get("overrideSpecial") or "!@#$%&*()-_=+[]{}<>:?", as_int(i.get("minSpecial", 0)))
            )
        alphabet = "".join(chars for chars, _ in classes)
        chosen = [secrets.choice(chars) for chars, minimum in classes for _ in range(minimum)]
        chosen += [secrets.choice(alphabet) for _ in range(length - len(chosen))]
        secrets.SystemRandom().shuffle(chosen)
        return "none", {**i, "result": "".join(chosen)}

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        return None
