package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/storage"
)

// sqliteFile is the file of a sqlite: database ("", false for PostgreSQL).
func sqliteFile(dsn string) (string, bool) {
	rest, ok := strings.CutPrefix(dsn, "sqlite:")
	if !ok {
		return "", false
	}
	file, _, _ := strings.Cut(rest, "?")
	return file, true
}

// pgDumpHint is what backup and restore say of a PostgreSQL database.
const pgDumpHint = "the database is PostgreSQL: back it up with pg_dump --format=custom --file=slotline.dump DSN, " +
	"and restore with pg_restore --clean --if-exists --dbname=DSN slotline.dump while no slotline process runs (docs/operations.md)"

// backupCmd runs "slotline backup --to FILE": a consistent copy of the
// SQLite database, made while the server runs, then checked.
func backupCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	var st settings
	st.register(fs, false)
	to := fs.String("to", "", "the backup `file` to write (required; must not exist)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: slotline backup --to FILE [--config FILE | --db sqlite:PATH]\n\nCopies the SQLite database, consistently, while the server runs, and checks the copy.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if *to == "" || fs.NArg() > 0 {
		return &usageError{"backup needs --to FILE and no arguments"}
	}
	cfg, _, err := st.load(getenv, false)
	if err != nil {
		return err
	}
	if _, ok := sqliteFile(cfg.Database); !ok {
		return errors.New("backup: " + pgDumpHint)
	}
	store, err := storage.Connect(ctx, cfg.Database, storage.Options{MustExist: true})
	if err != nil {
		return err
	}
	defer store.Close()
	start := time.Now()
	if err := store.BackupTo(ctx, *to); err != nil {
		return err
	}
	c, err := checkFile(ctx, *to)
	if err != nil {
		return fmt.Errorf("backup: the copy %s does not check: %w", *to, err)
	}
	fi, err := os.Stat(*to)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up %d reservations (schema %s) to %s: %d bytes in %s\n",
		c.Reservations, last(c.Applied), *to, fi.Size(), time.Since(start).Round(time.Millisecond))
	return nil
}

// checkFile opens a SQLite file read-only and checks it.
func checkFile(ctx context.Context, file string) (*storage.Check, error) {
	st, err := storage.Connect(ctx, "sqlite:"+file, storage.Options{MustExist: true})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	c, err := st.CheckDatabase(ctx)
	if err != nil {
		return nil, err
	}
	if c.Integrity != "ok" {
		return nil, fmt.Errorf("integrity check: %s", c.Integrity)
	}
	return c, nil
}

func last(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return s[len(s)-1]
}

// restoreCmd runs "slotline restore --from FILE": it checks the backup
// (integrity, a Slotline schema no newer than this binary's), refuses
// while any slotline process uses the database, moves the current file
// (and its WAL) aside as FILE.before-restore-TIME, and puts a copy of the
// backup in its place.
func restoreCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	var st settings
	st.register(fs, false)
	from := fs.String("from", "", "the backup `file` to restore (required)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: slotline restore --from FILE [--config FILE | --db sqlite:PATH]\n\nReplaces the SQLite database by a backup; the current file is kept beside it.\nRefused while a slotline process uses the database.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if *from == "" || fs.NArg() > 0 {
		return &usageError{"restore needs --from FILE and no arguments"}
	}
	cfg, _, err := st.load(getenv, false)
	if err != nil {
		return err
	}
	target, ok := sqliteFile(cfg.Database)
	if !ok {
		return errors.New("restore: " + pgDumpHint)
	}
	c, err := checkFile(ctx, *from)
	if err != nil {
		return fmt.Errorf("restore: %s is not a usable backup: %w", *from, err)
	}
	if len(c.Unknown) > 0 {
		return fmt.Errorf("restore: %s was made by a newer Slotline (migrations %s): restore it with that version", *from, strings.Join(c.Unknown, ", "))
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	unlock, ok, err := lockDatabase(target, true)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("restore: a slotline process is using %s: stop it first", target)
	}
	defer unlock()
	// The backup's copy beside the target, then the swap.
	tmp := filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".restoring")
	if err := copyFile(*from, tmp); err != nil {
		return err
	}
	aside := ""
	if fi, err := os.Stat(target); err == nil && fi.Size() > 0 {
		aside = target + ".before-restore-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Rename(target, aside); err != nil {
			return err
		}
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if aside != "" {
			if err := os.Rename(target+suffix, aside+suffix); err != nil && !errors.Is(err, iofs.ErrNotExist) {
				return err
			}
		} else if err := os.Remove(target + suffix); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(tmp, target); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(target)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %d reservations (schema %s) from %s into %s\n", c.Reservations, last(c.Applied), *from, target)
	if aside != "" {
		fmt.Fprintf(stdout, "the previous database is kept as %s\n", aside)
	}
	if !lockChecked {
		fmt.Fprintln(stdout, "note: on this platform restore cannot tell whether a server was running: start it only now")
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	_ = d.Sync() // not every file system syncs directories
	return nil
}
