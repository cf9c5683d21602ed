// Package store is spacetime-watch's embedded database: deployments, check
// history, rule state, a small key-value space, the notification outbox,
// and for the post-deployment reviews per-minute rollups and delivery
// markers, kept in one bbolt file under --state.dir.
//
// The package sits at the bottom of the house: it imports no other internal
// package and does not log. Whatever the daemon must know about opening the
// state (a damaged file set aside, a backup restored) comes back as an
// [OpenReport] for the caller to log, count and alert on.
//
// # Files in the state dir
//
//	state.db               the database (mode 0600; the dir is created 0700)
//	state.lock             held with flock(2) while a Store is open; holds the holder's PID
//	state.db.bak           the last good copy, written by [Store.Backup]
//	state.db.corrupt-<unix> a damaged state.db set aside, at open or while running; never deleted by the store
//
// # Guarantees
//
// Every write method commits one bbolt transaction and returns after it is
// fsynced: a crash (SIGKILL, power loss) leaves either all of a call's
// changes or none. A damaged file is caught at [Open], not on the first
// read: Open reads the whole file (every bucket, key and value) with memory
// faults and panics turned into errors, checks the schema version, runs
// bbolt's consistency check, and sets a file that fails aside. It then
// restores state.db.bak when that copy passes the same checks and starts
// empty otherwise. Open fails only for reasons a restart cannot fix on its
// own (the dir is locked by another process, is not writable, the disk
// refuses writes), so damaged state never makes the daemon crash-loop.
//
// Damage after Open (a failing disk, a stray writer) never crashes the
// daemon either: every transaction runs under the same guard, and a page
// bbolt panics or faults on sets the file aside while the store stays open.
// The store continues on a fresh state.db holding the outbox messages it
// could still read, the call that found the damage fails with [ErrDamaged],
// and [Store.OnRecovered] tells the owner, who should count it, raise an
// operator alert and not re-announce what it can no longer tell was
// announced. Callers hold a *Store, never a *bolt.DB, so none is left on
// the damaged file.
//
// Methods take no context.Context: a bbolt transaction here is short and
// cannot be interrupted mid-commit anyway. All methods are safe for
// concurrent use; bbolt serialises writers and lets readers run alongside.
package store
