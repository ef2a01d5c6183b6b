package app

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/slotline/slotline/internal/password"
)

// maxPassword bounds the password read by operator hash.
const maxPassword = 1024

// operatorCmd runs "slotline operator hash": it reads a password from
// stdin (without echo when stdin is a terminal; one line when piped) and
// prints its argon2id PHC string, for the password_hash of an operator.
func operatorCmd(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "hash" {
		fmt.Fprintln(stderr, "Usage: slotline operator hash   (reads the password from stdin, prints its argon2id hash)")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return errHelp
		}
		return &usageError{"operator needs the subcommand hash"}
	}
	fs := flag.NewFlagSet("operator hash", flag.ContinueOnError)
	setUsage(fs, "operator hash", "Reads a password from stdin (no echo on a terminal; the first line when piped)\nand prints its argon2id hash for operators[].password_hash.")
	if err := parseFlags(fs, args[1:], stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{"operator hash takes no arguments: the password is read from stdin"}
	}
	pw, err := readPassword(stdin, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, password.New(pw))
	return nil
}

// readPassword reads one password: from a terminal without echo (with a
// prompt on stderr), else the first line of stdin.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if stdin == nil {
		return "", errors.New("operator hash: no stdin to read the password from")
	}
	var pw string
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("operator hash: read the password: %w", err)
		}
		pw = string(b)
	} else {
		line, err := bufio.NewReaderSize(io.LimitReader(stdin, maxPassword+2), maxPassword+2).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("operator hash: read the password: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	switch {
	case pw == "":
		return "", errors.New("operator hash: the password is empty")
	case len(pw) > maxPassword:
		return "", fmt.Errorf("operator hash: the password is longer than %d bytes", maxPassword)
	}
	return pw, nil
}
