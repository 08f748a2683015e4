# Stores events in nostr-relay 1.14's SQLite file the way its DBStorage.add_event stores one
# (validators, pre_save, INSERT OR IGNORE, post_save with process_tags), with the same SQL, but
# in one transaction: over its WebSocket it takes ~3 ms an event (one transaction and a dozen
# SQLAlchemy round trips each), 20,000 events a minute. Same statements through the same
# sqlite3 library as the relay's, in the same order, so it keeps and replaces what it would
# have kept and replaced had the events been published one by one (including its quirks: an
# older version arriving after a newer one is kept beside it). Signatures are checked with the
# relay's own Event.verify. Used by test/helpers/third-party-relays.ts.
#   python python-relay-load.py DB_FILE MAX_EVENT_SIZE OLDEST_EVENT HELLTHREAD_LIMIT < events.jsonl
# prints {"accepted": n, "refused": [[id, reason], ...]}
import json
import sqlite3
import sys
import time

from aionostr.event import Event
from nostr_relay.util import json_dumps

db_file, max_event_size, oldest_event, hellthread_limit = sys.argv[1], *map(int, sys.argv[2:5])
db = sqlite3.connect(db_file, isolation_level=None)
db.execute("PRAGMA journal_mode = wal")
db.execute("PRAGMA foreign_keys = ON")


def refusal(event):
    """nostr_relay.validators: is_not_too_large, is_signed, is_recent, is_not_hellthread."""
    if len(event.content) > max_event_size:
        return "invalid: 280 characters should be enough for anybody"
    if not event.verify():
        return "invalid: Bad signature"
    if (time.time() - event.created_at) > oldest_event:
        return f"invalid: {event.created_at} is too old"
    if (time.time() - event.created_at) < -3600:
        return f"invalid: {event.created_at} is in the future"
    if hellthread_limit and event.kind in (1, 7):
        num_tags = len([t for t in event.tags if t[0] == "p"])
        if num_tags > hellthread_limit:
            return f"rejected: too many 'p' tags: {num_tags}. limit: {hellthread_limit}"
    return None


def pre_save(event):
    """DBStorage.pre_save: delete one older version (the first row SQLite returns)."""
    if not (event.is_replaceable or event.is_paramaterized_replaceable):
        return
    rows = db.execute(
        "SELECT events.id, events.created_at, events.tags FROM events "
        "WHERE events.pubkey = ? AND events.kind = ? AND events.created_at < ?",
        (bytes.fromhex(event.pubkey), event.kind, event.created_at),
    ).fetchall()
    delete_id = None
    if event.is_paramaterized_replaceable:
        d_tag = ""
        for tag in event.tags:
            if tag[0] == "d":
                if len(tag) > 1:
                    d_tag = tag[1]
                break
        for old_id, _created_at, tags in rows:
            tags = json.loads(tags)
            found_tag = [tag for tag in tags if tag[0] == "d"]
            if not d_tag:
                if not found_tag or len(found_tag[0]) == 1 or found_tag[0][1] == "":
                    delete_id = old_id
                    break
            else:
                tag = found_tag[0]
                if len(tag) > 1 and tag[1] == d_tag:
                    delete_id = old_id
                    break
    elif rows:
        delete_id = rows[0][0]
    if delete_id:
        db.execute("DELETE FROM events WHERE events.id = ?", (delete_id,))


def post_save(event):
    """DBStorage.post_save and process_tags."""
    if event.kind in (0, 3):
        db.execute(
            "DELETE FROM events WHERE events.pubkey = ? AND events.kind = ? AND events.created_at < ?",
            (bytes.fromhex(event.pubkey), event.kind, event.created_at),
        )
    tags = set()
    for tag in event.tags:
        if tag[0] in ("delegation", "expiration"):
            tags.add((tag[0], tag[1]))
        elif len(tag[0]) == 1:
            tags.add((tag[0], tag[1] if len(tag) > 1 else ""))
    if tags:
        db.executemany(
            "INSERT OR IGNORE INTO tags (id, name, value) VALUES (?, ?, ?)",
            [(event.id_bytes, name, value) for name, value in tags],
        )
    if event.kind == 5:
        for tag in event.tags:
            if tag[0] == "e":
                db.execute(
                    "DELETE FROM events WHERE events.pubkey = ? AND events.id = ?",
                    (bytes.fromhex(event.pubkey), bytes.fromhex(tag[1])),
                )


accepted, refused = 0, []
db.execute("BEGIN")
for line in sys.stdin:
    if not line.strip():
        continue
    event = Event(**json.loads(line))
    reason = refusal(event)
    if reason:
        refused.append([event.id, reason])
        continue
    pre_save(event)
    inserted = db.execute(
        "INSERT OR IGNORE INTO events (id, created_at, kind, pubkey, tags, sig, content) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (event.id_bytes, event.created_at, event.kind, bytes.fromhex(event.pubkey), json_dumps(event.tags), bytes.fromhex(event.sig), event.content),
    )
    if inserted.rowcount == 1:
        post_save(event)
    accepted += 1
db.execute("COMMIT")
print(json.dumps({"accepted": accepted, "refused": refused}))
