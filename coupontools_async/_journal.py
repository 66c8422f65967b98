"""The journal of a bulk import: what happened to each row, keyed by the row's content.

A journal is one SQLite file (stdlib ``sqlite3``) with three tables:

- ``meta``: the format version and the *target* (which API host and card the rows went
  to). A journal written for another target is refused: its rows say nothing about this one.
- ``rows``: one record per distinct row content (a 16-byte BLAKE2b fingerprint of the
  fields that are sent), with its status (``pending``, ``sending``, ``created``,
  ``skipped``, ``failed``), the line it came from and the run that wrote it. Keyed by
  content, not by line number: an edited or reordered file, or another file, can never
  have a row counted as done that was not itself done.
- ``keys``: which row claimed each identifying value (a hash of the email, not the
  email), so the same email twice is one user, in one run or across runs.

No field of a row is stored in the clear: rows and keys are 16-byte hashes, with the
line number and status beside them.

One process holds a journal at a time (SQLite's exclusive locking mode, taken when it is
opened and released when it is closed or the process dies); a second gets
:class:`JournalLockedError`. Nothing is read into memory on open: a resume looks each
row up as it comes, so memory stays flat for any size.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import attrs

from .errors import CoupontoolsError

__all__ = ["Journal", "JournalError", "JournalLockedError", "Seen", "fingerprint"]

FORMAT = "coupontools-import-journal/2"
STATUSES = frozenset({"pending", "sending", "created", "skipped", "failed"})
DONE = frozenset({"created", "skipped"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rows (
    fp BLOB PRIMARY KEY, status TEXT NOT NULL, line INTEGER NOT NULL, run INTEGER NOT NULL,
    reason TEXT, id TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS keys (key BLOB PRIMARY KEY, fp BLOB NOT NULL) WITHOUT ROWID;
"""


