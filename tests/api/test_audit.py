"""The hash-chained audit log: tamper detection, concurrency, redaction."""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from desk.audit import AuditLog, verify_file
from desk.commands import audit_verify
from desk.settings import Settings

MakeAccount = Callable[..., dict[str, str]]


class Args:
    def __init__(self, file: str | None = None) -> None:
        self.file = file


def _traffic(client: TestClient, make_account: MakeAccount) -> None:
    headers = make_account(client, "alice", "customer", "cust-a")
    for i in range(3):
        client.post("/support/request", json={"message": f"hello {i}"}, headers=headers)
    client.post("/auth/token", data={"username": "alice", "password": "wrong"})
    client.app.state.audit.flush()  # type: ignore[attr-defined]  # the database copy follows the file in batches


def test_chain_verifies_and_matches_the_database(
    client: TestClient, make_account: MakeAccount, settings: Settings
) -> None:
    _traffic(client, make_account)
    assert audit_verify(Args(), settings) == 0
    lines = settings.audit_log_file.read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, len(lines) + 1))


def test_edited_line_detected(client: TestClient, make_account: MakeAccount, settings: Settings) -> None:
    _traffic(client, make_account)
    lines = settings.audit_log_file.read_text().splitlines()
    lines[1] = lines[1].replace('"cust-a"', '"cust-b"')
    settings.audit_log_file.write_text("\n".join(lines) + "\n")
    result = verify_file(settings.audit_log_file)
    assert not result.ok and result.line == 2 and "edited" in (result.problem or "")
    assert audit_verify(Args(), settings) == 1


def test_deleted_line_detected(client: TestClient, make_account: MakeAccount, settings: Settings) -> None:
    _traffic(client, make_account)
    lines = settings.audit_log_file.read_text().splitlines()
    settings.audit_log_file.write_text("\n".join(lines[:1] + lines[2:]) + "\n")
    result = verify_file(settings.audit_log_file)
    assert not result.ok and result.line == 2 and "chain broken" in (result.problem or "")


def test_truncated_tail_detected_through_the_database(
    client: TestClient, make_account: MakeAccount, settings: Settings
) -> None:
    _traffic(client, make_account)
    lines = settings.audit_log_file.read_text().splitlines()
    settings.audit_log_file.write_text("\n".join(lines[:-1]) + "\n")
    assert verify_file(settings.audit_log_file).ok  # the file alone cannot tell
    assert audit_verify(Args(), settings) == 1


def test_concurrent_writers_threads(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.log")
    threads = [threading.Thread(target=lambda: [log.record("t", n=i) for i in range(50)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = verify_file(tmp_path / "audit.log")
    assert result.ok and result.entries == 400


def _write_many(path: str) -> None:
    log = AuditLog(Path(path))
    for i in range(100):
        log.record("p", n=i)


def test_concurrent_writers_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "audit.log")
    procs = [multiprocessing.get_context("spawn").Process(target=_write_many, args=(path,)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    result = verify_file(Path(path))
    assert result.ok and result.entries == 300


def test_no_message_text_emails_or_card_numbers_in_any_log(
    client: TestClient, make_account: MakeAccount, settings: Settings
) -> None:
    headers = make_account(client, "alice", "customer", "cust-a")
    secret_text = "my card 4111 1111 1111 1111 and mail jane@example.com please refund"
    client.post("/support/request", json={"message": secret_text}, headers=headers)
    client.post("/auth/token", data={"username": "jane@example.com", "password": "pw"})
    client.app.state.audit.record("probe", note="write to 5500-0000-0000-0004 or x@y.org")  # type: ignore[attr-defined]
    for path in (settings.audit_log_file, settings.log_file):
        text = path.read_text()
        for leak in ("jane@example.com", "4111 1111", "5500-0000", "x@y.org", "please refund"):
            assert leak not in text, (path, leak)
    assert "[email]" in settings.audit_log_file.read_text()
