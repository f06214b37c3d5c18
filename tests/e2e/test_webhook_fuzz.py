"""Hostile hooks over real HTTP, on SQLite and PostgreSQL: a clear 4xx, never a 500.

The cases are mutations of valid hooks, generated from a fixed seed (the same every run).
Whatever carries a valid signature but cannot be read must be kept as a rejected hook;
whatever does not carry one must leave no trace.
"""

from __future__ import annotations

import copy
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bridge.amojo.signing import sign_hook
from bridge.sandbox.harness import running_bridge
from storage.models import Job, JobStatus
from tests.conftest import FAST_RETRY
from tests.e2e.conftest import ACCOUNT, Connected, connect

SEED = 20261201
CASES = 240

Body = dict[str, Any]


def message_hook(chat_id: str, client_id: str, n: int) -> Body:
    return {
        "account_id": ACCOUNT,
        "time": int(time.time()),
        "message": {
            "receiver": {"id": str(uuid.uuid4()), "client_id": "c", "phone": "", "name": "Anna"},
            "sender": {"id": str(uuid.uuid4()), "name": "Operator"},
            "conversation": {"id": chat_id, "client_id": client_id},
            "timestamp": int(time.time()),
            "msec_timestamp": int(time.time() * 1000),
            "message": {
                "id": f"fuzz-{n}-{uuid.uuid4().hex[:8]}",
                "type": "text",
                "text": f"case {n}",
                "media": "",
                "file_name": "",
                "file_size": 0,
                "markup": None,
            },
        },
    }


def typing_hook(chat_id: str, client_id: str, n: int) -> Body:
    return {
        "account_id": ACCOUNT,
        "time": int(time.time()),
        "action": {
            "typing": {
                "user": {"id": f"op-{n}"},
                "conversation": {"id": chat_id, "client_id": client_id},
                "expired_at": int(time.time()) + 5,
            }
        },
    }


def reaction_hook(chat_id: str, client_id: str, n: int) -> Body:
    return {
        "account_id": ACCOUNT,
        "time": int(time.time()),
        "action": {
            "reaction": {
                "message": {"id": f"m-{n}", "client_id": f"telegram-1-{n}"},
                "user": {"id": "op"},
                "conversation": {"id": chat_id, "client_id": client_id},
                "type": "react",
                "emoji": "👍",
            }
        },
    }


STRING_PATHS = [
    ("account_id",),
    ("message", "message", "id"),
    ("message", "message", "text"),
    ("message", "message", "type"),
    ("message", "conversation", "id"),
    ("message", "conversation", "client_id"),
    ("message", "sender", "name"),
    ("action", "typing", "conversation", "client_id"),
    ("action", "reaction", "message", "id"),
    ("action", "reaction", "emoji"),
]
ANY_PATHS = [
    *STRING_PATHS,
    ("time",),
    ("message",),
    ("message", "message"),
    ("message", "message", "file_size"),
    ("message", "message", "markup"),
    ("action",),
    ("action", "typing"),
    ("action", "reaction", "type"),
]
ODD_VALUES: list[Any] = [None, 0, -1, 1.5, True, [], {}, [1, 2], {"a": 1}, "", "x" * 70, 10**30]
MARKERS = {"NAN": "NaN", "INF": "Infinity", "NINF": "-Infinity", "BIG": "1e999"}


def _set(body: Body, path: tuple[str, ...], value: Any) -> bool:
    node: Any = body
    for key in path[:-1]:
        if not isinstance(node, dict) or not isinstance(node.get(key), dict):
            return False
        node = node[key]
    if not isinstance(node, dict) or path[-1] not in node:
        return False
    node[path[-1]] = value
    return True


@dataclass
class Case:
    name: str
    body: bytes
    signature: str | bytes | None  # None: sign the body correctly
    scope: str | None = None  # None: the connection's scope


def _encode(body: Body, *, ascii_only: bool = False) -> bytes:
    text = json.dumps(body, ensure_ascii=ascii_only)
    for marker, token in MARKERS.items():  # json.dumps cannot write these: splice them in
        text = text.replace(f'"@{marker}@"', token)
    return text.encode("utf-8", "surrogatepass")