class JournalError(CoupontoolsError):
    """A journal that cannot be used: not a journal, damaged, or written for another import."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class JournalLockedError(JournalError):
    """Another process is using the journal (two runs of one import at once)."""


def fingerprint(fields: dict[str, Any]) -> bytes:
    """16 bytes identifying a row by what it sends (key order and spacing do not matter)."""
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _key_digest(key: str) -> bytes:
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()


@attrs.frozen
class Seen:
    """What the journal knows about one row content."""

    status: str
    line: int
    run: int
    id: str | None = None
    """The id the server gave the row, when one was recorded before its outcome."""


class Journal:
    """A bulk import's journal (see the module docstring). ``path=None``: a private temporary one.

    Writes go into one open transaction, committed by :meth:`commit` (before a batch is
    sent, and after its outcome), so a crash loses at most what was never sent.
    """

    def __init__(self, path: str | os.PathLike[str] | None, *, target: str) -> None:
        self.path = Path(path) if path is not None else None
        self.target = target
        self.run = 0
        self._db: sqlite3.Connection | None = None

    @property
    def name(self) -> str:
        """The journal's path as text (for messages)."""
        return str(self.path) if self.path is not None else "(temporary journal)"

    # ------------------------------------------------------------------ open/close

    def open(self) -> None:
        """Open (creating it if needed), lock, and check the journal; start a new run."""
        if self.path is not None and self.path.is_dir():
            raise JournalError(f"the journal {self.name} is a directory", path=self.name)
        try:
            # "" is SQLite's private temporary on-disk database: flat memory without a path.
            db = sqlite3.connect(
                str(self.path) if self.path is not None else "",
                timeout=0,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise self._error(exc, "cannot be opened") from None
        self._db = db
        try:
            db.execute("PRAGMA locking_mode=EXCLUSIVE")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            db.execute("BEGIN EXCLUSIVE")  # takes the lock now, held until close
            self._check_meta()
            row = db.execute("SELECT COALESCE(MAX(run), 0) FROM rows").fetchone()
            self.run = int(row[0]) + 1
            self.commit()
        except sqlite3.OperationalError as exc:
            self._close_quietly()
            if "locked" in str(exc) or "busy" in str(exc):
                raise JournalLockedError(
                    f"the journal {self.name} is in use by another import; wait for it to "
                    "finish (two runs of one import at once would send rows twice)",
                    path=self.name,
                ) from None
            raise self._error(exc, "cannot be read") from None
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise self._error(exc, "is not a journal, or is damaged") from None
        except BaseException:
            self._close_quietly()
            raise

    def _check_meta(self) -> None:
        meta = dict(self._q("SELECT name, value FROM meta").fetchall())
        if not meta:
            if self._q("SELECT 1 FROM rows LIMIT 1").fetchone() is not None:
                raise JournalError(
                    f"the journal {self.name} has rows but no header", path=self.name
                )
            self._q("INSERT INTO meta VALUES ('format', ?), ('target', ?)", (FORMAT, self.target))
            return
        if meta.get("format") != FORMAT:
            raise JournalError(
                f"the journal {self.name} has an unknown format ({meta.get('format')!r})",
                path=self.name,
            )
        if meta.get("target") != self.target:
            raise JournalError(
                f"the journal {self.name} belongs to another import ({meta.get('target')}, "
                f"not {self.target}): use another journal",
                path=self.name,
            )

    def close(self) -> None:
        """Commit what is written, release the lock and close."""
        if self._db is None:
            return
        try:
            self.commit()
        finally:
            self._close_quietly()

    def _close_quietly(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            # Closing after a failure: the first error is the one to tell.
            with contextlib.suppress(sqlite3.Error):
                db.close()

    def commit(self) -> None:
        """Make everything written so far durable (and start the next transaction)."""
        db = self._require()
        try:
            if db.in_transaction:
                db.execute("COMMIT")
            db.execute("BEGIN")
        except sqlite3.Error as exc:
            raise self._error(exc, "cannot be written") from None

    # ------------------------------------------------------------------ records

    def lookup(self, fp: bytes) -> Seen | None:
        """What is known about this row content, or None."""
        found = self._q("SELECT status, line, run, id FROM rows WHERE fp = ?", (fp,)).fetchone()
        if found is None:
            return None
        return self._seen(found)

    def _seen(self, found: tuple[Any, ...]) -> Seen:
        status, line, run, *rest = found
        if status not in STATUSES or not isinstance(line, int) or not isinstance(run, int):
            raise JournalError(
                f"the journal {self.name} has an unreadable record (line {line!r}, "
                f"status {status!r}): it was changed by hand or is damaged",
                path=self.name,
            )
        return Seen(status, line, run, rest[0] if rest else None)

    def claim_key(self, key: str, fp: bytes) -> Seen | None:
        """Let ``fp`` own ``key``, or say which row owns it (None: ``fp`` owns it now).

        A key held by a row that failed, or that an earlier run never sent, is taken over:
        that row is not on the server.
        """
        digest = _key_digest(key)
        owner = self._q("SELECT fp FROM keys WHERE key = ?", (digest,)).fetchone()
        if owner is not None and owner[0] != fp:
            seen = self.lookup(owner[0])
            never_sent = seen is not None and seen.status == "pending" and seen.run != self.run
            if seen is not None and seen.status != "failed" and not never_sent:
                return seen
        self._q("INSERT OR REPLACE INTO keys VALUES (?, ?)", (digest, fp))
        return None

    def take_key(self, key: str, fp: bytes) -> None:
        """Let ``fp`` own ``key`` whoever held it."""
        self._q("INSERT OR REPLACE INTO keys VALUES (?, ?)", (_key_digest(key), fp))

    def mark(self, fps: list[tuple[bytes, int]], status: str, *, reason: str | None = None) -> None:
        """Record ``status`` for these (fingerprint, line) rows, in this run."""
        self._require().executemany(
            "INSERT INTO rows VALUES (?, ?, ?, ?, ?, NULL) ON CONFLICT (fp) DO UPDATE SET "
            "status = excluded.status, line = excluded.line, run = excluded.run, "
            "reason = excluded.reason",
            [(fp, status, line, self.run, reason) for fp, line in fps],
        )

    def remember_id(self, fp: bytes, server_id: str) -> None:
        """Record the id the server gave a row still in flight (committed at once)."""
        self._q("UPDATE rows SET id = ? WHERE fp = ?", (server_id, fp))
        self.commit()

    # ------------------------------------------------------------------ plumbing

    def _require(self) -> sqlite3.Connection:
        if self._db is None:
            raise JournalError(f"the journal {self.name} is not open", path=self.name)
        return self._db

    def _q(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        try:
            return self._require().execute(sql, args)
        except sqlite3.DatabaseError as exc:
            raise self._error(exc, "cannot be read") from None

    def _error(self, exc: sqlite3.Error, what: str) -> JournalError:
        return JournalError(f"the journal {self.name} {what}: {exc}", path=self.name)