def generate(rng: random.Random, chat_id: str, client_id: str) -> list[Case]:
    builders: list[Callable[[str, str, int], Body]] = [message_hook, typing_hook, reaction_hook]
    cases: list[Case] = []
    for n in range(CASES):
        body = copy.deepcopy(rng.choice(builders)(chat_id, client_id, n))
        body["case"] = n  # ignored by the bridge; keeps every body distinct (no replays here)
        ascii_only = False
        strings = [p for p in STRING_PATHS if _set(copy.deepcopy(body), p, "")]
        anywhere = [p for p in ANY_PATHS if _set(copy.deepcopy(body), p, None)]
        kind = n % 14
        name = f"{n}:"
        signature: str | bytes | None = None
        scope = None
        if kind == 0:
            length = rng.choice([65, 121, 161, 256, 5000, 100_000])
            path = rng.choice(strings)
            _set(body, path, rng.choice("xé漢🙂") * length)
            name += f"long {'.'.join(path)}"
        elif kind == 1:
            path = rng.choice(strings)
            _set(body, path, rng.choice(["\ud800", "a\udfff", "\udc00\ud800", "x\ud83d"]))
            ascii_only = rng.random() < 0.5  # as a \\u escape, or as raw (invalid UTF-8) bytes
            name += f"surrogate in {'.'.join(path)}"
        elif kind == 2:
            path = rng.choice(strings)
            _set(body, path, rng.choice(["\x00", "a\x00b", "\x00" * 10]))
            name += f"NUL in {'.'.join(path)}"
        elif kind == 3:
            path = rng.choice([*anywhere, ("extra",)])
            if path == ("extra",):
                body["extra"] = None
            marker = rng.choice(list(MARKERS))
            _set(body, path, f"@{marker}@")
            name += f"{marker} at {'.'.join(path)}"
        elif kind == 4:
            depth = rng.choice([100, 1000, 5000, 50_000])
            path = rng.choice(anywhere)
            raw = _encode(body)
            # nest inside a known field's value: the parser must refuse, not recurse to death
            _set(body, path, "@DEEP@")
            raw = _encode(body).replace(b'"@DEEP@"', b"[" * depth + b"]" * depth)
            cases.append(Case(name + f"nesting {depth} at {'.'.join(path)}", raw, None))
            continue
        elif kind == 5:
            path = rng.choice(anywhere)
            _set(body, path, copy.deepcopy(rng.choice(ODD_VALUES)))
            name += f"odd value at {'.'.join(path)}"
        elif kind == 6:
            raw = _encode(body)
            cut = rng.randrange(1, len(raw) - 1)
            cases.append(Case(name + f"truncated at {cut}", raw[:cut], None))
            continue
        elif kind == 7:
            signature = rng.choice(
                ["é" * 40, "☃", "0" * 39 + "ж", "\u202e" + "a" * 39, "🙂" * 10]
            ).encode("utf-8")
            name += "non-ASCII signature"
        elif kind == 8:
            signature = rng.choice(["", "0" * 40, "zz", "a" * 4000])
            name += "wrong signature"
        elif kind == 9:
            body["account_id"] = rng.choice([str(uuid.uuid4()), "other", ACCOUNT.upper()])
            name += "another account"
        elif kind == 10:
            raw = rng.choice([b"[]", b'"x"', b"1", b"null", b"true", b"{}", b"", b"\xff\xfe"])
            cases.append(Case(name + f"not an object {raw!r}", raw, None))
            continue
        elif kind == 11:
            scope = rng.choice(
                ["x" * 161, "x" * 5000, "nope", "\u0430" * 10, "%00", "a%00b", "%ED%A0%80", "%FF"]
            )
            name += "unknown scope"
        elif kind == 12:
            raw = _encode(body).replace(b"{", b"{\x00", 1)
            cases.append(Case(name + "raw NUL byte", raw, None))
            continue
        else:
            path = rng.choice(strings)
            odd = rng.choice(["\u2028", "\u202e", "𝔘𝔫𝔦", " ", "\t\n", "' OR 1=1"])
            _set(body, path, f"{odd}{n}")
            name += f"odd but valid text at {'.'.join(path)}"
        cases.append(Case(name, _encode(body, ascii_only=ascii_only), signature, scope))
    return cases


@pytest.fixture
async def fuzz_target(database_url: str, tmp_path: Path) -> AsyncIterator[Connected]:
    async with running_bridge(tmp_path, database_url=database_url, **FAST_RETRY) as bridge:
        connected = await connect(bridge)
        # Receipt alone is under test: deliveries would only add noise to the job counts.
        await bridge.container.worker.stop()
        yield connected


async def test_fuzzed_hooks_get_4xx_and_every_signed_one_is_kept(
    fuzz_target: Connected,
) -> None:
    connected = fuzz_target
    secret = connected.bridge.settings.channel_secret.get_secret_value()
    cases = generate(random.Random(SEED), str(uuid.uuid4()), connected.conversation_id())
    assert len(cases) >= 200
    answers: dict[int, list[str]] = {}
    signed_refused = stored = 0
    async with httpx.AsyncClient(timeout=30) as client:
        for case in cases:
            signature = case.signature
            if signature is None:
                signature = sign_hook(secret, case.body)
            url = f"{connected.bridge.bridge_url}/amojo/webhook/{case.scope or connected.scope_id}"
            headers: dict[str, str | bytes] = {"Content-Type": "application/json"}
            headers["X-Signature"] = signature
            answer = await client.post(url, content=case.body, headers=headers)
            answers.setdefault(answer.status_code, []).append(case.name)
            assert answer.status_code < 500, (case.name, answer.text)
            if answer.status_code in (400, 422):
                assert answer.json()["error"], case.name
                if case.signature is None and case.scope is None:
                    signed_refused += 1
            elif answer.status_code == 200:
                stored += 1
    # Every kind of case got its expected answer at least once.
    assert {200, 400, 401, 403, 404, 422} <= set(answers), sorted(answers)
    assert all("signature" in name for name in answers[401])
    assert all("account" in name for name in answers[403])
    assert all("scope" in name for name in answers[404])

    def counted(result: str) -> int:
        registry = connected.bridge.container.metrics.registry
        value = registry.get_sample_value("bridge_amojo_hooks_total", {"result": result})
        return int(value or 0)

    # 200 means stored, or dropped as a stale typing/reaction (a "time" of 0 or 1).
    assert counted("stored") + counted("stale") == stored
    assert counted("duplicate") == 0
    async with connected.bridge.container.store.read() as uow:
        jobs = list((await uow.session.execute(select(Job))).scalars())
    rejected = [job for job in jobs if job.kind == "rejected_hook"]
    hooks = [job for job in jobs if job.kind == "process_amojo_hook"]
    # Nothing but what was answered: 200 → one job each, signed 4xx → one rejected each;
    # unsigned, wrong-account and unknown-scope hooks left no row at all.
    assert len(hooks) == counted("stored")
    assert len(rejected) == signed_refused == len(answers[400]) + len(answers[422])
    for job in rejected:
        assert job.status == JobStatus.FAILED and job.last_error
        assert job.connection_id == connected.connection.id
        assert isinstance(job.payload["raw"], str) and "\x00" not in job.payload["raw"]
    [row] = await connected.bridge.container.accounts.status()
    assert row.failed == len(rejected)
